"""The SLA store against the real MongoDB-wire server: the due index read as `_id` ranges
(per shard, soonest first, bounded, nothing beyond the horizon), an appeal's timers and
parked actions by id prefix, and tallies that add up every instance's share — all served
from the `_id` index (FerretDB's plan says so)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.sla.store import DUE, Tallies, TimerStore, due_entry, iso_ms
from tests.conftest import Infra

T0 = datetime(2026, 3, 5, 13, tzinfo=UTC)


@pytest.fixture
async def db(infra: Infra, run_prefix: str, unique_id: str) -> AsyncIterator:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    database = client[f"{run_prefix}sla-store-{unique_id}"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


def entry(shard: int, seconds: float, timer: str, generation: int = 1) -> dict:
    due_at = T0 + timedelta(seconds=seconds)
    timer_doc = {
        "_id": timer,
        "appeal_id": timer.split(":")[0],
        "correlation_id": "c",
        "kind": "answer",
        "agency_code": "akimat-astana",
        "shard": shard,
        "generation": generation,
        "due_at": due_at,
        "warnings": [],
        "started_event": {"event_id": "s"},
    }
    return due_entry(timer_doc, due_at)


async def test_due_entries_come_per_owned_shard_soonest_first_up_to_the_horizon(db) -> None:
    store = TimerStore(db)
    await store.add_due(
        [
            entry(1, 30, "b:answer"),
            entry(1, -3600, "a:answer"),
            entry(2, 0, "c:answer"),
            entry(12, -10, "other-shard:answer"),
            entry(1, 0.5, "d:forwarding:0"),
            entry(1, 90, "beyond-horizon:answer"),
        ]
    )
    await store.add_due([entry(1, 30, "b:answer")])  # a redelivered arm: no error, no copy

    due, more = await store.due({1, 2}, T0 + timedelta(seconds=60), limit=10)

    assert [e["timer_id"] for e in due] == ["a:answer", "c:answer", "d:forwarding:0", "b:answer"]
    assert not more
    # An equal share per shard: shard 1's soonest and shard 2's only one; shard 1 has more.
    page, more = await store.due({1, 2}, T0 + timedelta(seconds=60), limit=2)
    assert [e["timer_id"] for e in page] == ["a:answer", "c:answer"] and more
    # Shard 1 is not a prefix of shard 12: ids are zero-padded.
    twelve, _ = await store.due({12}, T0, 10)
    assert [e["timer_id"] for e in twelve] == ["other-shard:answer"]

    # The next moment after T0 within a minute: d (T0 + 0.5 s) — not c (T0 itself), not b.
    assert await store.next_moment({1, 2}, T0, T0 + timedelta(seconds=60)) == T0 + timedelta(
        seconds=0.5
    )
    assert await store.next_moment({2}, T0, T0 + timedelta(seconds=60)) is None

    await store.drop_due(e["_id"] for e in due[:2])
    left, _ = await store.due({1, 2}, T0 + timedelta(seconds=60), limit=10)
    assert [e["timer_id"] for e in left] == ["d:forwarding:0", "b:answer"]


async def test_the_due_range_and_id_lookups_use_the_id_index(db) -> None:
    store = TimerStore(db)
    await store.add_due([entry(3, s, f"t{s}:answer") for s in range(50)])
    lo, hi = "0003|", "0003|" + iso_ms(T0 + timedelta(seconds=10)) + "~"
    plan = await db.command("explain", {"find": DUE, "filter": {"_id": {"$gte": lo, "$lt": hi}}})
    described = str(plan.get("queryPlanner", plan))
    if "Plan" in described:  # FerretDB (SQLite): the plan names the index it searches
        assert "USING INDEX" in described and "SCAN" not in described.replace("SEARCH", "")


async def test_an_appeals_timers_and_parked_actions_are_found_by_id_prefix(db) -> None:
    store = TimerStore(db)
    for tid in ("ap1:answer", "ap1:forwarding:0", "ap1:forwarding:1", "ap10:answer", "ap2:answer"):
        await db["timers"].insert_one({"_id": tid})
    assert sorted(t["_id"] for t in await store.of_appeal("ap1")) == [
        "ap1:answer",
        "ap1:forwarding:0",
        "ap1:forwarding:1",
    ]
    assert set(await store.get_many(["ap2:answer", "ap1:answer", "missing"])) == {
        "ap1:answer",
        "ap2:answer",
    }

    await store.park("e2", "ap1", "{}", T0 + timedelta(seconds=5))
    await store.park("e1", "ap1", "{}", T0)
    await store.park("e3", "ap10", "{}", T0)
    assert [p["_id"] for p in await store.parked("ap1")] == ["ap1:e1", "ap1:e2"]
    await store.forget_parked("ap1")
    assert await store.parked("ap1") == []
    assert len(await store.parked("ap10")) == 1


async def test_tallies_add_up_every_instances_share_of_the_owned_shards(db) -> None:
    store = TimerStore(db)
    a, b = Tallies(store, instance="a"), Tallies(store, instance="b")
    for _ in range(3):
        a.add(0, "answer", "akimat-astana", "open", +1)
    a.add(1, "answer", "akimat-astana", "open", +1)
    b.add(0, "answer", "akimat-astana", "open", -1)  # b stopped one of shard 0's timers
    b.add(0, "forwarding", "min.health", "breached", +1)  # a dot in a code is escaped
    await a.flush()
    await b.flush()
    a.add(0, "answer", "akimat-astana", "open", +2)
    await a.flush()

    assert await a.counts({0}) == {
        ("answer", "akimat-astana", "open"): 4,
        ("forwarding", "min.health", "breached"): 1,
    }
    assert await b.counts({0, 1}) == {
        ("answer", "akimat-astana", "open"): 5,
        ("forwarding", "min.health", "breached"): 1,
    }
    assert a.pending == {} or not any(a.pending.values())
