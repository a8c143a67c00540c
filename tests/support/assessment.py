"""A generated quarter for the assessment tests, and its tables counted by hand.

`generate(seed, period, n)` makes `n` appeals of the period (and a few days either side, so
the boundaries are exercised), each with what happened to it: where it was registered,
which body answered and when (on time or late), which deadlines were breached and when,
court decisions, repeat complaints and their verdicts, disciplinary decisions on breaches.
Moments fall at any minute of the day, so a UTC date and the local (Asia/Almaty) day often
differ near midnight.

`expected_*` count the tables straight from those facts, with their own arithmetic
(fractions, round half away from zero) — not with the code under test. `events_of` and
`outcome_forms_of` turn the facts into what the system sees: events on the topics, and the
forms an `outcome-registrar` posts.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from contracts import (
    AnswerRated,
    AppealRegistered,
    DeadlineKind,
    Event,
    Rating,
    SlaBreached,
    SlaStopped,
    deterministic_id,
)
from reference.agencies import AgencyRegistry, Level

ALMATY = ZoneInfo("Asia/Almaty")
COUNT_COLUMNS = (
    "handled",
    "handled_on_time",
    "consideration_breaches",
    "forwarding_breaches",
    "court_decisions",
    "court_satisfied",
    "repeat_complaints",
    "repeat_substantiated",
    "disciplinary_decided",
    "disciplinary_taken",
    "rated",
    "rated_satisfied",
)
"""Table 2's counts; the percentages are `PERCENT_COLUMNS`."""
PERCENT_COLUMNS = ("on_time_percent", "disciplinary_percent", "satisfied_percent")
REGIONS = ["10", "11", "15", "19", "35", "55", "63", "71", "75", "79"]


@dataclass
class Breach:
    kind: DeadlineKind
    body: str
    at: datetime
    disciplinary: tuple[bool, date] | None = None  # (taken, decided on)


@dataclass
class Appeal:
    appeal_id: str
    kato: str | None
    registered_at: datetime
    body: str
    answered_at: datetime | None = None
    on_time: bool = False
    breaches: list[Breach] = field(default_factory=list)
    court: tuple[str, bool, date] | None = None  # (case number, satisfied, decided on)
    repeat: tuple[str, bool, date] | None = None  # (repeat complaint id, substantiated, on)
    rating: tuple[bool, datetime] | None = None  # (satisfied, when the citizen rated)


@dataclass(frozen=True)
class Window:
    first: date
    last: date

    def has(self, day: date) -> bool:
        return self.first <= day <= self.last


def local_day(moment: datetime) -> date:
    return moment.astimezone(ALMATY).date()


def generate(
    seed: int,
    window: Window,
    n: int,
    registry: AgencyRegistry,
    favoured: tuple[str, ...] = (),
) -> list[Appeal]:
    """`favoured` regions get half of the appeals between them (so a year can shrink in
    some regions and grow in others)."""
    rng = random.Random(seed)
    # Bodies with a supervising body, so a repeat complaint has someone to decide it.
    bodies = sorted(code for code, a in registry.by_code.items() if a.parent)
    start = datetime.combine(window.first - timedelta(days=4), datetime.min.time(), ALMATY)
    minutes = int((window.last - window.first).days + 9) * 24 * 60
    appeals = []
    for i in range(n):
        registered = start + timedelta(minutes=rng.randrange(minutes))
        if favoured and rng.random() < 0.5:
            region: str | None = rng.choice(favoured)
        else:
            region = rng.choice(REGIONS) if rng.random() > 0.05 else None
        kato = None if region is None else region + f"{rng.randrange(10**7):07d}"
        appeal = Appeal(
            appeal_id=deterministic_id("assessment-fixture", str(seed), str(i)),
            kato=kato,
            registered_at=registered,
            body=rng.choice(bodies),
        )
        due = registered + timedelta(days=21, minutes=rng.randrange(-600, 600))
        fate = rng.random()
        if fate < 0.70:  # answered on time
            appeal.answered_at = registered + (due - registered) * rng.uniform(0.05, 0.98)
            appeal.on_time = True
        elif fate < 0.85:  # breached, answered late
            appeal.breaches.append(Breach(DeadlineKind.ANSWER, appeal.body, due))
            appeal.answered_at = due + timedelta(minutes=rng.randrange(30, 20000))
        else:  # breached, never answered (silence)
            appeal.breaches.append(Breach(DeadlineKind.ANSWER, appeal.body, due))
        if rng.random() < 0.08:  # a body that should have forwarded it did not, in time
            first_body = rng.choice([b for b in bodies if b != appeal.body])
            forward_due = registered + timedelta(days=4, minutes=rng.randrange(-300, 300))
            appeal.breaches.append(Breach(DeadlineKind.FORWARDING, first_body, forward_due))
        for breach in appeal.breaches:
            if rng.random() < 0.5:
                taken = rng.random() < 0.4
                decided = local_day(breach.at) + timedelta(days=rng.randrange(1, 20))
                breach.disciplinary = (taken, decided)
        if appeal.answered_at is not None and rng.random() < 0.05:
            decided = local_day(appeal.answered_at) + timedelta(days=rng.randrange(5, 40))
            appeal.court = (f"CASE-{seed}-{i}", rng.random() < 0.3, decided)
        if appeal.answered_at is not None and rng.random() < 0.06:
            decided = local_day(appeal.answered_at) + timedelta(days=rng.randrange(3, 30))
            repeat_id = deterministic_id("assessment-fixture-repeat", str(seed), str(i))
            appeal.repeat = (repeat_id, rng.random() < 0.45, decided)
        if appeal.answered_at is not None and rng.random() < 0.3:
            rated_at = appeal.answered_at + timedelta(minutes=rng.randrange(10, 30000))
            appeal.rating = (rng.random() < 0.6, rated_at)
        appeals.append(appeal)
    return appeals


