"""HTTP gateway under load: requests/s and latency of `POST /v1/appeals` on intake, on the
real broker and store.

Intake runs alone as its own process (as in `make run`, under a per-run topic and database
prefix, its own API key); the load generator is a second OS process (`python -m bench.gateway
--load …`): an asyncio httpx client keeping N connections busy (closed loop, default 32), each
POSTing a valid gateway appeal built from the contract's documented example
(`HttpGatewayAppeal.example_payload`) with a unique `channel_appeal_id`, an IIN from a pool
of valid ones, and category and KATO varied like the pipeline benchmark. After a warm-up it
counts, for a fixed window, the responses by status (201 expected), requests/s, p50/p95/p99
latency as the client sees it, and the CPU each process used.

This machine has 2 cores: the client, intake, Kafka and FerretDB all compete for them, so the
client's own CPU (reported as `client_cpu_s`) is taken from the service; the figures are a
lower bound for intake on a machine of its own.

    python -m bench.gateway [--quick] [--connections N] [--seconds S] [--warmup W]

prints the figures as JSON; `bench.run` calls `gateway_load` as its fifth stage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.pipeline import (
    REPO,
    free_port,
    percentiles,
    proc_status_mb,
    service_env,
    stop_processes,
    wait_healthy,
)
from contracts import HttpGatewayAppeal
from services.common.provisioning import prepare_prefix
from services.common.topics_admin import planned_topics, remove_prefixed
from services.intake.validation import iin_problem

RUN_DIR = REPO / ".run" / "bench-gateway"
CLIENT = "benchgw"
KEY_ENV = "BENCH_GATEWAY_KEY"  # the key reaches the load process by environment, not argv
KATO_SAMPLE = ("711210000", "751110000", "791010000", "551010000", "351010000")
CATEGORIES = ("utilities.heating", "health", "education", "roads", "transport.public")


@dataclass
class RunningIntake:
    prefix: str
    port: int
    key: str
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def intake_as_process(bootstrap: str, mongodb_url: str, log_dir: Path) -> Iterator[RunningIntake]:
    """Intake alone, under its own prefix, healthy; stopped and its topics and databases
    removed on exit."""
    prefix = f"benchgw{uuid.uuid4().hex[:6]}-"
    key = f"bench-gateway-{uuid.uuid4().hex}"
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    process: subprocess.Popen | None = None
    try:
        # Only the fixed topics: intake neither reads nor writes agency inboxes.
        asyncio.run(prepare_prefix(bootstrap, planned_topics([]), prefix))
        env = service_env(
            bootstrap,
            mongodb_url,
            prefix,
            INTAKE_PORT=str(port),
            INTAKE_API_KEYS=f"{CLIENT}:{key}",
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "services.intake"],
            cwd=REPO,
            env=env,
            stdout=open(log_dir / "intake.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        running = RunningIntake(prefix, port, key, process)
        wait_healthy(running.url, process, time.monotonic() + 60, log_dir / "intake")
        yield running
    finally:
        if process is not None:
            stop_processes([process], timeout=20)
        asyncio.run(remove_prefixed(bootstrap, mongodb_url, prefix))


# --- the load generator (runs in its own process) ------------------------------------------


def valid_iins(count: int, rng: random.Random) -> list[str]:
    """`count` distinct valid IINs (births 1960-1999), so repeats are rare, as in life, and
    no applicant's matter document grows with every request."""
    found: set[str] = set()
    while len(found) < count:
        stem = (
            f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            f"{rng.choice('34')}{rng.randint(0, 9999):04d}"
        )
        for check in "0123456789":
            if iin_problem(stem + check) is None:
                found.add(stem + check)
                break
    return sorted(found)


EXAMPLE_APPLICANT = HttpGatewayAppeal.example_payload()["applicant"]


def gateway_body(channel_appeal_id: str, rng: random.Random, iins: list[str]) -> dict:
    """The contract's example, submitted a minute ago, by one of `iins`."""
    return HttpGatewayAppeal.example_payload(
        channel_appeal_id=channel_appeal_id,
        submitted_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        category=rng.choice(CATEGORIES),
        region_kato=rng.choice(KATO_SAMPLE),
        applicant={**EXAMPLE_APPLICANT, "iin": rng.choice(iins)},
    )


