"""From a 1414 call to a registration (services/intake/adapters.py, registration.py).

Expected dates come from DESIGN.md §2 and were counted by hand on the 2026 calendar
(days off in March 2026: Mon 9 Mar for 8 Mar on a Sunday; 23-25 Mar for Nauryz).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from contracts import AppealKind, Call1414Appeal, Category, Channel, Language
from reference.calendar import WorkingCalendar
from services.intake.adapters import AppealDraft, Rejection, adapt_1414
from services.intake.registration import register, registration_number, rejected_event

PLUS_5 = timezone(timedelta(hours=5))
THU_5_MARCH_10_15 = datetime(2026, 3, 5, 10, 15, tzinfo=PLUS_5)
LATER_THAT_DAY = datetime(2026, 3, 5, 12, 0, tzinfo=PLUS_5)


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.default()


def call_1414(**changes: Any) -> Call1414Appeal:
    """A well-formed, valid 1414 call; `changes` replace top-level keys, `caller` is merged."""
    message: dict[str, Any] = {
        "call_id": "1414-20260305-1015-0001",
        "call_started_at": "2026-03-05T10:15:00+05:00",
        "operator_login": "op.zhanar.k",
        "caller": {
            "iin": "900101300017",
            "last_name": "Ахметов",
            "first_name": "Ерлан",
            "middle_name": "Серікұлы",
            "phone": "8 701 123 45 67",
        },
        "is_anonymous": False,
        "lang": "kk",
        "appeal_type": "ZHALOBA",
        "topic_code": "utilities.heating",
        "kato_code": "711210000",
        "address": "Астана, Бауыржан Момышұлы даңғылы, 12, 45-пәтер",
        "summary": "  Үш күннен бері пәтерде жылу жоқ.  ",
    }
    message["caller"] = {**message["caller"], **changes.pop("caller", {})}
    message.update(changes)
    return Call1414Appeal.model_validate(message)


def draft_of(call: Call1414Appeal, now: datetime = LATER_THAT_DAY) -> AppealDraft:
    outcome = adapt_1414(call, now)
    assert isinstance(outcome, AppealDraft), outcome
    return outcome


def rejection_of(call: Call1414Appeal, now: datetime = LATER_THAT_DAY) -> Rejection:
    outcome = adapt_1414(call, now)
    assert isinstance(outcome, Rejection), outcome
    return outcome


# --- adapting a 1414 call -----------------------------------------------------------------


def test_a_valid_call_becomes_a_draft_in_canonical_terms() -> None:
    draft = draft_of(call_1414())

    assert draft.channel is Channel.CALL_1414
    assert draft.channel_appeal_id == "1414-20260305-1015-0001"
    assert draft.received_at == THU_5_MARCH_10_15
    assert draft.kind is AppealKind.COMPLAINT  # ZHALOBA is Russian for complaint
    assert draft.language is Language.KK
    assert draft.category is Category.UTILITIES_HEATING
    assert draft.region_kato == "711210000"
    assert draft.text == "Үш күннен бері пәтерде жылу жоқ."  # operator's stray spaces trimmed
    assert draft.applicant.phone == "+77011234567"  # "8 701 123 45 67" normalised
    assert draft.applicant.name == "Ахметов Ерлан Серікұлы"  # last, first, patronymic
    assert draft.applicant.iin == "900101300017"
    assert draft.applicant.anonymous is False
    assert draft.urgent is False


def test_a_caller_without_a_patronymic_is_named_by_last_and_first_name() -> None:
    draft = draft_of(call_1414(caller={"middle_name": None}))
    assert draft.applicant.name == "Ахметов Ерлан"


def test_a_call_with_five_bad_fields_is_rejected_listing_each_with_its_code() -> None:
    call = call_1414(
        caller={"iin": "900101300018"},  # check digit should be 7
        lang="de",
        topic_code="utilities.teleportation",
        kato_code="71121000",  # 8 digits
        summary="   ",
    )

    rejection = rejection_of(call)

    assert rejection.reason_code == "validation_failed"
    assert rejection.channel is Channel.CALL_1414
    assert rejection.channel_appeal_id == call.call_id
    assert {(e.field, e.code) for e in rejection.errors} == {
        ("caller.iin", "iin_check_digit"),
        ("lang", "language_unknown"),
        ("topic_code", "category_unknown"),
        ("kato_code", "kato_format"),
        ("summary", "text_empty"),
    }
    # The phone was fine, so the channel can still call the citizen back.
    assert rejection.applicant_contact is not None
    assert rejection.applicant_contact.phone == "+77011234567"


def test_a_call_from_the_future_is_rejected() -> None:
    rejection = rejection_of(call_1414(), now=THU_5_MARCH_10_15 - timedelta(minutes=6))
    assert [(e.field, e.code) for e in rejection.errors] == [
        ("call_started_at", "timestamp_in_future")
    ]


def test_an_anonymous_call_about_heating_is_not_considered() -> None:
    call = call_1414(is_anonymous=True, caller={"iin": None})

    rejection = rejection_of(call)

    assert rejection.reason_code == "anonymous_not_considered"
    assert [(e.field, e.code) for e in rejection.errors] == [
        ("is_anonymous", "anonymous_not_considered")
    ]
    # Identity is not kept for an anonymous caller, only the number to tell them why.
    assert rejection.applicant_contact is not None
    assert rejection.applicant_contact.iin is None
    assert rejection.applicant_contact.name is None


def test_an_anonymous_report_to_the_police_is_registered_as_urgent_without_identity() -> None:
    # The operator recorded an IIN anyway (a wrong one); for an anonymous caller it is
    # neither checked nor kept.
    call = call_1414(is_anonymous=True, topic_code="police", caller={"iin": "900101300018"})

    draft = draft_of(call)

    assert draft.category is Category.POLICE
    assert draft.urgent is True
    assert draft.applicant.anonymous is True
    assert draft.applicant.iin is None
    assert draft.applicant.name is None


# --- registration -------------------------------------------------------------------------


def test_a_call_within_working_hours_is_registered_at_once_and_due_in_15_working_days(
    calendar: WorkingCalendar,
) -> None:
    # DESIGN.md §2 worked example. Thu 5 Mar is day 0; working days after it:
    # 6 (1), [9 off], 10-13 (2-5), 16-20 (6-10), [23-25 off], 26 (11), 27 (12),
    # 30 (13), 31 (14), Wed 1 Apr (15) -> due 1 Apr 18:00.
    event = register(draft_of(call_1414()), calendar, LATER_THAT_DAY, None, sequence=1)

    assert event.registered_at == THU_5_MARCH_10_15
    assert event.answer_due_at == datetime(2026, 4, 1, 18, 0, tzinfo=PLUS_5)
    assert event.received_at == THU_5_MARCH_10_15
    assert event.occurred_at == LATER_THAT_DAY
    assert event.kind is AppealKind.COMPLAINT
    assert event.urgent is False


def test_a_call_on_saturday_is_registered_on_tuesday_because_monday_9_march_is_off(
    calendar: WorkingCalendar,
) -> None:
    # Sat 7 and Sun 8 Mar are the weekend; 8 Mar (a holiday) fell on Sunday and moved to
    # Mon 9 Mar, so the next working day is Tue 10 Mar, registered at 09:00.
    # Due: day 0 = 10 Mar; 11-13 (1-3), 16-20 (4-8), [23-25 off], 26 (9), 27 (10),
    # 30 (11), 31 (12), 1 Apr (13), 2 Apr (14), Fri 3 Apr (15) -> 3 Apr 18:00.
    call = call_1414(call_started_at="2026-03-07T11:00:00+05:00")
    saturday_a_minute_later = datetime(2026, 3, 7, 11, 1, tzinfo=PLUS_5)

    event = register(
        draft_of(call, now=saturday_a_minute_later),
        calendar,
        saturday_a_minute_later,
        None,
        sequence=7,
    )

    assert event.registered_at == datetime(2026, 3, 10, 9, 0, tzinfo=PLUS_5)
    assert event.answer_due_at == datetime(2026, 4, 3, 18, 0, tzinfo=PLUS_5)
    assert event.registration_number == "ZH-20260310-000007"


def test_the_registration_number_names_the_kind_the_day_and_the_days_sequence_number(
    calendar: WorkingCalendar,
) -> None:
    event = register(draft_of(call_1414()), calendar, LATER_THAT_DAY, None, sequence=123)
    assert event.registration_number == "ZH-20260305-000123"


def test_the_registration_number_prefix_follows_the_kind_of_appeal(
    calendar: WorkingCalendar,
) -> None:
    draft = draft_of(call_1414(appeal_type="PREDLOZHENIE"))
    proposal = register(draft, calendar, LATER_THAT_DAY, None, sequence=1)
    assert proposal.kind is AppealKind.PROPOSAL
    assert proposal.registration_number.startswith("PR-20260305-")


def test_registering_the_same_draft_twice_gives_the_same_ids_and_number(
    calendar: WorkingCalendar,
) -> None:
    draft = draft_of(call_1414())
    first = register(draft, calendar, LATER_THAT_DAY, None, sequence=5)
    # A redelivery is processed later, with another correlation id: the ids must not move.
    again = register(
        draft, calendar, LATER_THAT_DAY + timedelta(hours=1), "another-correlation", sequence=5
    )

    assert again.appeal_id == first.appeal_id
    assert again.event_id == first.event_id
    assert again.registration_number == first.registration_number


def test_a_different_call_id_gives_a_different_appeal_and_event(
    calendar: WorkingCalendar,
) -> None:
    first = register(draft_of(call_1414()), calendar, LATER_THAT_DAY, None, sequence=1)
    other = register(
        draft_of(call_1414(call_id="1414-20260305-1015-0002")),
        calendar,
        LATER_THAT_DAY,
        None,
        sequence=2,
    )

    assert other.appeal_id != first.appeal_id
    assert other.event_id != first.event_id
    assert other.registration_number == "ZH-20260305-000002"


def test_the_appeal_id_is_the_correlation_id_unless_one_is_given(
    calendar: WorkingCalendar,
) -> None:
    draft = draft_of(call_1414())
    assert register(draft, calendar, LATER_THAT_DAY, None, sequence=1).correlation_id == (
        register(draft, calendar, LATER_THAT_DAY, None, sequence=1).appeal_id
    )
    assert (
        register(draft, calendar, LATER_THAT_DAY, "corr-1", sequence=1).correlation_id == "corr-1"
    )


def test_the_registration_number_has_six_digits_and_sorts_by_day_then_sequence() -> None:
    day = THU_5_MARCH_10_15.date()
    numbers = [
        registration_number(AppealKind.COMPLAINT, day + timedelta(days=1), 1),
        registration_number(AppealKind.COMPLAINT, day, 10),
        registration_number(AppealKind.COMPLAINT, day, 9),
    ]
    assert sorted(numbers) == ["ZH-20260305-000009", "ZH-20260305-000010", "ZH-20260306-000001"]
    assert registration_number(AppealKind.REQUEST, day, 1) == "ZP-20260305-000001"
    with pytest.raises(ValueError):
        registration_number(AppealKind.REQUEST, day, 0)


def test_an_urgent_anonymous_report_is_registered_with_the_urgent_flag(
    calendar: WorkingCalendar,
) -> None:
    call = call_1414(is_anonymous=True, topic_code="police", caller={"iin": None})
    event = register(draft_of(call), calendar, LATER_THAT_DAY, None, sequence=1)
    assert event.urgent is True
    assert event.applicant.iin is None and event.applicant.name is None


# --- rejected event -----------------------------------------------------------------------


def test_the_rejected_event_carries_every_error_and_the_reason() -> None:
    rejection = rejection_of(call_1414(lang="de", kato_code="71121000"))

    event = rejected_event(rejection, LATER_THAT_DAY, None)

    assert event.reason_code == "validation_failed"
    assert event.errors == rejection.errors
    assert {e.field for e in event.errors} == {"lang", "kato_code"}
    assert event.channel is Channel.CALL_1414
    assert event.channel_appeal_id == "1414-20260305-1015-0001"
    assert event.applicant_contact == rejection.applicant_contact


def test_rejecting_the_same_call_twice_gives_the_same_event_id() -> None:
    rejection = rejection_of(call_1414(lang="de"))
    first = rejected_event(rejection, LATER_THAT_DAY, None)
    again = rejected_event(rejection, LATER_THAT_DAY + timedelta(hours=1), None)
    assert again.event_id == first.event_id
    assert again.appeal_id == first.appeal_id
