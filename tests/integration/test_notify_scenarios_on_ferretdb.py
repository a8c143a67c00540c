"""Notify's scenario suite (tests/support/scenarios/notify.py) against the real store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from services.notify.store import MongoNotifyStore, ensure_indexes
from tests.support.scenarios.notify import NotifyScenarios

if TYPE_CHECKING:
    pass


class TestNotifyOnFerretDB(NotifyScenarios):
    @pytest.fixture
    async def store(self, scratch_db) -> MongoNotifyStore:
        await ensure_indexes(scratch_db)
        return MongoNotifyStore(scratch_db)
