"""What routing remembers of a decision: one `DecisionRecord` per appeal and hop.

A record names its cause (the registered appeal, an agency's redirect, a human triage
decision), the outcome (routed to a body, triaged, or dismissed), the rule and — so that a
redelivered cause republishes exactly what was published the first time — the very events
published for it. Hop 0 also keeps the registered appeal as routing received it, so a later
redirect or triage decision is routed without asking intake. Records are never rewritten.

Typed values only; how a record is laid out in the store is `store.py`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contracts import (
    ActionRefusalReason,
    AgencyActionEvent,
    AgencyActionRefused,
    AgencyAssignment,
    AppealDismissed,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    Category,
)

ROUTED = "routed"
TRIAGED = "triaged"
DISMISSED = "dismissed"

TRIGGER_REGISTERED = "registered"
TRIGGER_REDIRECTED = "redirected"
TRIGGER_TRIAGE_DECIDED = "triage_decided"


@dataclass(frozen=True)
class DecisionRecord:
    appeal_id: str
    hop: int
    trigger: str
    """What caused it: `registered`, `redirected` or `triage_decided`."""
    cause_event_id: str
    cause_key: str
    """The cause's natural key (an agency's action id, a triage decision id): the same
    decision sent again under a new event id is recognised."""
    category: Category
    declined_by: tuple[str, ...]
    decided_at: datetime
    outcome: Literal["routed", "triaged", "dismissed"]
    event_id: str
    """Of the routed, triaged or dismissed event."""
    agency_code: str | None = None
    level: str | None = None
    rule_id: str | None = None
    rule_version: str | None = None
    forwarded: bool = False
    reason_code: str | None = None
    """Why it went to triage, or why it was dismissed (a bounded code, a metric label)."""
    routed: AppealRouted | None = None
    assignment: AgencyAssignment | None = None
    """Only in decisions stored before the assignment was made from the appeal and the routed
    event when published (service.assignment_for)."""
    triaged: AppealTriaged | None = None
    dismissed: AppealDismissed | None = None
    registered: AppealRegistered | None = None
    """Hop 0 only: the appeal as routing received it."""

    @property
    def is_routed(self) -> bool:
        return self.outcome == ROUTED

    def decided_by(self, cause_event_id: str, cause_key: str) -> bool:
        """This record is the decision for that cause (same event, or the same natural key
        sent again)."""
        return self.cause_event_id == cause_event_id or self.cause_key == cause_key


@dataclass(frozen=True)
class ActionVerdict:
    """Whether a body's decision, received on that body's own decisions topic, is passed on
    (`agency.actions.v1`) or refused — kept under the decision's event id, so a redelivered
    decision gets the same verdict even if the appeal has moved on since."""

    action: AgencyActionEvent
    acting_agency: str
    """The body whose topic it came on: who sent it (the broker's ACLs make sure)."""
    decided_at: datetime
    refusal: AgencyActionRefused | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    @property
    def reason_code(self) -> ActionRefusalReason | None:
        return self.refusal.reason_code if self.refusal else None