async def load(url: str, key: str, connections: int, seconds: float, warmup: float) -> dict:
    """Closed loop: `connections` workers, each POSTing as soon as its last answer came.
    Counted: requests answered inside the window [warm-up end, warm-up end + seconds]."""
    rng = random.Random(5)
    iins = valid_iins(5_000, rng)
    tag = uuid.uuid4().hex[:8]
    done: list[tuple[float, float, int | str]] = []  # (sent, answered, status or error)
    start = time.perf_counter()
    window_start = start + warmup
    window_end = window_start + seconds

    async def worker(n: int) -> None:
        # One client (one keep-alive connection) per worker: a single pool shared by all
        # workers costs the client CPU that grows with the number of connections.
        async with httpx.AsyncClient(
            base_url=url,
            headers={"X-API-Key": key},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=httpx.Timeout(30.0),
        ) as client:
            i = 0
            while time.perf_counter() < window_end:
                body = gateway_body(f"GW-{tag}-{n}-{i}", rng, iins)
                i += 1
                sent = time.perf_counter()
                try:
                    response = await client.post("/v1/appeals", json=body)
                    outcome: int | str = response.status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                done.append((sent, time.perf_counter(), outcome))

    tasks = [asyncio.create_task(worker(n)) for n in range(connections)]
    await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
    cpu_before = time.process_time()
    await asyncio.gather(*tasks)
    cpu_after = time.process_time()

    counted = [(s, a, o) for s, a, o in done if window_start <= a <= window_end]
    statuses = Counter(str(o) for _, _, o in counted)
    created = [a - s for s, a, o in counted if o == 201]
    return {
        "connections": connections,
        "warmup_s": warmup,
        "seconds": seconds,
        "requests": len(counted),
        "requests_per_s": len(counted) / seconds,
        "created_per_s": len(created) / seconds,
        "status_counts": dict(sorted(statuses.items())),
        "non_2xx": sum(n for s, n in statuses.items() if not s.startswith("2")),
        "latency_all": percentiles([a - s for s, a, _ in counted]),
        "latency_201": percentiles(created),
        "client_cpu_s": cpu_after - cpu_before,
        "sent_total": len(done),
    }


# --- the stage ------------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_processing(url: str) -> dict:
    """Intake's own view (warm-up included): mean time from request to Kafka ack."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = {}
    for what in ("sum", "count"):
        match = re.search(
            rf'^tyndau_intake_processing_seconds_{what}\{{channel="http"\}} (\S+)$', text, re.M
        )
        found[what] = float(match.group(1)) if match else 0.0
    return {
        "handled": int(found["count"]),
        "mean_ms": found["sum"] / found["count"] * 1000 if found["count"] else float("nan"),
    }


def gateway_load(
    bootstrap: str,
    mongodb_url: str,
    log_dir: Path = RUN_DIR,
    connections: int = 32,
    seconds: float = 30,
    warmup: float = 5,
) -> dict:
    """Start intake, load it from a separate process, return the figures."""
    with intake_as_process(bootstrap, mongodb_url, log_dir) as intake:
        pid = intake.process.pid
        rss_idle = proc_status_mb(pid)
        cpu_before = _cpu_s(pid)
        with open(log_dir / "load.log", "w") as errors:
            finished = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.gateway",
                    "--load",
                    intake.url,
                    "--connections",
                    str(connections),
                    "--seconds",
                    str(seconds),
                    "--warmup",
                    str(warmup),
                ],
                cwd=REPO,
                env={**os.environ, KEY_ENV: intake.key},
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                timeout=warmup + seconds + 120,
            )
        if finished.returncode != 0:
            raise RuntimeError(f"the load generator failed; see {log_dir}/load.log")
        result = json.loads(finished.stdout)
        result["server_cpu_s"] = _cpu_s(pid) - cpu_before  # warm-up included
        result["server_processing"] = _server_processing(intake.url)
        result["rss_mb"] = {
            "idle": rss_idle,
            "after": proc_status_mb(pid),
            "peak": proc_status_mb(pid, "VmHWM"),
        }
    result["cpus"] = os.cpu_count()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s window instead of 30 s")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)  # the client process
    args = parser.parse_args()
    seconds = args.seconds or (10 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 5)
    if args.load:
        key = os.environ[KEY_ENV]
        figures = asyncio.run(load(args.load, key, args.connections, seconds, warmup))
    else:
        figures = gateway_load(
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"),
            RUN_DIR,
            args.connections,
            seconds,
            warmup,
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
