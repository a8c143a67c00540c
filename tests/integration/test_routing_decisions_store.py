"""Routing's scenario suite (tests/support/scenarios/routing.py) against the real store, and
what only the MongoDB layout has: history read by `_id` in chunks, the unused index dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from services.routing.store import MongoDecisionStore, ensure_indexes
from tests.conftest import Infra
from tests.support.scenarios.routing import RoutingScenarios, minimal_record


@pytest.fixture
async def mongo_store(
    infra: Infra, run_prefix: str, unique_id: str
) -> AsyncIterator[MongoDecisionStore]:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    db = client[f"{run_prefix}routing-store-{unique_id}"]
    await ensure_indexes(db)
    try:
        yield MongoDecisionStore(db)
    finally:
        await client.drop_database(db.name)
        await client.close()


class TestRoutingOnFerretDB(RoutingScenarios):
    @pytest.fixture
    def store(self, mongo_store: MongoDecisionStore) -> MongoDecisionStore:
        return mongo_store


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