# --- the hand count ---------------------------------------------------------------------


def pct(part: int, whole: int) -> float | None:
    """part / whole in percent, one decimal, ties away from zero; None for whole == 0."""
    if whole == 0:
        return None
    tenths = Fraction(part * 1000, whole)
    rounded = math.floor(abs(tenths) + Fraction(1, 2))
    return math.copysign(rounded, tenths) / 10 if rounded else 0.0


def expected_bodies(appeals: list[Appeal], window: Window) -> dict[str, dict[str, Any]]:
    """agency code → the table-2 cells (counts and percentages) of bodies with any count."""
    rows: dict[str, Counter[str]] = {}

    def add(body: str, cell: str) -> None:
        rows.setdefault(body, Counter())[cell] += 1

    for a in appeals:
        if a.answered_at is not None and window.has(local_day(a.answered_at)):
            add(a.body, "handled")
            if a.on_time:
                add(a.body, "handled_on_time")
        for b in a.breaches:
            if window.has(local_day(b.at)):
                kind = "consideration" if b.kind is DeadlineKind.ANSWER else "forwarding"
                add(b.body, f"{kind}_breaches")
                if b.disciplinary is not None:
                    add(b.body, "disciplinary_decided")
                    if b.disciplinary[0]:
                        add(b.body, "disciplinary_taken")
        if a.court is not None and window.has(a.court[2]):
            add(a.body, "court_decisions")
            if a.court[1]:
                add(a.body, "court_satisfied")
        if a.rating is not None and window.has(local_day(a.rating[1])):
            add(a.body, "rated")
            if a.rating[0]:
                add(a.body, "rated_satisfied")
        if a.repeat is not None and window.has(a.repeat[2]):
            add(a.body, "repeat_complaints")
            if a.repeat[1]:
                add(a.body, "repeat_substantiated")
    return {body: with_percentages(counts) for body, counts in rows.items()}


def with_percentages(counts: Counter[str]) -> dict[str, Any]:
    cells: dict[str, Any] = dict(counts)
    cells["on_time_percent"] = pct(counts["handled_on_time"], counts["handled"])
    breaches = counts["consideration_breaches"] + counts["forwarding_breaches"]
    cells["disciplinary_percent"] = pct(counts["disciplinary_taken"], breaches)
    cells["satisfied_percent"] = pct(counts["rated_satisfied"], counts["rated"])
    return cells


def expected_levels(
    bodies: dict[str, dict[str, Any]], registry: AgencyRegistry
) -> dict[str, dict[str, Any]]:
    totals: dict[str, Counter[str]] = {}
    for code, cells in bodies.items():
        level = "central" if registry.by_code[code].level is Level.NATIONAL else "local"
        total = totals.setdefault(level, Counter())
        total.update({k: v for k, v in cells.items() if not k.endswith("_percent")})
    return {level: with_percentages(total) for level, total in totals.items()}


def expected_regions(appeals: list[Appeal], window: Window) -> Counter[str]:
    """KATO region (or `unknown`) → appeals registered in the window."""
    return Counter(
        (a.kato[:2] if a.kato else "unknown")
        for a in appeals
        if window.has(local_day(a.registered_at))
    )


# --- what the system sees ----------------------------------------------------------------


def _utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat()


