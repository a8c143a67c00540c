"""Recording what is decided outside the backbone — a court's decision on an appeal, a
body's disciplinary decision on a breach, a supervising body's verdict on a repeat
complaint — as events on `appeals.outcomes.v1`, so the assessment counts them.

A form is checked (known bodies; a verdict decided by the supervising body of the body
complained about — the registry's parent; no decision dated in the future), made into its
event with a deterministic id (one court decision per appeal and case number, one
disciplinary decision per breach, one verdict per repeat complaint), stored under that id
(`outcomes`), then published. Recording the same decision again answers the stored event
and publishes it again (the same id: counted once), so a retry after a lost answer or a
crash between storing and publishing is safe; a *different* decision under the same id is
refused (`already_recorded`): a recorded decision is final, a correction is a matter for
the operators, not a second event. The log of first copies is shared with the assessment's
consumer, which counts every outcome as first stored: a verdict routing published from the
supervising body's answer and one a registrar records later are one verdict, counted once
(the registrar's, if different, is refused).

Trusted callers: the role `outcome-registrar` (see services/common/auth/roles.py). Whether
the appeal and the breach exist is not checked here (sla does not keep every appeal; the
tables count what was recorded).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from contracts import (
    APPEAL_OUTCOME_ADAPTER,
    AgencyCode,
    AppealOutcome,
    CourtDecisionRecorded,
    DeadlineKind,
    DisciplinaryDecisionRecorded,
    RepeatComplaintDecided,
    deterministic_id,
    verdict_event_id,
)
from contracts.common import NonEmptyStr
from reference.agencies import AgencyRegistry
from services.common.messaging import insert_once

OUTCOMES = "outcomes"
_ENVELOPE = {"event_id", "occurred_at", "recorded_by", "correlation_id", "causation_id"}


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    appeal_id: NonEmptyStr
    agency_code: AgencyCode = Field(description="The body whose handling is judged.")
    decided_on: date = Field(description="Day of the decision (not in the future).")


class CourtDecisionForm(_Form):
    case_number: NonEmptyStr
    satisfied: bool = Field(description="The court found for the applicant.")


class DisciplinaryDecisionForm(_Form):
    deadline_kind: DeadlineKind
    breached_at: AwareDatetime = Field(description="The deadline that passed (the breach's).")
    taken: bool = Field(description="Disciplinary action was taken.")


class RepeatComplaintVerdictForm(_Form):
    appeal_id: NonEmptyStr = Field(description="The repeat complaint.")
    original_appeal_id: NonEmptyStr = Field(description="The appeal whose answer was contested.")
    decided_by: AgencyCode = Field(description="The supervising body deciding.")
    substantiated: bool


OutcomeForm = CourtDecisionForm | DisciplinaryDecisionForm | RepeatComplaintVerdictForm


class Refused(Exception):
    """A form that cannot be recorded: `error` (a stable code), `reason` (which field, why)."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error, self.reason = error, reason


def event_of(form: OutcomeForm, recorded_by: str, now: datetime) -> AppealOutcome:
    common: dict[str, Any] = {
        "appeal_id": form.appeal_id,
        "correlation_id": form.appeal_id,
        "occurred_at": now,
        "recorded_by": recorded_by,
        "agency_code": form.agency_code,
        "decided_on": form.decided_on,
    }
    match form:
        case CourtDecisionForm():
            return CourtDecisionRecorded(
                event_id=deterministic_id("court.decided", form.appeal_id, form.case_number),
                case_number=form.case_number,
                satisfied=form.satisfied,
                **common,
            )
        case DisciplinaryDecisionForm():
            # The same moment written with another offset is the same breach.
            breach = f"{form.deadline_kind}|{form.breached_at.astimezone(UTC).isoformat()}"
            return DisciplinaryDecisionRecorded(
                event_id=deterministic_id("disciplinary.decided", form.appeal_id, breach),
                deadline_kind=form.deadline_kind,
                breached_at=form.breached_at,
                taken=form.taken,
                **common,
            )
        case RepeatComplaintVerdictForm():
            return RepeatComplaintDecided(
                event_id=verdict_event_id(form.appeal_id),
                original_appeal_id=form.original_appeal_id,
                decided_by=form.decided_by,
                substantiated=form.substantiated,
                **common,
            )


