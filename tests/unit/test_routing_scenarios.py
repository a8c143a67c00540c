"""Routing's scenario suite in memory (tests/support/scenarios/routing.py)."""

from __future__ import annotations

import pytest

from services.routing.incident_store import MemoryIncidentStore
from services.routing.memory import MemoryDecisionStore
from tests.support.scenarios.routing import ContestScenarios, IncidentScenarios, RoutingScenarios


class TestRoutingInMemory(RoutingScenarios, ContestScenarios, IncidentScenarios):
    @pytest.fixture
    def store(self) -> MemoryDecisionStore:
        return MemoryDecisionStore()

    @pytest.fixture
    def incident_store(self) -> MemoryIncidentStore:
        return MemoryIncidentStore()
