"""The hand-verified table (tests/data/statute_cases.json): every term the statute computes
for a receipt — registration (Art. 64), forwarding (Art. 65), answer (Art. 76), the warning
moments, the extension cap — and the day a proposed term becomes, for 2025-2027, against
the days counted by hand in each row's `checked`."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from reference import statute
from reference.calendar import WorkingCalendar
from services.sla.schedule import warning_schedule

TABLE = json.loads(Path(__file__).parents[1].joinpath("data", "statute_cases.json").read_text())
CALENDAR = WorkingCalendar.default()
WARNING_DAYS = (3, 1)  # SLA_WARNING_WORKING_DAYS' default


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    "row", TABLE["terms"], ids=lambda row: f"{row['received']}-{row['channel']}"
)
def test_every_term_of_a_receipt_is_as_counted_by_hand(row: dict) -> None:
    received = moment(row["received"])
    registered = statute.registration_time(CALENDAR, received)
    answer_due = statute.answer_deadline(CALENDAR, registered)
    warnings = warning_schedule(CALENDAR, answer_due, registered, WARNING_DAYS)
    assert registered == moment(row["registered_at"]), row["checked"]
    assert statute.forwarding_deadline(CALENDAR, received) == moment(row["forwarding_due"])
    assert answer_due == moment(row["answer_due"]), row["checked"]
    assert [w.at for w in warnings] == [moment(at) for at in row["warnings"]], row["checked"]
    assert statute.extension_cap(CALENDAR, received) == date.fromisoformat(row["extension_cap"])
    # Every computed term ends on a working day, at the end of work: the general rule on
    # terms holds for them by construction.
    for due in (answer_due, statute.forwarding_deadline(CALENDAR, received)):
        assert not statute.term_end(CALENDAR, due).changed


@pytest.mark.parametrize("row", TABLE["proposed"], ids=lambda row: row["proposed"])
def test_a_proposed_term_becomes_the_day_counted_by_hand(row: dict) -> None:
    assert statute.term_end(CALENDAR, moment(row["proposed"])).at == moment(row["becomes"]), row[
        "checked"
    ]


def test_the_table_covers_what_the_statute_asks_of_it() -> None:
    received = [moment(row["received"]) for row in TABLE["terms"]]
    assert {r.year for r in received} >= {2025, 2026, 2027}
    assert {r.utcoffset().total_seconds() for r in received} > {5 * 3600}  # another offset
    assert any(
        moment(r["received"]).astimezone(CALENDAR.tz).strftime("%H:%M:%S") == "17:59:59"
        for r in TABLE["terms"]
    )
    assert any(
        moment(r["received"]).astimezone(CALENDAR.tz).strftime("%H:%M:%S") == "18:00:00"
        for r in TABLE["terms"]
    )
    assert all(row["checked"] for row in TABLE["terms"] + TABLE["proposed"])
