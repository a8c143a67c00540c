"""The SLA rules without a broker or a store: warning moments, breaches, what a firing does,
the two-month extension cap, escalation and working days used. Dates checked by hand against
the 2026 calendar (9 Mar, 23–25 Mar, 1, 7, 11 May are days off)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import AppealRouted, DeadlineKind
from reference.calendar import WorkingCalendar, load_bundled_calendar_data
from reference.decree import with_decree
from reference.statute import add_calendar_months
from services.sla.schedule import (
    EXTENSION_AFTER_ANSWER,
    EXTENSION_AFTER_DEADLINE,
    EXTENSION_NOT_LATER,
    EXTENSION_TOO_LONG,
    OPEN,
    STOPPED,
    SlaPolicy,
    escalation_targets,
    extension_changes,
    extension_refusal,
    plan_firing,
    replan_changes,
    replanned_due,
    stop_outcome,
    warning_schedule,
    working_day_before,
)
from services.sla.timers import DueEntry, Timer, new_timer

ALMATY = ZoneInfo("Asia/Almaty")
CAL = WorkingCalendar.default()
POLICY = SlaPolicy()


def almaty(*args: int) -> datetime:
    return datetime(*args, tzinfo=ALMATY)


REGISTERED = almaty(2026, 3, 5, 10, 2, 47)  # Thu
ANSWER_DUE = almaty(2026, 4, 1, 18)  # DESIGN §2 worked example
FORWARD_DUE = almaty(2026, 3, 11, 18)  # 3 working days: 6, 10, 11 Mar (9 Mar off)


def timer(due_at: datetime = ANSWER_DUE, **fields) -> Timer:
    routed = AppealRouted.example().model_copy(
        update={"received_at": almaty(2026, 3, 5, 10, 2, 45)}
    )
    warnings = warning_schedule(CAL, due_at, REGISTERED, POLICY.warning_working_days)
    armed = new_timer(
        routed=routed,
        kind=DeadlineKind.ANSWER,
        due_at=due_at,
        registered_at=REGISTERED,
        shard=0,
        warnings=warnings,
        now=REGISTERED,
    )
    assert armed.state is OPEN and armed.generation == 1
    return replace(armed, **fields)


def test_the_working_day_before_skips_weekends_and_nauryz() -> None:
    # Wed 1 Apr: 31 Mar (1), 30 Mar (2), 27 Mar (3) — Sat/Sun 28–29 skipped.
    assert working_day_before(CAL, date(2026, 4, 1), 3) == date(2026, 3, 27)
    # Thu 26 Mar: 25, 24, 23 Mar are Nauryz days off → 20 Mar is one working day before.
    assert working_day_before(CAL, date(2026, 3, 26), 1) == date(2026, 3, 20)
    for n in (1, 3, 5):
        day = working_day_before(CAL, date(2026, 4, 1), n)
        assert CAL.working_days_between(almaty(*day.timetuple()[:3]), ANSWER_DUE) == n


def test_answer_warnings_come_at_nine_with_three_and_one_working_days_left() -> None:
    schedule = warning_schedule(CAL, ANSWER_DUE, REGISTERED, (3, 1))
    assert [(w.days_left, w.at) for w in schedule] == [
        (3, almaty(2026, 3, 27, 9)),  # matches the contract's SlaWarning example
        (1, almaty(2026, 3, 31, 9)),
    ]
    assert timer().moments == (almaty(2026, 3, 27, 9), almaty(2026, 3, 31, 9), ANSWER_DUE)


def test_a_three_day_forwarding_term_gets_no_warning_before_it_was_armed() -> None:
    # "3 days left" would be 09:00 on the registration day, before the 10:02 registration.
    schedule = warning_schedule(CAL, FORWARD_DUE, REGISTERED, (3, 1))
    assert [(w.days_left, w.at) for w in schedule] == [(1, almaty(2026, 3, 10, 9))]


W3, W1 = almaty(2026, 3, 27, 9), almaty(2026, 3, 31, 9)


def entry(moment: datetime, of: Timer | None = None) -> DueEntry:
    """The due-index entry of one moment of a timer (as the store writes it)."""
    return (of or timer()).due_entry(moment)


def test_nothing_fires_before_its_moment() -> None:
    assert plan_firing(entry(W3), almaty(2026, 3, 27, 8, 59)) is None


def test_a_warning_fires_at_its_moment_and_the_next_waits_for_its_own() -> None:
    firing = plan_firing(entry(W3), almaty(2026, 3, 27, 9))
    assert firing is not None and firing.what == "warning" and firing.days_left == 3
    assert plan_firing(entry(W1), almaty(2026, 3, 30, 12)) is None
    assert plan_firing(entry(W1), W1).days_left == 1  # type: ignore[union-attr]


def legacy(moment: datetime, of: Timer | None = None) -> DueEntry:
    """An entry as stored before entries rolled: one per moment, without the schedule's days."""
    return replace(entry(moment, of), days=None)


def test_each_moment_s_entry_makes_the_next_and_the_last_makes_none() -> None:
    # Put in by firing, a successor is checked against its timer when it comes due.
    assert entry(W3).successor(W3) == replace(entry(W1), checked=True)
    assert entry(W1).successor(W1) == replace(entry(ANSWER_DUE), checked=True)
    assert entry(ANSWER_DUE).successor(ANSWER_DUE) is None
    # An entry of the earlier layout has no schedule days: its successors exist already.
    assert legacy(W3).successor(W3) is None


