"""The workspace's polled lists on the real store: what one poll of a body's inbox and of the
triage queue costs with N appeals in the read model, read as the workspace reads them now
(`_id` ranges and lookups, services/workspace/store.py) and as it read them before (a filter
on a field of the appeal documents, which FerretDB answers by reading the whole collection) —
both on the same data, in one run, so the ratio is what to quote.

N appeal views (documents of the shape the workspace writes, with the old fields the old
queries filter on) are spread over every body of the registry, one in a hundred waiting in
triage; the lists are made by `list_existing` (timed: the one-off cost of an upgrade). Each
query then runs `--polls` times; the medians are reported.

    python -m bench.workspace [--quick] [--appeals N] [--polls K]

prints the figures as JSON. Needs the store `make infra` starts (MONGODB_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import replace

from pymongo import AsyncMongoClient

from contracts import AgencyAssignment, AppealRegistered, AppealTriaged
from reference.agencies import AgencyRegistry
from services.workspace.store import AppealViews
from services.workspace.views import AppealView, applied, view_document


def _templates() -> tuple[AppealView, AppealView]:
    assigned = applied(None, AgencyAssignment.example())
    waiting = applied(applied(None, AppealRegistered.example()), AppealTriaged.example())
    assert assigned is not None and waiting is not None
    return assigned, waiting


def documents(n: int, bodies: list[str]) -> list[dict]:
    """N view documents: the i-th assigned to body i mod len(bodies), every 100th waiting in
    triage instead; with the fields the old queries read (`in_triage`)."""
    assigned, waiting = _templates()
    made = []
    for i in range(n):
        if i % 100 == 99:
            view = replace(waiting, appeal_id=f"w-{i}", registration_number=f"ZH-{i:08d}")
        else:
            body = bodies[i % len(bodies)]
            view = replace(
                assigned,
                appeal_id=f"a-{i}",
                registration_number=f"ZH-{i:08d}",
                bodies=(body,),
                entries=tuple(e | {"agency_code": body} for e in assigned.entries),
            )
        made.append(view_document(view) | {"in_triage": i % 100 == 99})
    return made


async def timed(polls: int, query) -> tuple[float, int]:
    """Median milliseconds of `polls` runs of `query`, and what it returned (a count)."""
    times, found = [], 0
    for _ in range(polls):
        started = time.perf_counter()
        found = await query()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


async def measure(appeals: int, polls: int) -> dict:
    client = AsyncMongoClient(os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"))
    name = f"bench-workspace-{uuid.uuid4().hex[:8]}"
    db = client[name]
    try:
        views = AppealViews(db)
        bodies = sorted(AgencyRegistry.default().by_code)
        docs = documents(appeals, bodies)
        for start in range(0, len(docs), 1000):
            await views.appeals.insert_many(docs[start : start + 1000])
        started = time.perf_counter()
        listed = await views.list_existing()
        listing_s = time.perf_counter() - started
        body = "astana-energy"

        async def inbox_now() -> int:
            return len(await views.of_bodies({body}))

        async def inbox_before() -> int:
            return len([d async for d in views.appeals.find({"bodies": {"$in": [body]}})])

        async def queue_now() -> int:
            return len(await views.in_triage())

        async def queue_before() -> int:
            return len([d async for d in views.appeals.find({"in_triage": True})])

        results: dict = {"appeals": appeals, "listed": listed, "listing_s": round(listing_s, 1)}
        for label, now, before in (
            ("inbox of one body", inbox_now, inbox_before),
            ("triage queue", queue_now, queue_before),
        ):
            now_ms, now_found = await timed(polls, now)
            before_ms, before_found = await timed(polls, before)
            assert now_found == before_found, (label, now_found, before_found)
            results[label] = {
                "found": now_found,
                "ms_now": round(now_ms, 2),
                "ms_before": round(before_ms, 2),
                "before_over_now": round(before_ms / now_ms, 1),
            }
        return results
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 appeals, 5 polls")
    parser.add_argument("--appeals", type=int, default=20_000)
    parser.add_argument("--polls", type=int, default=15)
    args = parser.parse_args()
    appeals, polls = (5_000, 5) if args.quick else (args.appeals, args.polls)
    print(json.dumps(asyncio.run(measure(appeals, polls)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
