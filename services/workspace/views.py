"""What the workspace knows of an appeal, built from the topics it reads (pure).

One `AppealView` per appeal: what its assignment said (number, text, place, language, dates)
and one timeline entry per lifecycle event — routed, the body's decisions, sla's deadlines —
kept by event id (a redelivered event adds nothing) and folded at read time in the order
things happened, so events arriving from different topics in any order give the same view.
`bodies` are every body it was ever assigned to: an officer of one of them may open it.
The registration gives the text (a triage operator reads it before any body has it);
The lists the pages read (a body's appeals, the triage queue, escalations, numbers) are
store.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts import (
    AgencyAssignment,
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
    SlaTimerStarted,
    SlaWarning,
)
from reference.calendar import WorkingCalendar

READ_TOPICS_EVENTS = (
    AppealRegistered,
    AppealTriaged,
    AgencyAssignment,
    AppealRouted,
    AppealDismissed,
    AppealAccepted,
    AppealRedirected,
    DeadlineExtended,
    AppealAnswered,
    SlaTimerStarted,
    SlaWarning,
    SlaBreached,
)


FINAL = ("answered", "dismissed")
"""Statuses later events show in the timeline but do not change."""


@dataclass(frozen=True)
class AppealView:
    appeal_id: str
    registration_number: str = ""
    category: str = ""
    language: str = "kk"
    subject: str | None = None
    text: str = ""
    region_kato: str | None = None
    received_at: str | None = None
    urgent: bool = False
    repeat_of: str | None = None
    bodies: tuple[str, ...] = ()
    entries: tuple[dict[str, Any], ...] = ()

    @property
    def escalated_to(self) -> tuple[str, ...]:
        """Bodies a breach of this appeal was escalated to (sla's `escalate_to`; a body's
        head, `<code>:head`, is that body's supervisor), in order, each once."""
        codes = (
            target.removesuffix(":head")
            for entry in self.entries
            if entry["event_type"] == "sla.breached"
            for target in entry.get("escalate_to") or ()
        )
        return tuple(dict.fromkeys(codes))

    def has(self, event_id: str) -> bool:
        return any(e["event_id"] == event_id for e in self.entries)

    @property
    def timeline(self) -> list[dict[str, Any]]:
        return sorted(self.entries, key=lambda e: (e["occurred_at"], e["event_id"]))

    def state(self) -> dict[str, Any]:
        """Status, holder and deadlines, folded from the timeline."""
        state: dict[str, Any] = {
            "status": "routed",
            "holder": self.bodies[-1] if self.bodies else None,
            "answer_due_at": None,
            "forward_due_at": None,
            "warned": False,
            "breached": False,
            "triaged": None,
        }
        for entry in self.timeline:
            kind = entry["event_type"]
            if kind == "appeal.triaged":
                state["holder"] = None
                state["triaged"] = entry
                if state["status"] not in FINAL:
                    state["status"] = "in_triage"
            elif kind in ("appeal.routed", "agency.assignment"):
                state["holder"] = entry["agency_code"]
                state["answer_due_at"] = entry.get("answer_due_at") or state["answer_due_at"]
                state["forward_due_at"] = entry.get("forward_due_at")
                if state["status"] not in FINAL:
                    state["status"] = "routed"
            elif kind == "agency.accepted":
                state["forward_due_at"] = None
                if state["status"] not in FINAL:
                    state["status"] = "accepted"
            elif kind == "agency.redirected" and state["status"] not in FINAL:
                state["status"] = "redirected"
            elif kind == "agency.extended":
                state["answer_due_at"] = entry["new_due_at"]
                if state["status"] not in FINAL:
                    state["status"] = "extended"
            elif kind == "agency.answered":
                state["status"] = "answered"
                state["forward_due_at"] = None
            elif kind == "appeal.dismissed":
                # Final, like an answer: nothing routes a dismissed appeal again.
                state["status"] = "dismissed"
                state["holder"] = None
                state["forward_due_at"] = None
            elif kind == "sla.started" and entry["deadline_kind"] == DeadlineKind.ANSWER:
                state["answer_due_at"] = entry["due_at"]
            elif kind == "sla.warning":
                state["warned"] = True
            elif kind == "sla.breached":
                state["breached"] = True
        return state


_SHOWN: dict[type[Event], tuple[str, ...]] = {
    AppealRegistered: ("registered_at",),
    AppealTriaged: ("reason", "candidates"),
    AgencyAssignment: ("agency_code", "answer_due_at", "forward_due_at"),
    AppealRouted: ("agency_code", "answer_due_at", "forward_due_at", "reason"),
    AppealDismissed: ("reason_code", "note", "decided_by"),
    AppealAccepted: ("agency_code", "officer"),
    AppealRedirected: ("agency_code", "officer", "reason", "suggested_agency_code"),
    DeadlineExtended: ("agency_code", "officer", "new_due_at", "reason"),
    AppealAnswered: ("agency_code", "officer", "outcome", "summary"),
    SlaTimerStarted: ("agency_code", "deadline_kind", "due_at"),
    SlaWarning: ("agency_code", "deadline_kind", "due_at", "working_days_left"),
    SlaBreached: ("agency_code", "deadline_kind", "due_at", "escalate_to"),
}


def working_days_left(calendar: WorkingCalendar, now: datetime, due: datetime) -> int | None:
    """Working days left before `due`, as the law counts them (the days after today up to the
    deadline's day): 0 when it ends today, None once it has passed."""
    if now > due:
        return None
    return calendar.working_days_between(now, due)


def entry_of(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json", include={"event_type", *_SHOWN[type(event)]})
    occurred: datetime = event.occurred_at
    return {"event_id": event.event_id, "occurred_at": occurred.isoformat(), **data}


def applied(view: AppealView | None, event: Event) -> AppealView | None:
    """`view` with `event` in it; None when the event is not one the workspace shows.
    The same view back when the event was there already."""
    if type(event) not in _SHOWN:
        return None
    view = view or AppealView(event.appeal_id)
    if view.has(event.event_id):
        return view
    if isinstance(event, AppealRegistered | AgencyAssignment):
        # Both carry the appeal as registered: the desk reads it before any body has it.
        view = replace(
            view,
            registration_number=event.registration_number,
            category=event.category.value,
            language=event.language.value,
            subject=event.subject,
            text=event.text,
            region_kato=event.region_kato,
            received_at=event.received_at.isoformat(),
            urgent=event.urgent,
        )
    if isinstance(event, AppealRegistered):
        view = replace(view, repeat_of=event.repeat_of)
    elif isinstance(event, AgencyAssignment) and event.agency_code not in view.bodies:
        view = replace(view, bodies=(*view.bodies, event.agency_code))
    if isinstance(event, AppealRouted) and not view.registration_number:
        view = replace(view, registration_number=event.registration_number)
    return replace(view, entries=(*view.entries, entry_of(event)))


def view_document(view: AppealView) -> dict[str, Any]:
    document = {k: v for k, v in view.__dict__.items() if k != "appeal_id"}
    document["bodies"] = list(view.bodies)
    document["entries"] = list(view.entries)
    return {"_id": view.appeal_id, **document}


def view_from(document: dict[str, Any]) -> AppealView:
    # `in_triage` and `escalated_to`: kept on documents written before store.py's lists.
    fields = {k: v for k, v in document.items() if k not in ("_id", "in_triage", "escalated_to")}
    fields["bodies"] = tuple(fields.get("bodies", ()))
    fields["entries"] = tuple(fields.get("entries", ()))
    return AppealView(appeal_id=document["_id"], **fields)


@dataclass
class Listing:
    """An inbox row."""

    view: AppealView
    state: dict[str, Any] = field(default_factory=dict)
