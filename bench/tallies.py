"""The assessment's tallies on the real store as a busy day fills them: N events of one day,
subject and partition counted through `MongoTallyStore` (64 at a time, as sla's consumer
adds them). A tally document keeps the ids it counted and FerretDB rewrites it whole on each
update, so the cost of an event grows with the events of its day before it — the ratio of
the last tenth's cost to the first tenth's says by how much (1 would be flat).

    python -m bench.tallies [--events N]

prints milliseconds per event over the first and the last tenth and the whole run, as JSON.
Needs the store `make infra` starts (MONGODB_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import date

from pymongo import AsyncMongoClient

from services.sla.assessment.store import MongoTallyStore, TallyKey

WAVE = 64


async def measure(events: int) -> dict[str, float]:
    client = AsyncMongoClient(os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"))
    name = f"bench-tallies-{uuid.uuid4().hex[:8]}"
    try:
        store = MongoTallyStore(client[name])
        key = TallyKey(date(2026, 12, 7), "region:71", "appeals.registered.v1#0")
        ids = [str(uuid.uuid4()) for _ in range(events)]
        waves: list[float] = []
        started = time.perf_counter()
        for first in range(0, events, WAVE):
            wave = ids[first : first + WAVE]
            began = time.perf_counter()
            await asyncio.gather(*(store.add(key, i, {"registered": 1}) for i in wave))
            waves.append((time.perf_counter() - began) * 1000 / len(wave))
        [day] = await store.read(key.day, key.day)
        assert day.counts == {"registered": events}, day.counts
        tenth = max(1, len(waves) // 10)
        first_tenth, last_tenth = sum(waves[:tenth]) / tenth, sum(waves[-tenth:]) / tenth
        return {
            "events": events,
            "ms_per_event_first_tenth": round(first_tenth, 3),
            "ms_per_event_last_tenth": round(last_tenth, 3),
            "ms_per_event_overall": round((time.perf_counter() - started) * 1000 / events, 3),
            "last_over_first": round(last_tenth / first_tenth, 1),
        }
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=8_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.events)), indent=2))


if __name__ == "__main__":
    main()
