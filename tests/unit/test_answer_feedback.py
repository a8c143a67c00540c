"""The citizen's answer to the answer at intake (services/intake/feedback.py): replies to a
notice read, and when a rating or a contest is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import AppealKind, AppealRegistered, Language, Rating
from reference.agencies import AgencyRegistry
from services.intake.feedback import (
    Answer,
    Feedback,
    FeedbackRefused,
    checked,
    contest_draft,
    latest_answer,
    sms_reply,
)

ALMATY = ZoneInfo("Asia/Almaty")
REGISTRY = AgencyRegistry.default()
ANSWERED = datetime(2026, 3, 12, 17, 5, tzinfo=ALMATY)
ANSWER = Answer("astana-energy", ANSWERED, "answer-1")
PERIOD = timedelta(days=90)
CONTEST = Feedback(Rating.NOT_SATISFIED, "Батареи всё ещё холодные.", None, "gateway")


@pytest.mark.parametrize(
    ("text", "number", "rating", "contest"),
    [
        ("ZH-20260305-000123 1", "ZH-20260305-000123", Rating.SATISFIED, None),
        ("  zh-20260305-000123   2 ", "ZH-20260305-000123", Rating.NOT_SATISFIED, None),
        (
            "ZH-20260305-000123 2 батареи\nвсё ещё холодные",
            "ZH-20260305-000123",
            Rating.NOT_SATISFIED,
            "батареи\nвсё ещё холодные",
        ),
    ],
)
def test_a_reply_names_the_appeal_the_rating_and_any_complaint(
    text: str, number: str, rating: Rating, contest: str | None
) -> None:
    read_number, feedback = sms_reply(text)
    assert (read_number, feedback.rating, feedback.contest_text) == (number, rating, contest)
    assert feedback.via == "sms_reply"


@pytest.mark.parametrize(
    "text", ["спасибо", "ZH-20260305-000123", "ZH-20260305-000123 3", "ZH-20260305-000123 1 ok"]
)
def test_a_reply_that_is_not_the_form_is_refused_with_the_form(text: str) -> None:
    with pytest.raises(FeedbackRefused) as refused:
        sms_reply(text)
    assert refused.value.status == 422 and refused.value.reason.startswith("text:")


def test_only_the_latest_answer_is_rated() -> None:
    entries = [
        {"event_type": "agency.answered", "occurred_at": "2026-03-12T17:05:00+05:00",
         "agency_code": "astana-energy", "event_id": "a1"},
        {"event_type": "agency.accepted", "occurred_at": "2026-03-13T09:00:00+05:00",
         "agency_code": "akimat-astana", "event_id": "x"},
        {"event_type": "agency.answered", "occurred_at": "2026-03-20T10:00:00+05:00",
         "agency_code": "akimat-astana", "event_id": "a2"},
    ]  # fmt: skip
    assert latest_answer(entries) == Answer(
        "akimat-astana", datetime.fromisoformat("2026-03-20T10:00:00+05:00"), "a2"
    )
    assert latest_answer(entries[1:2]) is None


def refusal(answer: Answer | None, feedback: Feedback, now: datetime) -> str:
    with pytest.raises(FeedbackRefused) as refused:
        checked(AppealRegistered.example(), answer, feedback, now, PERIOD, REGISTRY)
    return refused.value.error


def test_a_contest_needs_an_answer_within_the_period_and_a_supervising_body() -> None:
    soon = ANSWERED + timedelta(days=3)
    assert refusal(None, CONTEST, soon) == "not_answered"
    assert (
        refusal(ANSWER, CONTEST, ANSWERED + PERIOD + timedelta(seconds=1)) == "contest_period_over"
    )
    satisfied = Feedback(Rating.SATISFIED, "но всё плохо", None, "gateway")
    assert refusal(ANSWER, satisfied, soon) == "invalid_feedback"
    top = Answer("government-office", ANSWERED, "answer-1")  # supervised by no body
    assert refusal(top, CONTEST, soon) == "no_supervising_body"
    # Within the period, to the last second.
    _, supervisor = checked(
        AppealRegistered.example(), ANSWER, CONTEST, ANSWERED + PERIOD, PERIOD, REGISTRY
    )
    assert supervisor is not None and supervisor.code == "akimat-astana"


def test_a_rating_alone_needs_no_supervising_body() -> None:
    top = Answer("government-office", ANSWERED, "answer-1")
    rating = Feedback(Rating.NOT_SATISFIED, None, None, "gateway")
    assert checked(AppealRegistered.example(), top, rating, ANSWERED, PERIOD, REGISTRY) == (
        top,
        None,
    )


def test_the_repeat_complaint_is_the_applicants_complaint_to_the_supervisor() -> None:
    original = AppealRegistered.example()
    supervisor = REGISTRY.by_code["akimat-astana"]
    kk = Feedback(Rating.NOT_SATISFIED, "  Жауап формальды.  ", Language.KK, "gateway")
    draft = contest_draft(original, ANSWER, kk, supervisor, ANSWERED + timedelta(days=1))

    assert draft.kind is AppealKind.COMPLAINT
    assert draft.channel_appeal_id == f"contest-{original.appeal_id}"  # one per answer
    assert (draft.applicant, draft.category, draft.region_kato) == (
        original.applicant,
        original.category,
        original.region_kato,
    )
    assert (draft.language, draft.text) == (Language.KK, "Жауап формальды.")
    assert draft.addressed_to == "akimat-astana"
    assert draft.contests is not None
    assert (draft.contests.appeal_id, draft.contests.answered_by) == (
        original.appeal_id,
        "astana-energy",
    )
