"""The SLA's scenario suites in memory (tests/support/scenarios/sla.py)."""

from __future__ import annotations

import pytest

from services.sla.memory import MemoryTimerStore
from tests.support.scenarios.sla import SlaScenarios, TimerStoreScenarios


@pytest.fixture
def store() -> MemoryTimerStore:
    return MemoryTimerStore()


class TestTimerStoreInMemory(TimerStoreScenarios):
    pass


class TestSlaInMemory(SlaScenarios):
    pass
