"""Notify's scenario suite in memory (tests/support/scenarios/notify.py)."""

from __future__ import annotations

import pytest

from services.notify.memory import MemoryNotifyStore
from tests.support.scenarios.notify import NotifyScenarios


class TestNotifyInMemory(NotifyScenarios):
    @pytest.fixture
    def store(self) -> MemoryNotifyStore:
        return MemoryNotifyStore()
