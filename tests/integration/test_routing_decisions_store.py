"""Routing's scenario suite (tests/support/scenarios/routing.py) against the real store, and
what only the MongoDB layout has: history read by `_id` in chunks, the unused index dropped."""

from __future__ import annotations

import pytest

from services.routing.incident_store import MongoIncidentStore
from services.routing.store import MongoDecisionStore, ensure_indexes
from tests.support.scenarios.routing import (
    ContestScenarios,
    IncidentScenarios,
    RoutingScenarios,
    appeal,
    minimal_record,
    service,
)


@pytest.fixture
async def mongo_store(scratch_db) -> MongoDecisionStore:
    await ensure_indexes(scratch_db)
    return MongoDecisionStore(scratch_db)


class TestRoutingOnFerretDB(RoutingScenarios, ContestScenarios, IncidentScenarios):
    @pytest.fixture
    def store(self, mongo_store: MongoDecisionStore) -> MongoDecisionStore:
        return mongo_store

    @pytest.fixture
    def incident_store(self, scratch_db) -> MongoIncidentStore:
        return MongoIncidentStore(scratch_db)


async def test_a_history_longer_than_one_read_and_the_old_index_is_dropped(
    mongo_store: MongoDecisionStore, unique_id: str
) -> None:
    # More hops than one read of eight keys takes: the history still comes back whole.
    appeal_id = f"appeal-history-{unique_id}"
    for hop in range(11):
        assert await mongo_store.insert(minimal_record(appeal_id, hop))
    assert [r.hop for r in await mongo_store.history(appeal_id)] == list(range(11))

    decisions = mongo_store.decisions
    await decisions.create_index([("appeal_id", 1), ("hop", 1)])
    await ensure_indexes(decisions.database)
    assert "appeal_id_1_hop_1" not in await decisions.index_information()
    await ensure_indexes(decisions.database)  # nothing left to drop is fine


async def test_a_stored_decision_keeps_the_appeal_once_and_no_copy_for_the_agency(
    mongo_store: MongoDecisionStore, unique_id: str
) -> None:
    routing, recorder = service(mongo_store)
    registered = appeal(unique_id)
    await routing.route_registered(registered)

    [document] = await mongo_store.decisions.find({"appeal_id": registered.appeal_id}).to_list()
    assert "assignment" not in document  # rebuilt from `registered` + `routed` when resent
    assert document["registered"]["text"] == registered.text
    # What the inbox got is what a redelivery sends again (the scenarios check that too).
    await routing.route_registered(registered)
    inbox = [e for t, e in recorder.sent if t.endswith(".inbox.v1")]
    assert len(inbox) == 2 and inbox[0] == inbox[1] and inbox[0].text == registered.text
