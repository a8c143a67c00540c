"""What each event adds to the assessment's tallies: the counting rules (pure).

An event counts once (its event id), on one local day (Asia/Almaty by default: the
calendar's zone), for one subject — a body (`body:<code>`) or a region of registration
(`region:<KATO 2 digits>`, `region:unknown` when the appeal had no place):

- `appeal.registered` → `registered`, on the registration day, for the region of its place;
- `sla.stopped` of an answer timer → `handled` (+ `handled_on_time`), on the day of the
  answer that stopped it (`decided_at`), for the body that answered (`answered_by`); not
  when the stop is a dismissal (left without consideration: no body handled it);
- `sla.breached` → `consideration_breaches` (answer) or `forwarding_breaches`, on the day of
  the deadline that passed, for the body that held the appeal then;
- `court.decided` → `court_decisions` (+ `court_satisfied`), on the day of the decision;
- `disciplinary.decided` → `disciplinary_decided` (+ `disciplinary_taken`), on the day of
  the breach's deadline;
- `repeat_complaint.decided` → `repeat_complaints` (+ `repeat_substantiated`), on the day
  of the verdict, for the body whose answer was contested;
- `answer.rated` → `rated` (+ `rated_satisfied`), on the day of the rating, for the body
  whose answer was rated.

Why these: an appeal is *handled* when a body answers it (an answer stops the answer timer,
on time or late); a redirect is not a handling — it moves the appeal and its one answer term
to another body, which handles it. A breach belongs to the period of the deadline that
passed, and to the body that held the appeal then (a forwarding breach to the body that
should have forwarded it). A disciplinary decision is counted with its breach, so "action
taken on breaches of the period" divides like with like. Everything else counts on the day
it was decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum

from contracts import (
    AnswerRated,
    AppealRegistered,
    CourtDecisionRecorded,
    DeadlineKind,
    DisciplinaryDecisionRecorded,
    Event,
    Rating,
    RepeatComplaintDecided,
    SlaBreached,
    SlaStopped,
)


class Metric(StrEnum):
    REGISTERED = "registered"
    HANDLED = "handled"
    HANDLED_ON_TIME = "handled_on_time"
    CONSIDERATION_BREACHES = "consideration_breaches"
    FORWARDING_BREACHES = "forwarding_breaches"
    COURT_DECISIONS = "court_decisions"
    COURT_SATISFIED = "court_satisfied"
    REPEAT_COMPLAINTS = "repeat_complaints"
    REPEAT_SUBSTANTIATED = "repeat_substantiated"
    DISCIPLINARY_DECIDED = "disciplinary_decided"
    DISCIPLINARY_TAKEN = "disciplinary_taken"
    RATED = "rated"
    RATED_SATISFIED = "rated_satisfied"


UNKNOWN_REGION = "unknown"


def body_subject(agency_code: str) -> str:
    return f"body:{agency_code}"


def region_subject(region: str) -> str:
    return f"region:{region}"


def region_of(kato: str | None) -> str:
    """The region (KATO's first two digits) a place is in; `unknown` without a place."""
    return kato[:2] if kato else UNKNOWN_REGION


@dataclass(frozen=True)
class Contribution:
    """What one event adds: `counts` (only metrics it raises) to `subject` on `day`."""

    day: date
    subject: str
    counts: Mapping[Metric, int]


def _flags(*pairs: tuple[Metric, bool]) -> dict[Metric, int]:
    return {metric: 1 for metric, raised in pairs if raised}


def contribution(event: Event, tz: tzinfo) -> Contribution | None:
    """What `event` adds to the tallies, or None when the assessment does not count it."""

    def local_day(moment: datetime) -> date:
        return moment.astimezone(tz).date()

    match event:
        case AppealRegistered():
            subject = region_subject(region_of(event.region_kato))
            return Contribution(local_day(event.registered_at), subject, {Metric.REGISTERED: 1})
        case SlaStopped(deadline_kind=DeadlineKind.ANSWER, dismissed=False):
            counts = _flags((Metric.HANDLED, True), (Metric.HANDLED_ON_TIME, event.on_time))
            day = local_day(event.decided_at or event.occurred_at)
            answered_by = event.answered_by or event.agency_code
            return Contribution(day, body_subject(answered_by), counts)
        case SlaBreached():
            metric = (
                Metric.CONSIDERATION_BREACHES
                if event.deadline_kind == DeadlineKind.ANSWER
                else Metric.FORWARDING_BREACHES
            )
            day = local_day(event.breached_at)
            return Contribution(day, body_subject(event.agency_code), {metric: 1})
        case CourtDecisionRecorded():
            counts = _flags(
                (Metric.COURT_DECISIONS, True), (Metric.COURT_SATISFIED, event.satisfied)
            )
            return Contribution(event.decided_on, body_subject(event.agency_code), counts)
        case DisciplinaryDecisionRecorded():
            counts = _flags(
                (Metric.DISCIPLINARY_DECIDED, True), (Metric.DISCIPLINARY_TAKEN, event.taken)
            )
            day = local_day(event.breached_at)
            return Contribution(day, body_subject(event.agency_code), counts)
        case RepeatComplaintDecided():
            counts = _flags(
                (Metric.REPEAT_COMPLAINTS, True),
                (Metric.REPEAT_SUBSTANTIATED, event.substantiated),
            )
            return Contribution(event.decided_on, body_subject(event.agency_code), counts)
        case AnswerRated():
            counts = _flags(
                (Metric.RATED, True), (Metric.RATED_SATISFIED, event.rating is Rating.SATISFIED)
            )
            return Contribution(
                local_day(event.occurred_at), body_subject(event.agency_code), counts
            )
    return None
