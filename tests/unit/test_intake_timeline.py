"""The status page of an appeal, folded from lifecycle events (services/intake/timeline.py),
and the gateway's key configuration (services/intake/settings.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    DeadlineExtended,
    NotificationOutcome,
    SlaBreached,
    SlaStopped,
    SlaTimerStarted,
    SlaWarning,
)
from services.intake.settings import IntakeSettings, parse_api_keys
from services.intake.timeline import appeal_status, is_timeline_event, timeline_entry

REGISTERED = AppealRegistered.example()
PERSONAL = {"Айгүл", "+77017654321", "a.temirbekov", "холодные батареи"}


def entries(*events) -> list[dict]:
    return [timeline_entry(event) for event in events]


def test_a_fresh_appeal_is_registered_with_its_statutory_deadline_and_one_timeline_entry() -> None:
    status = appeal_status(REGISTERED, [])

    assert status["status"] == "registered"
    assert status["registration_number"] == "ZH-20260305-000123"
    assert status["current_body"] is None
    assert status["answer_due_at"] == "2026-04-01T18:00:00+05:00"
    assert [e["event_type"] for e in status["timeline"]] == ["appeal.registered"]


def test_the_status_follows_the_appeal_through_routing_acceptance_extension_and_answer() -> None:
    routed, accepted = AppealRouted.example(), AppealAccepted.example()
    extended, answered = DeadlineExtended.example(), AppealAnswered.example()
    # Delivered out of order from different topics: the fold orders by occurred_at.
    status = appeal_status(REGISTERED, entries(answered, routed, extended, accepted))

    assert status["status"] == "answered"
    assert status["current_body"] == "astana-energy"
    assert status["answer_due_at"] == "2026-04-30T18:00:00+05:00"  # extended
    assert status["forward_due_at"] is None  # accepted: forwarding no longer applies
    assert [e["event_type"] for e in status["timeline"]] == [
        "appeal.registered",
        "appeal.routed",
        "agency.accepted",
        "agency.answered",  # 12 Mar, before the (example's) extension of 27 Mar
        "agency.extended",
    ]


def test_an_answer_is_final_but_later_events_still_appear_in_the_timeline() -> None:
    status = appeal_status(
        REGISTERED, entries(AppealRouted.example(), AppealAnswered.example(), SlaBreached.example())
    )
    assert status["status"] == "answered"
    assert status["deadline_breached"] is True
    assert status["timeline"][-1]["event_type"] == "sla.breached"


def test_a_breached_deadline_makes_an_unanswered_appeal_overdue() -> None:
    status = appeal_status(
        REGISTERED,
        entries(
            AppealRouted.example(),
            SlaTimerStarted.example(),
            SlaWarning.example(),
            SlaBreached.example(),
        ),
    )
    assert status["status"] == "overdue"
    assert status["deadline_breached"] is True
    assert status["answer_due_at"] == "2026-04-01T18:00:00+05:00"


def test_a_redirected_appeal_has_no_current_body_until_routing_names_the_next() -> None:
    status = appeal_status(REGISTERED, entries(AppealRouted.example(), AppealRedirected.example()))
    assert status["status"] == "redirected"
    assert status["current_body"] is None


def test_an_appeal_waiting_for_a_human_triager_is_in_triage() -> None:
    assert appeal_status(REGISTERED, entries(AppealTriaged.example()))["status"] == "in_triage"


def test_the_status_page_shows_no_personal_data_of_the_applicant_or_the_officer() -> None:
    status = appeal_status(
        REGISTERED,
        entries(
            AppealRouted.example(),
            AppealAccepted.example(),
            AppealRedirected.example(),
            DeadlineExtended.example(),
            AppealAnswered.example(),
            SlaStopped.example(),
        ),
    )
    text = json.dumps(status, ensure_ascii=False)
    assert not {value for value in PERSONAL if value in text}
    keys = {key for entry in status["timeline"] for key in entry} | set(status)
    assert not keys & {"applicant", "officer", "text", "address", "location", "subject"}


def test_notifications_are_not_part_of_the_timeline() -> None:
    assert not is_timeline_event(NotificationOutcome.example())
    assert is_timeline_event(SlaStopped.example())


# --- gateway keys -------------------------------------------------------------------------


def test_api_keys_are_read_per_client() -> None:
    keys = parse_api_keys(" reception:0123456789abcdef , emailbridge:fedcba9876543210 ")
    assert keys == {"reception": b"0123456789abcdef", "emailbridge": b"fedcba9876543210"}


@pytest.mark.parametrize(
    "raw",
    [
        "reception",
        "Reception:0123456789abcdef",
        "reception:short",
        "a:0123456789abcdef,a:fedcba9876543210",
        "a:0123456789abcdef,b:0123456789abcdef",
    ],
    ids=["no key", "upper-case client", "short key", "client twice", "shared key"],
)
def test_a_malformed_key_list_is_refused_without_showing_the_keys(raw: str) -> None:
    with pytest.raises(ValidationError) as refused:
        IntakeSettings(api_keys=raw)
    assert "0123456789abcdef" not in str(refused.value)
    assert "fedcba9876543210" not in str(refused.value)


def test_the_keys_do_not_show_in_the_config_repr() -> None:
    config = IntakeSettings(api_keys="reception:0123456789abcdef")
    assert "0123456789abcdef" not in repr(config)
    assert config.gateway_keys() == {"reception": b"0123456789abcdef"}
    assert config.repeat_window.days == 90


def test_a_dismissed_appeal_is_final_and_the_citizen_sees_the_ground_not_the_operator() -> None:
    dismissed = AppealDismissed.example().model_copy(
        update={"occurred_at": AppealTriaged.example().occurred_at + timedelta(hours=1)}
    )
    late = AppealRouted.example().model_copy(
        update={"occurred_at": dismissed.occurred_at + timedelta(hours=1)}
    )
    ended = appeal_status(REGISTERED, entries(AppealTriaged.example(), dismissed))
    status = appeal_status(REGISTERED, entries(AppealTriaged.example(), dismissed, late))

    assert (ended["status"], ended["current_body"], ended["forward_due_at"]) == (
        "dismissed",
        None,
        None,
    )
    assert status["status"] == "dismissed"  # final: a later event does not change it
    [shown] = [e for e in status["timeline"] if e["event_type"] == "appeal.dismissed"]
    assert shown["reason_code"] == "no_substance" and shown["note"] == dismissed.note
    assert "decided_by" not in shown and dismissed.decided_by not in json.dumps(status)
