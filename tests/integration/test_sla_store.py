"""The SLA's scenario suites (tests/support/scenarios/sla.py) against the real MongoDB-wire
server, and what only the MongoDB layout has: the due range served from the `_id` index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.keys import iso_ms
from services.sla.store import DUE, MongoTimerStore
from tests.support.scenarios.sla import T0, SlaScenarios, TimerStoreScenarios, entry_of


@pytest.fixture
def db(scratch_db):
    return scratch_db


@pytest.fixture
def store(db) -> MongoTimerStore:
    return MongoTimerStore(db)


class TestTimerStoreOnFerretDB(TimerStoreScenarios):
    pass


class TestSlaOnFerretDB(SlaScenarios):
    pass


async def test_the_due_range_and_id_lookups_use_the_id_index(db, store: MongoTimerStore) -> None:
    await store.add_due([entry_of(3, s, f"t{s}:answer") for s in range(50)])
    lo, hi = "0003|", "0003|" + iso_ms(T0 + timedelta(seconds=10)) + "~"
    plan = await db.command("explain", {"find": DUE, "filter": {"_id": {"$gte": lo, "$lt": hi}}})
    described = str(plan.get("queryPlanner", plan))
    if "Plan" in described:  # FerretDB (SQLite): the plan names the index it searches
        assert "USING INDEX" in described and "SCAN" not in described.replace("SEARCH", "")
