"""Routing's scenario suite in memory (tests/support/scenarios/routing.py)."""

from __future__ import annotations

import pytest

from services.routing.memory import MemoryDecisionStore
from tests.support.scenarios.routing import ContestScenarios, RoutingScenarios


class TestRoutingInMemory(RoutingScenarios, ContestScenarios):
    @pytest.fixture
    def store(self) -> MemoryDecisionStore:
        return MemoryDecisionStore()
