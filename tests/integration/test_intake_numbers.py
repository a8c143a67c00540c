"""Intake's scenario suite (tests/support/scenarios/intake.py) against the real store — the
registration number sequence among it (FerretDB has no atomic find-and-modify: concurrent
claims never share a number) — and what only the MongoDB layout has: an event id JSON would
escape is keyed by its digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from services.intake.store import MongoIntakeStore, ensure_indexes, timeline_entry_id
from tests.support.scenarios.intake import IntakeScenarios

if TYPE_CHECKING:
    pass


@pytest.fixture
async def store(scratch_db) -> MongoIntakeStore:
    await ensure_indexes(scratch_db)
    return MongoIntakeStore(scratch_db)


class TestIntakeOnFerretDB(IntakeScenarios):
    pass


def test_a_timeline_entry_of_an_event_id_json_would_escape_is_keyed_by_its_digest() -> None:
    appeal_id = "appeal-1"
    assert timeline_entry_id(appeal_id, 'agency/2026 "№1"').startswith(f"{appeal_id}|sha256-")
    assert timeline_entry_id(appeal_id, "e-1.2:3_x") == f"{appeal_id}|e-1.2:3_x"
