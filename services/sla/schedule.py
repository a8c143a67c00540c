"""The SLA rules as plain functions: when a timer warns, when it breaches, whether an
extension stands, whom a breach escalates to, what a firing does to a timer.

No I/O and no clock: every function takes "now" and the calendar as arguments, so the rules
are tested without a broker, a store or waiting. The working-day arithmetic itself belongs to
`reference.calendar.WorkingCalendar` and the statutory terms to `reference.statute`; this
module only asks them questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from contracts import DeadlineKind, deterministic_id
from reference.agencies import AgencyRegistry
from reference.calendar import WorkingCalendar
from reference.statute import (
    ANSWER_WORKING_DAYS,
    FORWARDING_WORKING_DAYS,
    extension_cap,
    term_end,
)
from services.sla.timers import DueEntry, Timer, TimerState, Warning

OPEN, BREACHED, STOPPED = TimerState.OPEN, TimerState.BREACHED, TimerState.STOPPED

# Escalation levels a policy may name; anything else is taken as a literal body or role code.
HEAD = "head"
SUPERVISOR = "supervisor"

EXTENSION_TOO_LONG = "exceeds_two_months_from_receipt"
EXTENSION_NOT_LATER = "not_later_than_current_deadline"
EXTENSION_AFTER_DEADLINE = "deadline_already_passed"
EXTENSION_AFTER_ANSWER = "already_answered"


@dataclass(frozen=True)
class SlaPolicy:
    """What the law leaves to configuration."""

    # Warn this many working days before a deadline (DESIGN §2 default: 3 and 1).
    warning_working_days: tuple[int, ...] = (3, 1)
    # Whom a breach escalates to, in order: `head` → "<body>:head", `supervisor` → the body's
    # supervising body; any other entry is used as it is (e.g. a prosecutor's office code).
    escalation_levels: tuple[str, ...] = (HEAD, SUPERVISOR)
    # Supervising body of each body; bodies not listed escalate to `default_supervisor`,
    # by default the agency registry's catch-all body (the Government Office).
    supervisors: Mapping[str, str] = field(default_factory=dict)
    default_supervisor: str = field(default_factory=lambda: AgencyRegistry.default().fallback)

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.warning_working_days):
            raise ValueError("warning_working_days must be positive")


# --- warnings and breaches ----------------------------------------------------------------


def working_day_before(calendar: WorkingCalendar, day: date, n: int) -> date:
    """The working day that has exactly ``n`` working days after it up to and including
    ``day`` (``calendar.working_days_between`` from it to ``day`` is ``n``)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    counted = 0
    while True:
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
            if counted == n:
                return day


def warning_schedule(
    calendar: WorkingCalendar,
    due_at: datetime,
    armed_at: datetime,
    working_days_before: Sequence[int],
) -> tuple[Warning, ...]:
    """The warnings of one deadline: at the start of work on the day with N working days
    left, for each configured N, oldest first.

    Warnings whose moment is not after ``armed_at`` (the deadline was set later than that,
    e.g. a 3-day forwarding term has no "3 days left" warning) are not scheduled.
    """
    due_day = due_at.astimezone(calendar.tz).date()
    schedule = []
    for n in sorted(set(working_days_before), reverse=True):
        day = working_day_before(calendar, due_day, n)
        at = datetime.combine(day, calendar.work_start, tzinfo=calendar.tz)
        if armed_at < at < due_at:
            schedule.append(Warning(days_left=n, at=at))
    return tuple(schedule)


@dataclass(frozen=True)
class Firing:
    """What the firing loop does for one due-index entry."""

    what: str  # "warning" or "breach"
    days_left: int | None
    at: datetime
    """The moment that fires: the entry's own, or a later one of its schedule that has also
    come (a rolling entry stands for every moment up to its successor)."""


def plan_firing(entry: DueEntry, now: datetime) -> Firing | None:
    """Decide what a due-index entry does at `now`; None if nothing (it is then dropped).

    The entry carries its timer generation's whole schedule (`moments`), so this needs no
    read of the timer. Of the moments that have come only the latest acts: a passed deadline
    breaches (remaining warnings are moot) and only the most recent warning is sent (older
    ones, missed while the service was down, are not sent late one after another). A rolling
    entry (the generation's only one) fires that latest moment itself; an entry of the
    earlier layout, one per moment, leaves it to that moment's own entry.
    """
    come = [m for m in entry.moments if m <= now]
    if not come or come[-1] < entry.at:
        return None
    latest = come[-1]
    if latest != entry.at and not entry.rolling:
        return None
    if latest == entry.timer.due_at:
        return Firing(what="breach", days_left=None, at=latest)
    fires = entry if latest == entry.at else entry.at_moment(latest)
    return Firing(what="warning", days_left=fires.days_left, at=latest)


