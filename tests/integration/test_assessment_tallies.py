"""The assessment's tallies on the real MongoDB-wire server: each event counted once however
it is redelivered (alone, in a burst, or both at once), and a period read from the `_id`
index."""

from __future__ import annotations

import asyncio
from datetime import date

from services.sla.assessment.store import TALLIES, MongoTallyStore, TallyKey

DAY = date(2025, 11, 3)
KEY = TallyKey(DAY, "body:astana-energy", "sla.events.v1#0")


async def test_a_burst_with_redeliveries_counts_each_event_once(scratch_db) -> None:
    store = MongoTallyStore(scratch_db)
    await store.add(KEY, "e-0", {"handled": 1, "handled_on_time": 1})
    # A burst on one document: new events, an event already counted, one twice in the burst.
    burst = [f"e-{i}" for i in range(1, 60)] + ["e-0", "e-7", "e-7"]
    await asyncio.gather(*(store.add(KEY, eid, {"handled": 1}) for eid in burst))
    # And again, as a redelivered batch would, each alone.
    for eid in ("e-3", "e-59", "e-60"):
        await store.add(KEY, eid, {"handled": 1})

    [tally] = await store.read(DAY, DAY)
    assert tally.subject == "body:astana-energy"
    assert tally.counts == {"handled": 61, "handled_on_time": 1}  # e-0 … e-60
    document = await scratch_db[TALLIES].find_one({"_id": KEY.document_id})
    assert sorted(document["ids"]) == sorted({f"e-{i}" for i in range(61)})


async def test_sources_of_one_day_and_subject_are_summed_and_days_kept_apart(scratch_db) -> None:
    store = MongoTallyStore(scratch_db)
    other = TallyKey(DAY, KEY.subject, "sla.events.v1#1")
    next_day = TallyKey(date(2025, 11, 4), KEY.subject, KEY.source)
    await store.add(KEY, "a", {"consideration_breaches": 1})
    await store.add(other, "b", {"consideration_breaches": 1})
    await store.add(next_day, "c", {"forwarding_breaches": 1})

    assert [(t.day, dict(t.counts)) for t in await store.read(DAY, DAY)] == [
        (DAY, {"consideration_breaches": 2})
    ]
    both = await store.read(DAY, date(2025, 11, 4))
    assert [t.day for t in both] == [DAY, date(2025, 11, 4)]


async def test_a_period_is_read_from_the_id_index(scratch_db) -> None:
    store = MongoTallyStore(scratch_db)
    await store.add(KEY, "a", {"handled": 1})
    query = {"_id": {"$gte": "2025-10-01|", "$lt": "2026-01-01|"}}
    plan = await scratch_db.command("explain", {"find": TALLIES, "filter": query})
    described = str(plan.get("queryPlanner", plan))
    assert "USING INDEX" in described and "SCAN" not in described.replace("SEARCH", "")