def test_warnings_missed_during_downtime_collapse_into_the_latest() -> None:
    late = almaty(2026, 3, 31, 12)
    # The generation's one entry stands for every moment up to its successor.
    firing = plan_firing(entry(W3), late)
    assert firing is not None and (firing.what, firing.days_left, firing.at) == ("warning", 1, W1)
    assert entry(W3).successor(firing.at) == replace(entry(ANSWER_DUE), checked=True)
    # Entries of the earlier layout leave it to the 1-day warning's own entry.
    assert plan_firing(legacy(W3), late) is None
    firing = plan_firing(legacy(W1), late)
    assert firing is not None and firing.days_left == 1


def test_a_passed_deadline_breaches_and_supersedes_unsent_warnings() -> None:
    now = almaty(2026, 4, 1, 18)
    firing = plan_firing(entry(W3), now)
    assert firing is not None and (firing.what, firing.at) == ("breach", ANSWER_DUE)
    assert entry(W3).successor(firing.at) is None
    assert plan_firing(legacy(W3), now) is None
    assert plan_firing(legacy(W1), now) is None
    firing = plan_firing(legacy(ANSWER_DUE), now)
    assert firing is not None and firing.what == "breach" and firing.days_left is None


def test_a_forwarding_term_with_one_warning_breaches_at_its_own_deadline() -> None:
    forwarding = timer(FORWARD_DUE)
    one_left = almaty(2026, 3, 10, 9)
    assert plan_firing(entry(FORWARD_DUE, forwarding), FORWARD_DUE).what == "breach"  # type: ignore[union-attr]
    assert plan_firing(entry(one_left, forwarding), FORWARD_DUE).what == "breach"  # type: ignore[union-attr]
    assert plan_firing(legacy(one_left, forwarding), FORWARD_DUE) is None


def test_a_breach_escalates_to_the_head_then_the_supervising_body() -> None:
    policy = SlaPolicy(supervisors={"astana-energy": "akimat-astana"})
    assert escalation_targets(policy, "astana-energy") == ["astana-energy:head", "akimat-astana"]
    assert escalation_targets(policy, "akimat-astana") == [
        "akimat-astana:head",
        "government-office",
    ]
    custom = SlaPolicy(escalation_levels=("supervisor", "prosecutor-general"))
    assert escalation_targets(custom, "akimat-abai") == ["government-office", "prosecutor-general"]


def test_two_calendar_months_clamp_to_the_end_of_the_month() -> None:
    assert add_calendar_months(date(2026, 3, 5), 2) == date(2026, 5, 5)
    assert add_calendar_months(date(2025, 12, 31), 2) == date(2026, 2, 28)
    assert add_calendar_months(date(2026, 11, 30), 2) == date(2027, 1, 30)


@pytest.mark.parametrize(
    ("new_due", "decided", "reason"),
    [
        (almaty(2026, 5, 5, 18), almaty(2026, 3, 27, 16), None),  # exactly two months
        (almaty(2026, 5, 6, 18), almaty(2026, 3, 27, 16), EXTENSION_TOO_LONG),
        (almaty(2026, 3, 31, 18), almaty(2026, 3, 27, 16), EXTENSION_NOT_LATER),
        (almaty(2026, 4, 20, 18), almaty(2026, 4, 2, 9), EXTENSION_AFTER_DEADLINE),
    ],
)
def test_an_extension_stands_only_within_two_months_of_receipt(
    new_due: datetime, decided: datetime, reason: str | None
) -> None:
    assert extension_refusal(CAL, POLICY, timer(), new_due, decided) == reason


def test_an_answered_timer_cannot_be_extended() -> None:
    refusal = extension_refusal(
        CAL, POLICY, timer(state=STOPPED), almaty(2026, 4, 20, 18), almaty(2026, 3, 27)
    )
    assert refusal == EXTENSION_AFTER_ANSWER


def test_an_accepted_extension_is_a_new_generation_with_fresh_warnings() -> None:
    extended = extension_changes(
        CAL, POLICY, timer(), almaty(2026, 4, 30, 18), almaty(2026, 3, 27, 16, 45)
    )
    assert extended.generation == 2
    assert extended.due_at == almaty(2026, 4, 30, 18)
    # Thu 30 Apr: from Mon 27 Apr three working days are left (28, 29, 30), from Wed 29 one.
    assert [w.at for w in extended.warnings] == [
        almaty(2026, 4, 27, 9),
        almaty(2026, 4, 29, 9),
    ]
    assert extended.moments[0] == almaty(2026, 4, 27, 9)


def test_an_answer_counts_working_days_from_registration_and_is_on_time_until_the_deadline() -> (
    None
):
    assert stop_outcome(CAL, timer(), almaty(2026, 3, 12, 17, 5)) == (True, 4)  # 6, 10, 11, 12 Mar
    assert stop_outcome(CAL, timer(), ANSWER_DUE) == (True, 15)
    # Thu 2 Apr is the 16th working day: late.
    assert stop_outcome(CAL, timer(), ANSWER_DUE + timedelta(hours=15)) == (False, 16)


def test_a_re_plan_keeps_a_bodys_date_on_a_working_day_and_never_moves_into_the_past() -> None:
    proposed = timer(almaty(2026, 4, 14, 12, 30), proposed=True, generation=2)
    # A working day at 12:30, as the body set it before the gate applied the rule: kept.
    assert replanned_due(CAL, proposed) == proposed.due_at
    # A decree that makes that Tuesday off moves it to the next working day's end.
    data = load_bundled_calendar_data()
    official = data["official_years"]["2026"]["days_off"]
    decree = {"year": 2026, "days_off": [*official, "2026-04-14"], "kurban_ait": "2026-05-27"}
    decreed = WorkingCalendar(with_decree(data, decree))
    assert replanned_due(decreed, proposed) == datetime(2026, 4, 15, 18, tzinfo=ALMATY)
    # Counted again, a deadline that would now lie before "now" is left as it was.
    assert replan_changes(decreed, POLICY, proposed, datetime(2026, 4, 20, tzinfo=ALMATY)) is None
