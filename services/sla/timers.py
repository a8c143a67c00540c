"""Timer identity, timer documents and the events a timer emits.

A timer's id is stable per (appeal, deadline kind[, hop]); its generation grows when the
deadline moves (extension), so every event it emits has a deterministic id: timer id +
generation + what happened (+ warning index). A re-fire after a crash therefore repeats the
same event id, which downstream consumers recognise as a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from contracts import (
    AppealRouted,
    DeadlineKind,
    SlaBreached,
    SlaExtensionRefused,
    SlaStopped,
    SlaTimerStarted,
    SlaWarning,
    deterministic_id,
)
from services.sla.schedule import OPEN, warning_schedule

# The answer timer starts at generation 1; every accepted extension adds one.
FIRST_GENERATION = 1


def timer_id(appeal_id: str, kind: DeadlineKind, hop: int = 0) -> str:
    """`<appeal>:answer` — one per appeal: a redirect keeps it (and its deadline).
    `<appeal>:forwarding:<hop>` — one per receiving body: each hop has its own Art. 65 term."""
    if kind is DeadlineKind.ANSWER:
        return f"{appeal_id}:answer"
    return f"{appeal_id}:forwarding:{hop}"


def new_timer(
    *,
    routed: AppealRouted,
    kind: DeadlineKind,
    due_at: datetime,
    registered_at: datetime,
    shard: int,
    warning_days: tuple[int, ...],
    calendar: Any,
    now: datetime,
) -> dict[str, Any]:
    """A fresh open timer document, with its started event stored inside it."""
    tid = timer_id(routed.appeal_id, kind, routed.hop)
    warnings = warning_schedule(calendar, due_at, registered_at, warning_days)
    started = SlaTimerStarted(
        event_id=deterministic_id("sla.started", tid, str(FIRST_GENERATION)),
        appeal_id=routed.appeal_id,
        occurred_at=now,
        correlation_id=routed.correlation_id,
        causation_id=routed.event_id,
        timer_id=tid,
        deadline_kind=kind,
        agency_code=routed.agency_code,
        due_at=due_at,
        generation=FIRST_GENERATION,
    )
    return {
        "_id": tid,
        "appeal_id": routed.appeal_id,
        "correlation_id": routed.correlation_id,
        "kind": kind.value,
        "hop": routed.hop,
        "agency_code": routed.agency_code,
        "received_at": routed.received_at,
        # Day 0 of the term: working days used are counted from it.
        "registered_at": registered_at,
        "due_at": due_at,
        "generation": FIRST_GENERATION,
        "state": OPEN,
        "shard": shard,
        "warnings": warnings,
        "escalate_to": [],
        "created_at": now,
        "rev": 0,
        "started_event": started.model_dump(mode="json"),
        # Action event id → the SLA event it produced, for republishing on redelivery.
        "outcomes": {},
    }


def _timer_fields(timer: Mapping[str, Any], tz: tzinfo) -> dict[str, Any]:
    return {
        "appeal_id": timer["appeal_id"],
        "correlation_id": timer["correlation_id"],
        "timer_id": timer["_id"],
        "deadline_kind": DeadlineKind(timer["kind"]),
        "agency_code": timer["agency_code"],
        "due_at": timer["due_at"].astimezone(tz),
        "generation": timer["generation"],
    }


def _cause(timer: Mapping[str, Any]) -> str:
    return timer["started_event"]["event_id"]


def warning_event(
    timer: Mapping[str, Any], days_left: int, now: datetime, tz: tzinfo
) -> SlaWarning:
    return SlaWarning(
        event_id=deterministic_id(
            "sla.warning", timer["_id"], str(timer["generation"]), str(days_left)
        ),
        occurred_at=now,
        causation_id=_cause(timer),
        working_days_left=days_left,
        **_timer_fields(timer, tz),
    )


def breach_event(
    timer: Mapping[str, Any], escalate_to: list[str], now: datetime, tz: tzinfo
) -> SlaBreached:
    return SlaBreached(
        event_id=deterministic_id("sla.breached", timer["_id"], str(timer["generation"])),
        occurred_at=now,
        causation_id=_cause(timer),
        escalate_to=escalate_to,
        breached_at=timer["due_at"].astimezone(tz),
        **_timer_fields(timer, tz),
    )


def stopped_event(
    timer: Mapping[str, Any],
    *,
    on_time: bool,
    working_days_used: int,
    stopped_by: str,
    now: datetime,
    tz: tzinfo,
) -> SlaStopped:
    return SlaStopped(
        event_id=deterministic_id("sla.stopped", timer["_id"], str(timer["generation"])),
        occurred_at=now,
        causation_id=stopped_by,
        on_time=on_time,
        working_days_used=working_days_used,
        stopped_by_event_id=stopped_by,
        **_timer_fields(timer, tz),
    )


def extended_event(timer: Mapping[str, Any], extension_event_id: str, now: datetime, tz: tzinfo):
    """The timer re-armed for its new generation (an accepted extension)."""
    return SlaTimerStarted(
        event_id=deterministic_id("sla.started", timer["_id"], str(timer["generation"])),
        occurred_at=now,
        causation_id=extension_event_id,
        **_timer_fields(timer, tz),
    )


def refused_event(
    timer: Mapping[str, Any],
    *,
    extension_event_id: str,
    requested_due_at: datetime,
    reason: str,
    now: datetime,
    tz: tzinfo,
) -> SlaExtensionRefused:
    return SlaExtensionRefused(
        event_id=deterministic_id("sla.extension_refused", timer["_id"], extension_event_id),
        occurred_at=now,
        causation_id=extension_event_id,
        requested_due_at=requested_due_at,
        reason=reason,
        **_timer_fields(timer, tz),
    )
