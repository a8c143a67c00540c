"""Stage 4 of `make bench`: SLA timer scale on the real broker and store.

1. Seed N open timers (default 1,000,000) straight into the sla database, the way the
   service stores them: a timer document each plus its due-index entry (the first of two
   warnings and the deadline, days to weeks ahead; the next is put in when one fires).
   Seeding through Kafka would measure the arming path instead, which stage 2 already does.
2. Start the sla service as its own process (it owns every shard) and let it settle.
3. Add a window of timers whose deadlines fall due at a fixed rate (default 1,000/s for
   20 s) a few seconds ahead, while the service runs.
4. Watch `sla.events.v1`: each breach's lag = the Kafka record's timestamp (when the service
   published it) minus its deadline. Report the firing rate over the window, lag
   p50/p95/p99/max, and the sla process's resident memory (sampled through the run).

    python -m bench.timers [--timers N] [--rate R --seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from bench.pipeline import percentiles, proc_status_mb, services_as_processes
from contracts import AppealRouted, DeadlineKind, topics
from reference.agencies import AgencyRegistry
from reference.calendar import WorkingCalendar
from services.common.kafka_auth import ADMIN, identity_for
from services.common.provisioning import prepare_prefix
from services.common.topics_admin import BUSY_TOPIC_PARTITIONS, planned_topics
from services.sla.schedule import warning_schedule
from services.sla.store import DUE, TIMERS, encode_entry, to_document
from services.sla.timers import Timer, Warning, new_timer, timer_id

REPO = Path(__file__).resolve().parents[1]
AGENCIES = ("akimat-astana", "astana-energy", "min-health", "police-astana", "akimat-almaty")


def template_timer() -> Timer:
    """One timer as the service makes it (varied for every seed)."""
    routed = AppealRouted.example()
    calendar = WorkingCalendar.default()
    registered_at = calendar.registration_time(routed.received_at)
    return new_timer(
        routed=routed,
        kind=DeadlineKind.ANSWER,
        due_at=routed.answer_due_at,
        registered_at=registered_at,
        shard=0,
        warnings=warning_schedule(calendar, routed.answer_due_at, registered_at, (3, 1)),
        now=routed.occurred_at,
    )


def seeded_timer(template: Timer, n: int, due_at: datetime, warnings: list[datetime]) -> Timer:
    appeal = f"bench-{n:09d}"
    return replace(
        template,
        timer_id=timer_id(appeal, DeadlineKind.ANSWER),
        appeal_id=appeal,
        agency_code=AGENCIES[n % len(AGENCIES)],
        shard=n % BUSY_TOPIC_PARTITIONS,
        due_at=due_at,
        warnings=tuple(Warning(d, at) for d, at in zip((3, 1), warnings, strict=False)),
        started_event=template.started_event.model_copy(update={"event_id": f"bench-started-{n}"}),
    )


async def seed(db, template: Timer, first: int, count: int, due_at, warnings_of, batch: int = 2000):
    """Insert `count` timers (documents and first due entries) with two concurrent writers."""
    queue: asyncio.Queue[tuple[list, list] | None] = asyncio.Queue(maxsize=4)

    async def writer() -> None:
        while (item := await queue.get()) is not None:
            timers, entries = item
            await db[DUE].insert_many(entries, ordered=False)
            await db[TIMERS].insert_many(timers, ordered=False)

    writers = [asyncio.create_task(writer()) for _ in range(2)]
    for start in range(first, first + count, batch):
        timers = [
            seeded_timer(template, n, due_at(n), warnings_of(n))
            for n in range(start, min(first + count, start + batch))
        ]
        entries = [encode_entry(t.first_due_entry()) for t in timers]
        await queue.put(([to_document(t) for t in timers], entries))
    for _ in writers:
        await queue.put(None)
    await asyncio.gather(*writers)


async def _wait_owning() -> None:
    """A grace after /health answers (services_as_processes waited for it) for the sla
    consumer to join its group and be assigned the routed partitions: that assignment is
    the firing ownership."""
    await asyncio.sleep(8)


async def measure(
    bootstrap: str,
    mongodb_url: str,
    prefix: str,
    pid: int,
    open_timers: int,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
    db = client[f"{prefix}sla"]
    template = template_timer()
    consumer = AIOKafkaConsumer(
        f"{prefix}{topics.SLA_EVENTS}",
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        **identity_for(ADMIN).aiokafka(),
    )
    await consumer.start()
    try:
        await _wait_owning()
        window = int(rate * seconds)
        # The window starts once its own seeding is surely done (≥ 1,000 timers/s measured),
        # so the bench's writes do not compete with the firing it measures.
        start_at = datetime.now(UTC) + timedelta(seconds=5 + window / 1000)
        due = {
            f"bench-{open_timers + i:09d}": start_at + timedelta(seconds=i / rate)
            for i in range(window)
        }
        t0 = time.perf_counter()
        await seed(
            db,
            template,
            open_timers,
            window,
            due_at=lambda n: start_at + timedelta(seconds=(n - open_timers) / rate),
            warnings_of=lambda n: [],
        )
        window_seed_s = time.perf_counter() - t0
        lags: list[float] = []
        moments: list[float] = []
        published: list[float] = []
        seen: set[str] = set()
        give_up = time.monotonic() + seconds + 120
        while len(seen) < window and time.monotonic() < give_up:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    appeal = event.get("appeal_id")
                    if event.get("event_type") != "sla.breached" or appeal not in due:
                        continue
                    if appeal in seen:
                        continue
                    seen.add(appeal)
                    lag = record.timestamp / 1000 - due[appeal].timestamp()
                    lags.append(lag)
                    moments.append(due[appeal].timestamp())
                    published.append(record.timestamp / 1000)
        span = (max(published) - min(published)) if len(published) > 1 else float("nan")
        # Worst lag per second of the window: shows whether late firings cluster (a stall)
        # or spread (not keeping up).
        worst: dict[int, float] = {}
        for moment, lag in zip(moments, lags, strict=True):
            second = int(moment - start_at.timestamp())
            worst[second] = max(worst.get(second, 0.0), lag * 1000)
        return {
            "open_timers": open_timers,
            "window_timers": window,
            "target_rate_per_s": rate,
            "window_seed_s": window_seed_s,
            "fired": len(seen),
            "firing_rate_per_s": len(seen) / span if span == span and span > 0 else None,
            "lag": percentiles(lags),
            "worst_lag_ms_by_second": [round(worst[k]) for k in sorted(worst)],
            # The kernel's high-water mark: the peak over the whole run, no sampling.
            "rss_mb_max": proc_status_mb(pid, "VmHWM"),
            "rss_mb_last": proc_status_mb(pid),
        }
    finally:
        await consumer.stop()
        await client.close()


def timer_scale(
    bootstrap: str,
    mongodb_url: str,
    open_timers: int,
    rate: float,
    seconds: float,
    log_dir: Path = REPO / ".run" / "bench-timers",
) -> dict[str, Any]:
    prefix = f"benchtimers{os.getpid() % 10000}-"
    asyncio.run(prepare_prefix(bootstrap, planned_topics(AgencyRegistry.default().by_code), prefix))
    print(f"  seeding {open_timers:,} open timers…", flush=True)
    t0 = time.perf_counter()
    asyncio.run(_seed_open(mongodb_url, prefix, open_timers))
    seed_s = time.perf_counter() - t0
    print(f"  seeded in {seed_s:.0f} s; starting sla and firing {rate:.0f}/s…", flush=True)
    with services_as_processes(
        bootstrap, mongodb_url, log_dir, only=("sla",), prefix=prefix
    ) as running:
        result = asyncio.run(
            measure(
                bootstrap,
                mongodb_url,
                prefix,
                running.pid("sla"),
                open_timers,
                rate,
                seconds,
            )
        )
    result["seed_s"] = seed_s
    result["seed_docs_per_s"] = open_timers * 4 / seed_s if seed_s else None
    return result


async def _seed_open(mongodb_url: str, prefix: str, count: int) -> None:
    """The standing population: deadlines 5–30 days ahead, warnings before them."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
    now = datetime.now(UTC).replace(microsecond=0)
    try:

        def due_at(n: int) -> datetime:
            return now + timedelta(days=5 + n % 25, seconds=n % 36000)

        await seed(
            client[f"{prefix}sla"],
            template_timer(),
            0,
            count,
            due_at=due_at,
            warnings_of=lambda n: [due_at(n) - timedelta(days=3), due_at(n) - timedelta(days=1)],
        )
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = timer_scale(
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"),
        args.timers,
        args.rate,
        args.seconds,
        REPO / ".run" / "bench-timers",
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
