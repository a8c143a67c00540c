"""Intake's scenario suite in memory (tests/support/scenarios/intake.py)."""

from __future__ import annotations

import pytest

from services.intake.memory import MemoryIntakeStore
from tests.support.scenarios.intake import IntakeScenarios


class TestIntakeInMemory(IntakeScenarios):
    @pytest.fixture
    def store(self) -> MemoryIntakeStore:
        return MemoryIntakeStore()
