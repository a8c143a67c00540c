"""iKomek 109, e-Otinish and the HTTP gateway adapted onto the canonical draft, every new
validation rule with its error code, and Art. 64 registration across weekends and holidays
(services/intake/adapters.py, validation.py, registration.py).

Dates were counted by hand on the 2026 calendar: days off in March 2026 are Mon 9 Mar (8 Mar
fell on a Sunday) and Mon-Wed 23-25 Mar (Nauryz, 21-22 Mar being a weekend).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from contracts import (
    AppealKind,
    Call1414Appeal,
    Category,
    Channel,
    EOtinishAppeal,
    GeoPoint,
    HttpGatewayAppeal,
    IKomek109Appeal,
    Language,
)
from reference.calendar import WorkingCalendar
from services.common.messaging import Undecodable
from services.intake.adapters import (
    AppealDraft,
    Rejection,
    adapt_1414,
    adapt_eotinish,
    adapt_http,
    adapt_ikomek109,
)
from services.intake.registration import register

PLUS_5 = timezone(timedelta(hours=5))
NOW = datetime(2026, 3, 5, 13, 0, tzinfo=PLUS_5)

_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def valid_iin(seed: int | None = None) -> str:
    """A valid IIN (born 1985-07-12, century digit 3) with a random serial."""
    rng = random.Random(seed)
    while True:
        first = f"8507123{rng.randrange(10_000):04d}"
        digits = [int(c) for c in first]
        check = sum(d * w for d, w in zip(digits, _WEIGHTS_1, strict=True)) % 11
        if check == 10:
            check = sum(d * w for d, w in zip(digits, _WEIGHTS_2, strict=True)) % 11
        if check != 10:
            return first + str(check)


def ikomek(**changes: Any) -> dict[str, Any]:
    message = IKomek109Appeal.example().model_dump(mode="json")
    for key in ("location", "citizen"):
        message[key] = {**message[key], **changes.pop(key, {})}
    return {**message, **changes}


def eotinish(**changes: Any) -> dict[str, Any]:
    message = EOtinishAppeal.example().model_dump(mode="json")
    message["contacts"] = {**message["contacts"], **changes.pop("contacts", {})}
    return {**message, **changes}


def gateway(**changes: Any) -> dict[str, Any]:
    message = HttpGatewayAppeal.example().model_dump(mode="json")
    message["applicant"] = {**message["applicant"], **changes.pop("applicant", {})}
    return {**message, **changes}


def adapted(kind: str, message: dict[str, Any], now: datetime = NOW) -> AppealDraft | Rejection:
    if kind == "ikomek":
        return adapt_ikomek109(IKomek109Appeal.model_validate(message), now)
    if kind == "eotinish":
        return adapt_eotinish(EOtinishAppeal.model_validate(message), now)
    return adapt_http(HttpGatewayAppeal.model_validate(message), "reception", now)


def draft(kind: str, message: dict[str, Any], now: datetime = NOW) -> AppealDraft:
    outcome = adapted(kind, message, now)
    assert isinstance(outcome, AppealDraft), outcome
    return outcome


def errors_of(kind: str, message: dict[str, Any], now: datetime = NOW) -> set[tuple[str, str]]:
    outcome = adapted(kind, message, now)
    assert isinstance(outcome, Rejection), outcome
    return {(e.field, e.code) for e in outcome.errors}


# --- iKomek 109 ---------------------------------------------------------------------------


def test_an_ikomek_ticket_becomes_an_astana_complaint_with_its_district_kato_and_location() -> None:
    result = draft("ikomek", ikomek())

    assert result.channel is Channel.IKOMEK109
    assert result.channel_appeal_id == "IK-2026-0305-004512"
    assert result.kind is AppealKind.COMPLAINT
    assert result.category is Category.UTILITIES_HEATING  # HEATING
    assert result.region_kato == "711210000"  # ALMATY district of Astana
    assert result.location == GeoPoint(lat=51.128207, lon=71.430411)
    assert result.address == "Астана, Алматы ауданы, Тәуелсіздік даңғылы, 34"
    assert result.language is Language.RU
    assert result.applicant.name == "Айгүл Нұрланқызы Сейтқали"
    assert result.applicant.phone == "+77017654321"
    assert result.applicant.anonymous is False
    assert result.received_at == datetime(2026, 3, 5, 10, 2, 45, tzinfo=PLUS_5)


@pytest.mark.parametrize(
    ("code", "category"),
    [("HEALTHCARE", Category.HEALTH), ("UTILITY_BILL", Category.UTILITIES_BILLING)],
)
def test_ikomek_categories_map_onto_the_national_classifier(code: str, category: str) -> None:
    assert draft("ikomek", ikomek(category=code)).category is category


def test_an_ikomek_ticket_with_unknown_codes_and_a_point_off_the_globe_names_each_field() -> None:
    message = ikomek(
        category="TELEPORTATION",
        district="GOTHAM",
        location={"lat": 91.0, "lon": 71.4},
        citizen={"phone": "12345", "iin": "850712300001"},
        language="de",
        message=" ",
    )
    assert errors_of("ikomek", message) == {
        ("category", "category_unknown"),
        ("district", "district_unknown"),
        ("location", "location_out_of_range"),
        ("citizen.phone", "phone_format"),
        ("citizen.iin", "iin_check_digit"),
        ("language", "language_unknown"),
        ("message", "text_empty"),
    }


def test_an_ikomek_ticket_without_name_or_iin_is_anonymous_and_not_considered() -> None:
    outcome = adapted("ikomek", ikomek(citizen={"name": "  ", "iin": None}))
    assert isinstance(outcome, Rejection)
    assert outcome.reason_code == "anonymous_not_considered"
    assert outcome.applicant_contact is not None
    assert outcome.applicant_contact.phone == "+77017654321"  # to tell them why


def test_an_ikomek_ticket_without_a_ticket_number_is_not_the_format() -> None:
    with pytest.raises(Undecodable, match="ticket_no"):
        adapted("ikomek", ikomek(ticket_no="   "))


# --- e-Otinish ----------------------------------------------------------------------------


def test_an_eotinish_appeal_keeps_the_addressed_body_and_the_signed_iin() -> None:
    result = draft("eotinish", eotinish())

    assert result.channel is Channel.EOTINISH
    assert result.channel_appeal_id == "EO-2026-00417753"
    assert result.addressed_to == "astana-education"
    assert result.kind is AppealKind.REQUEST
    assert result.category is Category.OTHER  # e-Otinish sends none; routing decides
    assert result.region_kato == "711610000"
    assert result.subject == "Очередь в детский сад"
    assert result.applicant.iin == "850712400003"
    assert result.applicant.email == "d.zhaksybekova@example.kz"
    assert result.applicant.anonymous is False


def test_an_eotinish_appeal_breaking_every_rule_names_each_field() -> None:
    message = eotinish(
        applicant_iin="",
        applicant_name="",
        contacts={"phone": "+1 202 555 0100", "email": "not-an-address"},
        addressed_to="Astana Education!",
        kind="petition",
        region_kato="991210000",
        subject="x" * 501,
        body="y" * 20_001,
        submitted_at="2026-03-05 11:15",
    )
    assert errors_of("eotinish", message) == {
        ("applicant_iin", "required"),
        ("applicant_name", "required"),
        ("contacts.phone", "phone_format"),
        ("contacts.email", "email_format"),
        ("addressed_to", "agency_code_format"),
        ("kind", "kind_unknown"),
        ("region_kato", "kato_unknown_region"),
        ("subject", "too_long"),
        ("body", "text_too_long"),
        ("submitted_at", "timestamp_format"),
    }


@pytest.mark.parametrize(
    "email", ["a@b", "a b@example.kz", "@example.kz", "a@@example.kz", "a@-x.kz", "a@x..kz"]
)
def test_e_mail_addresses_without_a_dotted_domain_or_with_spaces_are_refused(email: str) -> None:
    assert errors_of("eotinish", eotinish(contacts={"email": email})) == {
        ("contacts.email", "email_format")
    }


def test_an_eotinish_appeal_older_than_the_calendar_is_refused_as_too_old() -> None:
    message = eotinish(submitted_at="2019-12-31T10:00:00+05:00")
    earliest = datetime(2025, 1, 1, tzinfo=PLUS_5)
    outcome = adapt_eotinish(EOtinishAppeal.model_validate(message), NOW, earliest)
    assert isinstance(outcome, Rejection)
    assert [(e.field, e.code) for e in outcome.errors] == [("submitted_at", "timestamp_too_old")]


# --- HTTP gateway -------------------------------------------------------------------------


def test_a_gateway_appeal_is_namespaced_by_the_client_that_sent_it() -> None:
    result = draft("http", gateway())

    assert result.channel is Channel.HTTP
    assert result.channel_appeal_id == "reception:VR-2026-031-88412"
    assert result.kind is AppealKind.COMPLAINT
    assert result.category is Category.ROADS
    assert result.language is Language.KK
    assert result.applicant.iin == "780215300007"


def test_a_gateway_appeal_of_a_named_applicant_needs_the_name() -> None:
    assert errors_of("http", gateway(applicant={"name": None})) == {("applicant.name", "required")}


def test_an_anonymous_corruption_report_through_the_gateway_is_urgent_without_identity() -> None:
    message = gateway(category="corruption", applicant={"anonymous": True, "name": None})
    result = draft("http", message)
    assert result.urgent is True
    assert result.applicant.iin is None and result.applicant.name is None


def test_an_anonymous_roads_complaint_through_the_gateway_is_not_considered() -> None:
    outcome = adapted("http", gateway(applicant={"anonymous": True}))
    assert isinstance(outcome, Rejection)
    assert [(e.field, e.code) for e in outcome.errors] == [
        ("applicant.anonymous", "anonymous_not_considered")
    ]


# --- anonymous, as the channels really send it -------------------------------------------


def without_person(kind: str, category: str) -> AppealDraft | Rejection:
    """A message of `kind` with no person data at all: the field left out, as the channels
    send an anonymous call, ticket or appeal."""
    if kind == "1414":
        call = Call1414Appeal.example().model_dump(mode="json")
        call.pop("caller")
        call.update(is_anonymous=False, topic_code=category)  # the flag is not even set
        return adapt_1414(Call1414Appeal.model_validate(call), NOW)
    if kind == "ikomek":
        ticket = {k: v for k, v in ikomek().items() if k != "citizen"}
        ticket["category"] = {"utilities.heating": "HEATING"}[category]  # no police at 109
        return adapt_ikomek109(IKomek109Appeal.model_validate(ticket), NOW)
    appeal = {k: v for k, v in gateway(category=category).items() if k != "applicant"}
    return adapt_http(HttpGatewayAppeal.model_validate(appeal), "reception", NOW)


@pytest.mark.parametrize("kind", ["1414", "ikomek", "http"])
def test_an_appeal_with_no_person_at_all_is_refused_by_the_anonymous_rule(kind: str) -> None:
    outcome = without_person(kind, "utilities.heating")
    assert isinstance(outcome, Rejection), outcome
    assert outcome.reason_code == "anonymous_not_considered"
    assert outcome.applicant_contact is None  # nobody to tell


@pytest.mark.parametrize("kind", ["1414", "http"])  # iKomek 109 takes no crime reports
def test_a_crime_report_with_no_person_at_all_is_registered_urgent(kind: str) -> None:
    outcome = without_person(kind, "police")
    assert isinstance(outcome, AppealDraft), outcome
    assert outcome.urgent and outcome.applicant.anonymous
    assert (outcome.applicant.iin, outcome.applicant.name, outcome.applicant.phone) == (
        None,
        None,
        None,
    )


def test_a_1414_caller_who_is_there_but_nameless_on_a_call_not_anonymous_is_an_error() -> None:
    call = Call1414Appeal.example().model_dump(mode="json")
    call["caller"] = {"phone": "+77011234567"}
    outcome = adapt_1414(Call1414Appeal.model_validate(call), NOW)
    assert isinstance(outcome, Rejection)
    assert {(e.field, e.code) for e in outcome.errors} == {("caller.last_name", "required")}


# --- Art. 64: registration on the next working day ----------------------------------------


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.default()


@pytest.mark.parametrize(
    ("received", "registered", "due"),
    [
        # Sat 21 Mar (Nauryz, weekend) → Sun 22 → Mon-Wed 23-25 off (Nauryz moved) → Thu 26.
        # Due: 27 (1), 30 (2), 31 (3), 1-3 Apr (4-6), 6-10 (7-11), 13-16 (12-15) → Thu 16 Apr.
        ("2026-03-21T10:00:00+05:00", "2026-03-26T09:00:00+05:00", "2026-04-16T18:00:00+05:00"),
        # Fri 20 Mar 18:00 is after hours → the next working day is Thu 26 Mar too.
        ("2026-03-20T18:00:00+05:00", "2026-03-26T09:00:00+05:00", "2026-04-16T18:00:00+05:00"),
        # Fri 20 Mar 17:59 is within hours: registered at once; day 0 = 20 Mar, then
        # 26, 27, 30, 31 Mar (1-4), 1-3 Apr (5-7), 6-10 (8-12), 13-15 (13-15) → Wed 15 Apr.
        ("2026-03-20T17:59:00+05:00", "2026-03-20T17:59:00+05:00", "2026-04-15T18:00:00+05:00"),
        # Thu 5 Mar 07:30 is before hours: 09:00 the same day.
        ("2026-03-05T07:30:00+05:00", "2026-03-05T09:00:00+05:00", "2026-04-01T18:00:00+05:00"),
        # 23:30 UTC on Wed 4 Mar is 04:30 on Thu 5 Mar in Astana: the local day counts.
        ("2026-03-04T23:30:00+00:00", "2026-03-05T09:00:00+05:00", "2026-04-01T18:00:00+05:00"),
    ],
    ids=["saturday-before-nauryz", "friday-after-hours", "friday-in-hours", "early", "utc"],
)
def test_an_appeal_received_outside_working_time_is_registered_on_the_next_working_day(
    calendar: WorkingCalendar, received: str, registered: str, due: str
) -> None:
    received_at = datetime.fromisoformat(received)
    result = draft("eotinish", eotinish(submitted_at=received), now=received_at)

    event = register(result, calendar, received_at, None, sequence=1)

    assert event.received_at == received_at
    assert event.registered_at == datetime.fromisoformat(registered)
    assert event.answer_due_at == datetime.fromisoformat(due)
    assert event.registration_number == f"ZP-{event.registered_at:%Y%m%d}-000001"


def test_valid_iin_helper_gives_iins_the_validator_accepts() -> None:
    from services.intake.validation import iin_problem

    assert all(iin_problem(valid_iin(seed)) is None for seed in range(50))
