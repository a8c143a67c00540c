"""Timer identity and documents. A timer's id is stable per (appeal, deadline kind); its
generation grows when the deadline moves (extension), so every event it emits has a
deterministic id: timer id + generation + what happened."""

from __future__ import annotations

from datetime import datetime

from contracts import AppealRouted, DeadlineKind, SlaTimerStarted, deterministic_id


def timer_id(appeal_id: str, kind: DeadlineKind) -> str:
    return f"{appeal_id}:{kind.value}"


def answer_timer_started(routed: AppealRouted, now: datetime) -> SlaTimerStarted:
    tid = timer_id(routed.appeal_id, DeadlineKind.ANSWER)
    generation = 1
    return SlaTimerStarted(
        event_id=deterministic_id("sla.started", tid, str(generation)),
        appeal_id=routed.appeal_id,
        occurred_at=now,
        correlation_id=routed.correlation_id,
        causation_id=routed.event_id,
        timer_id=tid,
        deadline_kind=DeadlineKind.ANSWER,
        agency_code=routed.agency_code,
        due_at=routed.answer_due_at,
        generation=generation,
    )


def timer_document(started: SlaTimerStarted, received_at: datetime) -> dict:
    return {
        "_id": started.timer_id,
        "appeal_id": started.appeal_id,
        "kind": started.deadline_kind.value,
        "agency_code": started.agency_code,
        "due_at": started.due_at,
        "received_at": received_at,
        "generation": started.generation,
        "state": "open",
        "started_event": started.model_dump(mode="json"),
    }