def events_of(appeal: Appeal) -> list[Event]:
    """The registration, sla's events and the citizen's rating for `appeal` (timestamps in
    UTC, as a producer anywhere might write them)."""
    template = AppealRegistered.example().model_dump(mode="json")
    registration = AppealRegistered.model_validate(
        {
            **template,
            "event_id": deterministic_id("registered", appeal.appeal_id),
            "appeal_id": appeal.appeal_id,
            "correlation_id": appeal.appeal_id,
            "registration_number": f"ZH-{appeal.appeal_id[:8]}",
            "channel_appeal_id": appeal.appeal_id,
            "region_kato": appeal.kato,
            "location": None,
            "received_at": _utc(appeal.registered_at),
            "registered_at": _utc(appeal.registered_at),
            "occurred_at": _utc(appeal.registered_at),
        }
    )
    events: list[Event] = [registration]
    for breach in appeal.breaches:
        timer = f"{appeal.appeal_id}:{breach.kind}"
        events.append(
            SlaBreached(
                event_id=deterministic_id("breached", timer, breach.body),
                appeal_id=appeal.appeal_id,
                correlation_id=appeal.appeal_id,
                occurred_at=_utc(breach.at + timedelta(seconds=1)),
                timer_id=timer,
                deadline_kind=breach.kind,
                agency_code=breach.body,
                due_at=_utc(breach.at),
                generation=1,
                escalate_to=[],
                breached_at=_utc(breach.at),
            )
        )
    if appeal.answered_at is not None:
        events.append(
            SlaStopped(
                event_id=deterministic_id("stopped", appeal.appeal_id),
                appeal_id=appeal.appeal_id,
                correlation_id=appeal.appeal_id,
                # Processed a little later than decided: the decision's day counts.
                occurred_at=_utc(appeal.answered_at + timedelta(minutes=3)),
                timer_id=f"{appeal.appeal_id}:answer",
                deadline_kind=DeadlineKind.ANSWER,
                agency_code=appeal.body,
                due_at=_utc(appeal.registered_at + timedelta(days=21)),
                generation=1,
                on_time=appeal.on_time,
                working_days_used=10,
                stopped_by_event_id=deterministic_id("answered", appeal.appeal_id),
                decided_at=_utc(appeal.answered_at),
            )
        )
    if appeal.rating is not None:
        satisfied, rated_at = appeal.rating
        events.append(
            AnswerRated(
                event_id=deterministic_id("rated", appeal.appeal_id),
                appeal_id=appeal.appeal_id,
                correlation_id=appeal.appeal_id,
                occurred_at=_utc(rated_at),
                registration_number=f"ZH-{appeal.appeal_id[:8]}",
                agency_code=appeal.body,
                answer_event_id=deterministic_id("answered", appeal.appeal_id),
                rating=Rating.SATISFIED if satisfied else Rating.NOT_SATISFIED,
                via="gateway",
                contest_appeal_id=None,
            )
        )
    return events


def outcome_forms_of(appeal: Appeal, registry: AgencyRegistry) -> list[tuple[str, dict]]:
    """(path, form) of each outcome an `outcome-registrar` records for `appeal`."""
    forms: list[tuple[str, dict]] = []
    if appeal.court is not None:
        case, satisfied, on = appeal.court
        forms.append(
            (
                "/v1/outcomes/court-decisions",
                {
                    "appeal_id": appeal.appeal_id,
                    "agency_code": appeal.body,
                    "decided_on": on.isoformat(),
                    "case_number": case,
                    "satisfied": satisfied,
                },
            )
        )
    if appeal.repeat is not None:
        repeat_id, substantiated, on = appeal.repeat
        forms.append(
            (
                "/v1/outcomes/repeat-complaint-verdicts",
                {
                    "appeal_id": repeat_id,
                    "original_appeal_id": appeal.appeal_id,
                    "agency_code": appeal.body,
                    "decided_by": registry.by_code[appeal.body].parent,
                    "decided_on": on.isoformat(),
                    "substantiated": substantiated,
                },
            )
        )
    for breach in appeal.breaches:
        if breach.disciplinary is not None:
            taken, on = breach.disciplinary
            forms.append(
                (
                    "/v1/outcomes/disciplinary-decisions",
                    {
                        "appeal_id": appeal.appeal_id,
                        "agency_code": breach.body,
                        "deadline_kind": str(breach.kind),
                        "breached_at": _utc(breach.at),
                        "decided_on": on.isoformat(),
                        "taken": taken,
                    },
                )
            )
    return forms


def outcome_events_of(appeal: Appeal, registry: AgencyRegistry) -> list[Event]:
    """The events recording `appeal`'s outcomes, as `outcome_forms_of` would make them."""
    from services.sla.assessment.outcomes import (
        CourtDecisionForm,
        DisciplinaryDecisionForm,
        RepeatComplaintVerdictForm,
        event_of,
    )

    kinds = {
        "/v1/outcomes/court-decisions": CourtDecisionForm,
        "/v1/outcomes/disciplinary-decisions": DisciplinaryDecisionForm,
        "/v1/outcomes/repeat-complaint-verdicts": RepeatComplaintVerdictForm,
    }
    now = datetime(2026, 3, 1, tzinfo=ALMATY)
    return [
        event_of(kinds[path].model_validate(form), "registrar", now)
        for path, form in outcome_forms_of(appeal, registry)
    ]