def problems(form: OutcomeForm, registry: AgencyRegistry, today: date) -> list[str]:
    """What is wrong with `form` against the registry and the calendar (empty: nothing)."""
    found = []
    if form.agency_code not in registry.by_code:
        found.append(f"agency_code: no body has the code {form.agency_code!r}")
    if form.decided_on > today:
        found.append(f"decided_on: {form.decided_on} is in the future (today is {today})")
    if isinstance(form, DisciplinaryDecisionForm) and form.breached_at.date() > today:
        found.append("breached_at: a deadline in the future has not been breached")
    if isinstance(form, RepeatComplaintVerdictForm):
        agency = registry.by_code.get(form.agency_code)
        if form.decided_by not in registry.by_code:
            found.append(f"decided_by: no body has the code {form.decided_by!r}")
        elif agency is not None and agency.parent != form.decided_by:
            found.append(
                f"decided_by: a repeat complaint about {form.agency_code} is decided by its "
                f"supervising body {agency.parent!r}, not {form.decided_by!r}"
            )
        if form.original_appeal_id == form.appeal_id:
            found.append("original_appeal_id: a repeat complaint is an appeal of its own")
    return found


def _decision(event: AppealOutcome) -> dict[str, Any]:
    """What was decided, without who recorded it and when (compared on a second recording)."""
    data = event.model_dump(mode="json")
    return {k: v for k, v in data.items() if k not in _ENVELOPE}


class OutcomeLog(Protocol):
    async def first_copy(self, event: AppealOutcome) -> AppealOutcome:
        """`event` itself if it is the first event under its id (now stored), else the one
        stored first — whoever published it (the registrar's route, routing's verdict)."""
        ...


class MongoOutcomeLog:
    """`outcomes`, `_id` = event id: every outcome as first recorded or first counted."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.outcomes = db[OUTCOMES]

    async def first_copy(self, event: AppealOutcome) -> AppealOutcome:
        document = {"_id": event.event_id, "event": event.model_dump(mode="json")}
        if await insert_once(self.outcomes, document):
            return event
        stored = await self.outcomes.find_one({"_id": event.event_id})
        assert stored is not None  # never deleted
        return APPEAL_OUTCOME_ADAPTER.validate_python(stored["event"])


class MemoryOutcomeLog:
    def __init__(self) -> None:
        self.events: dict[str, AppealOutcome] = {}

    async def first_copy(self, event: AppealOutcome) -> AppealOutcome:
        return self.events.setdefault(event.event_id, event)


class OutcomeRecorder:
    def __init__(
        self,
        log: OutcomeLog,
        publish: Callable[[AppealOutcome], Awaitable[None]],
        registry: AgencyRegistry,
        today: Callable[[], date],
    ) -> None:
        self.log = log
        self.publish = publish
        self.registry = registry
        self.today = today

    async def record(
        self, form: OutcomeForm, recorded_by: str, now: datetime
    ) -> tuple[bool, AppealOutcome]:
        """(True, event) when recorded now; (False, the stored event) when this decision was
        recorded before. Raises `Refused` for a form the registry or the calendar refutes,
        or a different decision where one is recorded."""
        if found := problems(form, self.registry, self.today()):
            raise Refused("invalid_outcome", "; ".join(found))
        event = event_of(form, recorded_by, now)
        earlier = await self.log.first_copy(event)
        created = earlier is event
        if not created:
            if _decision(earlier) != _decision(event):
                raise Refused(
                    "already_recorded",
                    f"a different decision is recorded as {event.event_id} "
                    f"({earlier.event_type} of {earlier.decided_on}); a recorded decision is final",
                )
            event = earlier
        await self.publish(event)
        return created, event
