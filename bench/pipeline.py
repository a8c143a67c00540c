"""End-to-end pipeline measurements on the real broker and store: the four services run as
separate processes (as in `make run`), appeals go in through the channel topics, and an
outside consumer watches for the last step of each appeal.

"Done" for one appeal = registered, routed, its answer timer started, and its citizen
registration notification recorded (the notification outcome is the last of these).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import Call1414Appeal, deterministic_id, topics
from reference.agencies import AgencyRegistry
from services.common.kafka_auth import ADMIN, identity_for
from services.common.provisioning import prepare_prefix
from services.common.topics_admin import planned_topics, remove_prefixed
from services.intake.validation import iin_problem

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "routing", "sla", "notify")
KATO_SAMPLE = ("711210000", "751110000", "791010000", "551010000", "351010000")
TOPIC_CODES = ("utilities.heating", "health", "education", "roads", "transport.public")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServices:
    prefix: str
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def pid(self, name: str) -> int:
        return self.processes[name].pid


def service_env(bootstrap: str, mongodb_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a service process under the bench's topic/database prefix."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MONGODB_URL": mongodb_url,
        "TYNDAU_TOPIC_PREFIX": prefix,
        "TYNDAU_DATABASE_PREFIX": prefix,
        "TYNDAU_LOG_LEVEL": "WARNING",
        **extra,
    }


def percentiles(seconds: list[float], unit: str = "ms") -> dict[str, float]:
    """p50/p95/p99/max (nearest rank) of samples given in seconds, in milliseconds (`ms`) or
    in seconds rounded to the millisecond (`s`)."""
    if not seconds:
        return {}
    ordered = sorted(seconds)

    def scaled(value: float) -> float:
        return value * 1000 if unit == "ms" else round(value, 3)

    def pick(q: float) -> float:
        # Nearest rank: the smallest sample with at least q of all samples at or below it.
        return scaled(ordered[max(0, math.ceil(q * len(ordered)) - 1)])

    return {
        f"p50_{unit}": pick(0.5),
        f"p95_{unit}": pick(0.95),
        f"p99_{unit}": pick(0.99),
        f"max_{unit}": scaled(ordered[-1]),
    }


def spawn_service(
    name: str, env: dict[str, str], log: Path, append: bool = False
) -> subprocess.Popen:
    """`python -m services.<name>` from the repository, its output to `log`."""
    with log.open("a" if append else "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def current_commit() -> str:
    """The short hash of HEAD: what a run measured."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()


def proc_status_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory field of /proc/<pid>/status in MB: VmRSS now, VmHWM the peak so far."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_healthy(url: str, process: subprocess.Popen, deadline: float, log: Path) -> None:
    """Until `url`/health answers 200; fails if the process exits or time runs out."""
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{log.name} did not become healthy; see {log}.log")
        time.sleep(0.3)