def escalation_targets(policy: SlaPolicy, agency_code: str) -> list[str]:
    targets = []
    for level in policy.escalation_levels:
        if level == HEAD:
            targets.append(f"{agency_code}:head")
        elif level == SUPERVISOR:
            targets.append(policy.supervisors.get(agency_code, policy.default_supervisor))
        else:
            targets.append(level)
    return list(dict.fromkeys(t for t in targets if t != agency_code))


# --- extensions and stops -----------------------------------------------------------------


def extension_refusal(
    calendar: WorkingCalendar,
    policy: SlaPolicy,
    timer: Timer,
    new_due_at: datetime,
    decided_at: datetime,
) -> str | None:
    """Why an extension of the answer deadline cannot stand, or None if it is accepted.

    The cap is a calendar date (`reference.statute.extension_cap`, Art. 76): the new
    deadline's local date may be at most two calendar months after the local date of
    receipt.
    """
    if timer.state is STOPPED:
        return EXTENSION_AFTER_ANSWER
    if timer.due_at < decided_at:
        return EXTENSION_AFTER_DEADLINE
    if new_due_at <= timer.due_at:
        return EXTENSION_NOT_LATER
    if new_due_at.astimezone(calendar.tz).date() > extension_cap(calendar, timer.received_at):
        return EXTENSION_TOO_LONG
    return None


def extension_changes(
    calendar: WorkingCalendar,
    policy: SlaPolicy,
    timer: Timer,
    new_due_at: datetime,
    decided_at: datetime,
) -> Timer:
    """The timer after an accepted extension: a new generation with its own warnings (its
    started event and due entries are the service's to make)."""
    warnings = warning_schedule(calendar, new_due_at, decided_at, policy.warning_working_days)
    return replace(
        timer,
        due_at=new_due_at,
        generation=timer.generation + 1,
        warnings=warnings,
        proposed=True,
    )


# --- the calendar changing under open timers ---------------------------------------------------


def replanned_due(calendar: WorkingCalendar, timer: Timer) -> datetime:
    """The timer's deadline on `calendar`: a computed term counted again from its day 0 (15
    working days for the answer, 3 for forwarding: reference.statute); a proposed one (an
    accepted extension) kept, but moved to the next working day if it now falls on a day
    off."""
    if timer.proposed:
        # Its time of day is the body's (or, before the gate applied the rule, as it came):
        # only a day that is now a day off moves it.
        day = timer.due_at.astimezone(calendar.tz).date()
        return timer.due_at if calendar.is_working_day(day) else term_end(calendar, timer.due_at).at
    days = ANSWER_WORKING_DAYS if timer.kind is DeadlineKind.ANSWER else FORWARDING_WORKING_DAYS
    return calendar.deadline(timer.registered_at, days)


def replan_changes(
    calendar: WorkingCalendar, policy: SlaPolicy, timer: Timer, now: datetime
) -> Timer | None:
    """The timer after the calendar changed, or None when nothing moves: only open timers
    whose deadline is still ahead are re-planned (a passed deadline was judged on the
    calendar of its day); a moved deadline is a new generation with its own warnings."""
    if timer.state is not OPEN or timer.due_at <= now:
        return None
    due_at = replanned_due(calendar, timer)
    if due_at == timer.due_at or due_at <= now:
        # An earlier deadline already passed (a decree adding a worked day, a corrected
        # Kurban Ait): the timer keeps the date it was given rather than breach at once.
        return None
    warnings = warning_schedule(calendar, due_at, now, policy.warning_working_days)
    return replace(timer, due_at=due_at, generation=timer.generation + 1, warnings=warnings)


def replan_key(calendar: WorkingCalendar) -> str:
    """Under which key a timer records what re-planning on `calendar` made of it (its
    `outcomes`): a second run on the same calendar republishes, never moves again. An id
    derived from the version: a stored document's keys may not hold the version's dots."""
    return "calendar:" + deterministic_id("calendar", calendar.version)


def moved_because(calendar: WorkingCalendar, previous: datetime, due_at: datetime) -> str:
    def shown(moment: datetime) -> str:
        return moment.astimezone(calendar.tz).strftime("%d.%m.%Y %H:%M")

    return (
        f"the working-day calendar changed (version {calendar.version}, a decree on days "
        f"off): the term ends {shown(due_at)} instead of {shown(previous)}"
    )


def stop_outcome(calendar: WorkingCalendar, timer: Timer, decided_at: datetime) -> tuple[bool, int]:
    """(on time?, working days used from the term's day 0 to the decision)."""
    on_time = decided_at <= timer.due_at
    return on_time, calendar.working_days_between(timer.registered_at, decided_at)
