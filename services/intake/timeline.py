"""An appeal's status for the citizen and the 1414 operator, folded from lifecycle events.

Pure. `timeline_entry` turns one lifecycle event into what the status page may show — a
whitelist of fields, so no personal data (applicant, officer, text) ever reaches it;
`appeal_status` folds the registration and the entries, in the order they happened, into the
current status, body and deadlines. Folding at read time (instead of updating a status field
as events arrive) makes the result independent of the order events arrive in from different
topics, and needs no find-and-modify.

Statuses: registered → routed (or forwarded, in_triage) → accepted → extended → answered;
redirected sends it back to routing; overdue after a breached deadline until the next step;
dismissed when the triage desk left it without consideration. `answered` and `dismissed` are
final: later events are shown in the timeline but do not change the status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts import (
    AnswerRated,
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    DeadlineExtended,
    DeadlineKind,
    Event,
    SlaBreached,
    SlaExtensionRefused,
    SlaStopped,
    SlaTimerStarted,
    SlaWarning,
)

# Which fields of each event the status page shows, besides type and time.
_SHOWN: dict[type[Event], tuple[str, ...]] = {
    AppealRouted: (
        "agency_code",
        "rule_id",
        "reason",
        "forwarded",
        "hop",
        "forward_due_at",
        "answer_due_at",
    ),
    AppealTriaged: ("reason",),
    # The ground and the operator's words are what the citizen is told; not the operator.
    AppealDismissed: ("reason_code", "note"),
    AppealAccepted: ("agency_code",),
    AppealRedirected: ("agency_code", "reason", "suggested_agency_code"),
    DeadlineExtended: (
        "agency_code",
        "new_due_at",
        "proposed_due_at",
        "moved_from_day_off",
        "reason",
    ),
    AppealAnswered: ("agency_code", "outcome", "summary", "how_to_obtain"),
    SlaTimerStarted: (
        "deadline_kind",
        "agency_code",
        "due_at",
        "provisional_calendar",
        "previous_due_at",
        "moved_because",
    ),
    SlaWarning: ("deadline_kind", "agency_code", "due_at", "working_days_left"),
    SlaBreached: ("deadline_kind", "agency_code", "due_at", "breached_at"),
    SlaStopped: ("deadline_kind", "agency_code", "due_at", "on_time"),
    SlaExtensionRefused: ("deadline_kind", "agency_code", "due_at", "requested_due_at", "reason"),
    AnswerRated: ("agency_code", "answer_event_id", "rating", "via", "contest_appeal_id"),
}

TIMELINE_EVENT_TYPES = frozenset(cls.model_fields["event_type"].default for cls in _SHOWN)

FINAL_STATUS = "answered"
DISMISSED_STATUS = "dismissed"
FINAL_STATUSES = frozenset({FINAL_STATUS, DISMISSED_STATUS})


def is_timeline_event(event: Event) -> bool:
    return type(event) in _SHOWN


def timeline_entry(event: Event) -> dict[str, Any]:
    """What the status page shows of `event` (JSON-ready); raises KeyError for an event
    type the timeline does not show (check `is_timeline_event` first)."""
    shown = _SHOWN[type(event)]
    data = event.model_dump(mode="json", include={"event_type", "occurred_at", *shown})
    return {"event_id": event.event_id, **data}


def appeal_status(registered: AppealRegistered, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Current status, body and deadlines, and the timeline, from the registration and the
    timeline entries (any order). Contains no personal data of the applicant."""
    ordered = sorted(entries, key=lambda entry: _instant(entry["occurred_at"]))
    state: dict[str, Any] = {
        "status": "registered",
        "current_body": None,
        "answer_due_at": registered.answer_due_at.isoformat(),
        "forward_due_at": None,
        "deadline_breached": False,
    }
    for entry in ordered:
        _apply(state, entry)
    first = {
        "event_id": registered.event_id,
        "event_type": registered.event_type,
        "occurred_at": registered.registered_at.isoformat(),
        "answer_due_at": registered.answer_due_at.isoformat(),
    }
    return {
        "registration_number": registered.registration_number,
        "status": state["status"],
        "current_body": state["current_body"],
        "answer_due_at": state["answer_due_at"],
        "forward_due_at": state["forward_due_at"],
        "deadline_breached": state["deadline_breached"],
        "kind": registered.kind.value,
        "category": registered.category.value,
        "language": registered.language.value,
        "region_kato": registered.region_kato,
        "channel": registered.channel.value,
        "urgent": registered.urgent,
        "repeat_of": registered.repeat_of,
        "received_at": registered.received_at.isoformat(),
        "registered_at": registered.registered_at.isoformat(),
        "timeline": [first, *ordered],
    }


def _apply(state: dict[str, Any], entry: dict[str, Any]) -> None:
    kind = entry["event_type"]
    final = state["status"] in FINAL_STATUSES
    if kind == "appeal.routed":
        state["current_body"] = entry["agency_code"]
        state["answer_due_at"] = entry["answer_due_at"]
        state["forward_due_at"] = entry["forward_due_at"]
        _set_status(state, "forwarded" if entry["forwarded"] else "routed", final)
    elif kind == "appeal.triaged":
        state["current_body"] = None
        _set_status(state, "in_triage", final)
    elif kind == "appeal.dismissed":
        state["current_body"] = None
        state["forward_due_at"] = None
        _set_status(state, DISMISSED_STATUS, final)
    elif kind == "agency.accepted":
        state["current_body"] = entry["agency_code"]
        state["forward_due_at"] = None  # a body that accepts is competent: no forwarding
        _set_status(state, "accepted", final)
    elif kind == "agency.redirected":
        state["current_body"] = None  # back with routing until it names the next body
        _set_status(state, "redirected", final)
    elif kind == "agency.extended":
        state["answer_due_at"] = entry["new_due_at"]
        _set_status(state, "extended", final)
    elif kind == "agency.answered":
        state["current_body"] = entry["agency_code"]
        state["forward_due_at"] = None
        _set_status(state, FINAL_STATUS, final)
    elif kind.startswith("sla."):
        # The timer's due_at is authoritative: sla applies (or refuses) extensions.
        key = (
            "answer_due_at"
            if entry["deadline_kind"] == DeadlineKind.ANSWER.value
            else "forward_due_at"
        )
        if kind != "sla.stopped":
            state[key] = entry["due_at"]
        if kind == "sla.breached":
            state["deadline_breached"] = True
            _set_status(state, "overdue", final)


def _set_status(state: dict[str, Any], status: str, final: bool) -> None:
    if not final:
        state["status"] = status


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)