@contextmanager
def services_as_processes(
    bootstrap: str,
    mongodb_url: str,
    log_dir: Path,
    only: tuple[str, ...] = SERVICES,
    prefix: str | None = None,
) -> Iterator[RunningServices]:
    """Start `only` (default all four) as processes on a fresh topic/database prefix (or
    `prefix`, whose topics and databases the caller may have prepared); remove everything
    under the prefix when done."""
    prefix = prefix or f"bench{uuid.uuid4().hex[:6]}-"
    asyncio.run(prepare_prefix(bootstrap, planned_topics(AgencyRegistry.default().by_code), prefix))
    running = RunningServices(prefix, {name: free_port() for name in only})
    env = service_env(
        bootstrap, mongodb_url, prefix, INTAKE_API_KEYS="bench:bench-gateway-key-0001"
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for name in only:
            env[f"{name.upper()}_PORT"] = str(running.ports[name])
            running.processes[name] = spawn_service(name, env, log_dir / f"{name}.log")
        deadline = time.monotonic() + 60
        for name, port in running.ports.items():
            wait_healthy(
                f"http://127.0.0.1:{port}", running.processes[name], deadline, log_dir / name
            )
        yield running
    finally:
        stop_processes(running.processes.values(), timeout=20)
        asyncio.run(remove_prefixed(bootstrap, mongodb_url, prefix))


def stop_processes(processes: Iterable[subprocess.Popen], timeout: float) -> None:
    """SIGTERM to every process still running, then SIGKILL to any that has not exited
    within `timeout` seconds of it."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def citizen_iin(rng: random.Random) -> str:
    """A valid IIN of a citizen born 1950-1999: birth date, century digit, a serial number,
    and the first check digit that intake's validator accepts (one in eleven prefixes has
    none; then another serial is drawn)."""
    while True:
        born = datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        prefix = f"{born:%y%m%d}{rng.choice('34')}{rng.randrange(10_000):04d}"
        for check in "0123456789":
            if iin_problem(prefix + check) is None:
                return prefix + check


def call_centre():
    """The load generator sends as the 1414 call centre (its principal writes only its
    channel topic); it watches the pipeline as the operator (admin)."""
    return identity_for("channel-1414")


def call_1414(call_id: str, rng: random.Random) -> dict:
    """The 1414 contract's example, taken a minute ago, varied in caller, language, kind,
    topic and place so routing and notify take their different paths. Each call has its own
    caller: real traffic comes from many citizens, and intake keeps a repeat history per
    applicant, so one shared IIN would serialise every appeal on that history."""
    caller = Call1414Appeal.example_payload()["caller"] | {
        "iin": citizen_iin(rng),
        "phone": f"+7701{rng.randrange(10_000_000):07d}",
    }
    return Call1414Appeal.example_payload(
        call_id=call_id,
        caller=caller,
        call_started_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        operator_login="op.bench",
        lang=rng.choice(("kk", "ru")),
        appeal_type=rng.choice(("ZHALOBA", "ZAYAVLENIE", "ZAPROS")),
        topic_code=rng.choice(TOPIC_CODES),
        kato_code=rng.choice(KATO_SAMPLE),
    )


class Completion:
    """Watches the last topics of the pipeline and records when each appeal reached each."""

    STEPS = {
        topics.APPEALS_ROUTED: "routed",
        topics.SLA_EVENTS: "timer",
        topics.NOTIFICATION_OUTCOMES: "notified",
    }

    def __init__(self, bootstrap: str, prefix: str, expected: set[str]) -> None:
        self.prefix = prefix
        self.expected = expected
        self.reached: dict[str, dict[str, float]] = {step: {} for step in self.STEPS.values()}
        self.consumer = AIOKafkaConsumer(
            *(prefix + t for t in self.STEPS),
            bootstrap_servers=bootstrap,
            **identity_for(ADMIN).aiokafka(),
            auto_offset_reset="latest",
            enable_auto_commit=False,
            group_id=f"{prefix}bench-watch",
            max_poll_records=5000,
        )

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():  # noqa: ASYNC110 - be assigned before sending
            await asyncio.sleep(0.1)
        await self.consumer.seek_to_end()

    async def run_until_done(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=500, max_records=5000)
            now = time.perf_counter()
            for tp, records in batch.items():
                step = self.STEPS[tp.topic.removeprefix(self.prefix)]
                for record in records:
                    event = json.loads(record.value)
                    appeal = event.get("appeal_id")
                    if appeal in self.expected:
                        if step == "notified" and event.get("template") != "appeal_registered":
                            continue
                        self.reached[step].setdefault(appeal, now)
            if all(len(r) >= len(self.expected) for r in self.reached.values()):
                return True
        return False

    def done_at(self) -> dict[str, float]:
        """Moment each appeal finished every step."""
        return {
            appeal: max(self.reached[step][appeal] for step in self.reached)
            for appeal in self.expected
            if all(appeal in self.reached[step] for step in self.reached)
        }

    async def stop(self) -> None:
        await self.consumer.stop()


async def throughput(
    bootstrap: str, prefix: str, appeals: int, timeout: float, round_no: int = 0
) -> dict:
    """`appeals` calls as fast as the broker takes them, until every one has gone all the way;
    each round (`round_no`) sends calls of its own."""
    rng = random.Random(7 + round_no)
    calls = [call_1414(f"tp{round_no}-{prefix}{i}", rng) for i in range(appeals)]
    ids = {deterministic_id("appeal", "1414", c["call_id"]) for c in calls}
    watcher = Completion(bootstrap, prefix, ids)
    await watcher.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, **call_centre().aiokafka()
    )
    await producer.start()
    start = time.perf_counter()
    watch = asyncio.create_task(watcher.run_until_done(timeout))
    try:
        pending = []
        for call in calls:
            pending.append(
                await producer.send(
                    prefix + topics.CHANNEL_1414,
                    json.dumps(call).encode(),
                    key=call["call_id"].encode(),
                )
            )
        await asyncio.gather(*pending)
        published_s = time.perf_counter() - start
        finished = await watch
    finally:
        await producer.stop()
        await watcher.stop()
    done = watcher.done_at()
    elapsed = (max(done.values()) - start) if done else float("nan")
    return {
        "appeals": appeals,
        "completed": len(done),
        "all_completed": finished,
        "publish_seconds": published_s,
        "seconds": elapsed,
        "appeals_per_s": len(done) / elapsed if done else 0.0,
    }


async def latency(bootstrap: str, prefix: str, rate: float, seconds: float) -> dict:
    rng = random.Random(11)
    total = int(rate * seconds)
    calls = [call_1414(f"lat-{prefix}{i}", rng) for i in range(total)]
    by_id = {deterministic_id("appeal", "1414", c["call_id"]): c for c in calls}
    watcher = Completion(bootstrap, prefix, set(by_id))
    await watcher.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=0, **call_centre().aiokafka()
    )
    await producer.start()
    sent_at: dict[str, float] = {}
    watch = asyncio.create_task(watcher.run_until_done(seconds + 60))
    try:
        start = time.perf_counter()
        for i, (appeal_id, call) in enumerate(by_id.items()):
            # Open-loop schedule: each appeal goes at its slot, however slow the system is.
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[appeal_id] = time.perf_counter()
            await producer.send(
                prefix + topics.CHANNEL_1414,
                json.dumps(call).encode(),
                key=call["call_id"].encode(),
            )
        await producer.flush()
        await watch
    finally:
        await producer.stop()
        await watcher.stop()

    return latency_result(rate, seconds, sent_at, watcher.reached)


def latency_result(
    rate: float, seconds: float, sent_at: dict[str, float], reached: dict[str, dict[str, float]]
) -> dict:
    """start → routed and start → notified percentiles of the appeals sent at `sent_at`
    (perf-counter seconds by appeal id), from when each `reached` each step."""

    def spans(step: str) -> list[float]:
        return [reached[step][a] - t for a, t in sent_at.items() if a in reached.get(step, {})]

    routed, notified = spans("routed"), spans("notified")
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "sent": len(sent_at),
        "to_routed": {"count": len(routed), **percentiles(routed)},
        "to_notified": {"count": len(notified), **percentiles(notified)},
    }
