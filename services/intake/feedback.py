"""The citizen's answer to the answer: a rating of a body's answer, and a contest of it — a
repeat complaint to the body that supervises the one that answered (pure rules; the
service stores and publishes, the edges in app.py read the gateway and SMS replies).

Rules, and why:
- Only an answered appeal is rated or contested, and only within the contest period after
  its (latest) answer: `INTAKE_CONTEST_PERIOD_DAYS`, default 90 — the three months the
  Administrative Procedural Code gives for a complaint to the supervising body. Refused:
  `not_answered`, `contest_period_over` (409).
- One rating per appeal (event id from the appeal): the same rating again is the same
  rating (200, republished); another one is `already_rated` (409) — a citizen's verdict is
  recorded, not edited.
- A contest means "not satisfied" (a contest with `satisfied` is a 422 on `contest`). One
  contest per answer: registered through the gateway channel under the channel id
  `contest-<appeal id>`, so sending it again (or by the other path) returns the same repeat
  complaint, never a second one.
- The repeat complaint is a complaint of the same applicant, category and place, in the
  language the citizen wrote it in (else the original's), addressed to the supervising body
  (the answering body's parent in the registry), with `contests` naming the answer and
  `repeat_of` the original appeal. It is registered like any appeal: its own number, its own
  Art. 76 term, and routing sends it to that supervising body
  (`contest-to-supervising-body`). A body with no supervising body in the registry:
  `no_supervising_body` (409) — only a court remains.
- Proof of being the applicant: the lookup code from the registration notice (gateway), or
  the phone the notice went to (a reply to it); anything else is the same 404 as an unknown
  number, so neither path can be used to probe appeals.

SMS replies: `<registration number> 1` (satisfied), `<registration number> 2` (not
satisfied), `<registration number> 2 <text>` (not satisfied, and the text is the contest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from contracts import (
    AnswerRated,
    AppealKind,
    AppealRegistered,
    Channel,
    ContestedAnswer,
    Language,
    Rating,
    deterministic_id,
)
from reference.agencies import Agency, AgencyRegistry
from services.intake.adapters import AppealDraft

Via = Literal["gateway", "sms_reply"]
CONTEST_TEXT_MAX_CHARS = 5000
_SMS_REPLY = re.compile(
    r"^\s*(?P<number>[A-Z]{2}-\d{8}-\d{6})\s+(?P<digit>[12])(?:\s+(?P<text>.*\S))?\s*$",
    re.DOTALL | re.IGNORECASE,
)


class FeedbackRefused(Exception):
    """`status` and a stable `error` code, with the `reason` for a person."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.error, self.reason = status, error, reason


@dataclass(frozen=True)
class Feedback:
    rating: Rating
    contest_text: str | None
    contest_language: Language | None
    via: Via


def sms_reply(text: str) -> tuple[str, Feedback]:
    """(registration number, feedback) from a reply to a notice; FeedbackRefused (422) with
    the expected form when it is not one."""
    match = _SMS_REPLY.match(text)
    if match is None:
        raise FeedbackRefused(
            422,
            "reply_not_understood",
            "text: write the registration number and 1 (satisfied) or 2 (not satisfied), "
            "and after 2 your complaint, e.g. 'ZH-20260305-000123 2 the radiators are cold'",
        )
    rating = Rating.SATISFIED if match["digit"] == "1" else Rating.NOT_SATISFIED
    contest = match["text"] if rating is Rating.NOT_SATISFIED else None
    if match["text"] and rating is Rating.SATISFIED:
        raise FeedbackRefused(
            422, "reply_not_understood", "text: a complaint goes after 2 (not satisfied)"
        )
    return match["number"].upper(), Feedback(rating, contest, None, "sms_reply")


@dataclass(frozen=True)
class Answer:
    """The appeal's latest answer, as its timeline has it."""

    agency_code: str
    at: datetime
    event_id: str


def latest_answer(entries: list[dict[str, Any]]) -> Answer | None:
    answers = [e for e in entries if e["event_type"] == "agency.answered"]
    if not answers:
        return None
    last = max(answers, key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    return Answer(
        last["agency_code"], datetime.fromisoformat(last["occurred_at"]), last["event_id"]
    )


def previous_rating(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in entries if e["event_type"] == "answer.rated"), None)


def checked(
    registered: AppealRegistered,
    answer: Answer | None,
    feedback: Feedback,
    now: datetime,
    period: timedelta,
    registry: AgencyRegistry,
) -> tuple[Answer, Agency | None]:
    """The answer rated and, for a contest, the supervising body it goes to; raises
    FeedbackRefused when the rules above say no."""
    if answer is None:
        raise FeedbackRefused(409, "not_answered", "the appeal has no answer to rate yet")
    if now > answer.at + period:
        raise FeedbackRefused(
            409,
            "contest_period_over",
            f"the answer of {answer.at:%Y-%m-%d} can be rated or contested for "
            f"{period.days} days; that time is over",
        )
    if feedback.contest_text is None:
        return answer, None
    if feedback.rating is Rating.SATISFIED:
        raise FeedbackRefused(422, "invalid_feedback", "contest: a contest means not satisfied")
    if not feedback.contest_text.strip() or len(feedback.contest_text) > CONTEST_TEXT_MAX_CHARS:
        raise FeedbackRefused(
            422, "invalid_feedback", f"contest.text: 1 to {CONTEST_TEXT_MAX_CHARS} characters"
        )
    supervisor = registry.supervising_body(answer.agency_code)
    if supervisor is None:
        raise FeedbackRefused(
            409,
            "no_supervising_body",
            f"{answer.agency_code} has no supervising body to complain to; a court remains",
        )
    return answer, supervisor


def contest_channel_id(registered: AppealRegistered) -> str:
    return f"contest-{registered.appeal_id}"


def contest_draft(
    registered: AppealRegistered,
    answer: Answer,
    feedback: Feedback,
    supervisor: Agency,
    now: datetime,
) -> AppealDraft:
    assert feedback.contest_text is not None
    return AppealDraft(
        channel=Channel.HTTP,
        channel_appeal_id=contest_channel_id(registered),
        received_at=now,
        kind=AppealKind.COMPLAINT,
        language=feedback.contest_language or registered.language,
        category=registered.category,
        region_kato=registered.region_kato,
        address=registered.address,
        location=registered.location,
        subject=f"Complaint about the answer to {registered.registration_number}",
        text=feedback.contest_text.strip(),
        applicant=registered.applicant,
        addressed_to=supervisor.code,
        contests=ContestedAnswer(
            appeal_id=registered.appeal_id,
            registration_number=registered.registration_number,
            answered_by=answer.agency_code,
            answered_at=answer.at,
            answer_event_id=answer.event_id,
        ),
    )


def rated_event(
    registered: AppealRegistered,
    answer: Answer,
    feedback: Feedback,
    contest_appeal_id: str | None,
    now: datetime,
) -> AnswerRated:
    return AnswerRated(
        event_id=deterministic_id("answer.rated", registered.appeal_id),
        appeal_id=registered.appeal_id,
        occurred_at=now,
        correlation_id=registered.correlation_id,
        causation_id=answer.event_id,
        registration_number=registered.registration_number,
        agency_code=answer.agency_code,
        answer_event_id=answer.event_id,
        rating=feedback.rating,
        via=feedback.via,
        contest_appeal_id=contest_appeal_id,
    )
