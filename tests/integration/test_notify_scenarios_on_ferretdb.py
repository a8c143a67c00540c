"""Notify's scenario suite (tests/support/scenarios/notify.py) against the real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from pymongo import AsyncMongoClient

from services.notify.store import MongoNotifyStore, ensure_indexes
from tests.support.scenarios.notify import NotifyScenarios

if TYPE_CHECKING:
    from tests.conftest import Infra


class TestNotifyOnFerretDB(NotifyScenarios):
    @pytest.fixture
    async def store(
        self, infra: Infra, run_prefix: str, unique_id: str
    ) -> AsyncIterator[MongoNotifyStore]:
        client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
        db = client[f"{run_prefix}notify-store-{unique_id}"]
        await ensure_indexes(db)
        try:
            yield MongoNotifyStore(db)
        finally:
            await client.drop_database(db.name)
            await client.close()
