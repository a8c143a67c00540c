"""The statutory terms (reference/statute.py): each period of the Administrative Procedural
Code applied through the one module that names it."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from reference import statute
from reference.calendar import WorkingCalendar

CALENDAR = WorkingCalendar.default()


def almaty(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo("Asia/Almaty"))


def test_the_terms_are_the_codes_numbers() -> None:
    assert statute.FORWARDING_WORKING_DAYS == 3  # Art. 65
    assert statute.ANSWER_WORKING_DAYS == 15  # Art. 76 (1)
    assert statute.EXTENSION_CAP_MONTHS == 2  # Art. 76 (2)


def test_the_answer_term_of_the_design_worked_example() -> None:
    # Registered Thu 2026-03-05: 9 Mar and 23-25 Mar are off, so day 15 is Wed 1 April.
    registered = statute.registration_time(CALENDAR, almaty(2026, 3, 5, 10, 2))
    assert registered == almaty(2026, 3, 5, 10, 2)
    assert statute.answer_deadline(CALENDAR, registered) == almaty(2026, 4, 1, 18, 0)


def test_an_appeal_received_on_saturday_is_registered_on_monday_at_nine() -> None:
    assert statute.registration_time(CALENDAR, almaty(2026, 11, 21, 15, 0)) == almaty(
        2026, 11, 23, 9, 0
    )


def test_the_forwarding_term_runs_from_the_receipt_as_registered() -> None:
    # Received Friday 6 March after hours: registered Tue 10 March (Mon 9 March is off),
    # three working days later is Fri 13 March.
    assert statute.forwarding_deadline(CALENDAR, almaty(2026, 3, 6, 19, 0)) == almaty(
        2026, 3, 13, 18, 0
    )


def test_the_extension_cap_is_two_calendar_months_from_the_day_of_receipt() -> None:
    assert statute.extension_cap(CALENDAR, almaty(2026, 3, 5, 10, 2)) == date(2026, 5, 5)
    # 31 Dec + 2 months is 28 Feb 2026, a Saturday: the cap, a term too, ends on the next
    # working day, Monday 2 March.
    assert statute.extension_cap(CALENDAR, almaty(2025, 12, 31, 23, 0)) == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("proposed", "ends", "moved_from"),
    [
        # A Saturday: the next working day, at the end of work.
        (almaty(2026, 4, 11, 12, 0), almaty(2026, 4, 13, 18, 0), date(2026, 4, 11)),
        # Fri 1 May 2026 (Unity Day), then the weekend: Monday 4 May.
        (almaty(2026, 5, 1, 18, 0), almaty(2026, 5, 4, 18, 0), date(2026, 5, 1)),
        # Sat 2 Jan 2027, whose holiday moves to Mon 4 Jan: Tuesday 5 January.
        (almaty(2027, 1, 2, 9, 0), almaty(2027, 1, 5, 18, 0), date(2027, 1, 2)),
        # A working day: that day, at the end of work (a term is counted in days).
        (almaty(2026, 4, 14, 10, 30), almaty(2026, 4, 14, 18, 0), None),
        (almaty(2026, 4, 14, 18, 0), almaty(2026, 4, 14, 18, 0), None),
    ],
)
def test_a_proposed_term_ends_at_the_end_of_work_on_its_day_or_the_next_working_day(
    proposed: datetime, ends: datetime, moved_from: date | None
) -> None:
    term = statute.term_end(CALENDAR, proposed)
    assert (term.at, term.moved_from, term.proposed) == (ends, moved_from, proposed)
    assert term.changed is (ends != proposed)
