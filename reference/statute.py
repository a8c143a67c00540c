"""The terms of the Administrative Procedural Code of the Republic of Kazakhstan (2020, in
force 2021) as Tyndau counts them — the one place where a statutory period is written down.

- Art. 64: an appeal is registered on receipt; one received outside working hours or on a
  day off is registered at the start of the next working day (`registration_time`).
- Art. 65: a body without competence forwards the appeal to the competent body within
  `FORWARDING_WORKING_DAYS` working days of its receipt, and tells the applicant
  (`forwarding_deadline`).
- Art. 76: the appeal is considered within `ANSWER_WORKING_DAYS` working days of receipt
  (`answer_deadline`); the head of the body may extend that by a reasoned decision, but not
  beyond `EXTENSION_CAP_MONTHS` calendar months from receipt in total (`extension_cap`), and
  the applicant is told of the extension within `EXTENSION_NOTICE_WORKING_DAYS` working days.
- Art. 91: a deadline that passes without a decision counts as a refusal — a breach.
- The general rule on terms: a term whose last day is a non-working day ends on the next
  working day. It is applied to every term recorded — those computed here end on a working
  day by construction; one someone proposes (an extension's new deadline) goes through
  `term_end`, and so does the extension cap (`extension_cap`).

The counting convention of this project (DESIGN.md §2): the registration day is day 0 and a
term of N working days ends at the end of work (18:00 local time) on the N-th working day
after it; which days are working days, the hours and the time zone belong to the working-day
calendar (`reference.calendar.WorkingCalendar`), which this module asks. Pure: no clock, no
I/O; callers pass the moments.
"""

from __future__ import annotations

import calendar as gregorian
from dataclasses import dataclass
from datetime import date, datetime

from reference.calendar import CalendarYearNotCovered, WorkingCalendar

FORWARDING_WORKING_DAYS = 3
"""Art. 65: working days a body without competence has to forward an appeal."""

ANSWER_WORKING_DAYS = 15
"""Art. 76 (1): working days within which an appeal is considered."""

EXTENSION_CAP_MONTHS = 2
"""Art. 76 (2): an extended term ends at most this many calendar months after receipt."""

EXTENSION_NOTICE_WORKING_DAYS = 3
"""Art. 76 (2): working days within which the applicant is told of an extension."""


def registration_time(calendar: WorkingCalendar, received_at: datetime) -> datetime:
    """Art. 64: when an appeal received at `received_at` counts as registered — at once
    within working hours, else at the start of the next working day (start of work that day
    when it came before it)."""
    return calendar.registration_time(received_at)


def answer_deadline(calendar: WorkingCalendar, registered_at: datetime) -> datetime:
    """Art. 76: the end of the consideration term of an appeal registered at
    `registered_at` (day 0)."""
    return calendar.deadline(registered_at, ANSWER_WORKING_DAYS)


def forwarding_deadline(calendar: WorkingCalendar, received_at: datetime) -> datetime:
    """Art. 65: the end of the forwarding term of a body that received the appeal at
    `received_at` — counted from that receipt as registered under Art. 64."""
    return calendar.deadline(registration_time(calendar, received_at), FORWARDING_WORKING_DAYS)


def extension_cap(calendar: WorkingCalendar, received_at: datetime) -> date:
    """Art. 76 (2): the last local date an extended answer deadline may fall on — two
    calendar months after receipt, or the next working day when that is a day off (the
    general rule on terms)."""
    received_day = received_at.astimezone(calendar.tz).date()
    cap = add_calendar_months(received_day, EXTENSION_CAP_MONTHS)
    try:
        return calendar.add_working_days(cap, 0)
    except CalendarYearNotCovered:
        return cap  # past the calendar's last year: the two months as they are


@dataclass(frozen=True)
class TermEnd:
    """When a proposed term really ends, and why that differs from the proposal."""

    at: datetime
    """End of work (local) on the term's last day: the proposed day, or the next working
    day after it when it is a day off."""
    proposed: datetime
    moved_from: date | None
    """The proposed day when it was a day off (the term moved to the next working day)."""

    @property
    def changed(self) -> bool:
        return self.at != self.proposed


def provisional(calendar: WorkingCalendar, start: datetime, end: datetime) -> bool:
    """Whether a term from `start` to `end` reaches a year whose days off are not decreed
    yet (the calendar's rules only): its end may move when the decree is loaded."""
    years = range(start.astimezone(calendar.tz).year, end.astimezone(calendar.tz).year + 1)
    return any(calendar.is_provisional(year) for year in years if year in calendar.covered_years)


def term_end(calendar: WorkingCalendar, proposed: datetime) -> TermEnd:
    """The end of a term someone proposes (an extension's new deadline): a term ends at the
    end of work on its last day, and a last day that is not a working day gives way to the
    next working day. Raises `CalendarYearNotCovered` for a day the calendar cannot judge."""
    day = proposed.astimezone(calendar.tz).date()
    last_day = calendar.add_working_days(day, 0)
    return TermEnd(
        at=datetime.combine(last_day, calendar.work_end, tzinfo=calendar.tz),
        proposed=proposed,
        moved_from=day if last_day != day else None,
    )


def add_calendar_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the month's end (31 Dec + 2 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, gregorian.monthrange(year, month)[1]))
