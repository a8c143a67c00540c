"""What a supervisor of a body sees (pure): the breaches escalated to the body (sla's
`escalate_to` names it or its head; any body's appeal — the chain is sla's policy, not only
the registry's tree), the appeals of the body and the bodies under it that need acting on
(breached or warned, not answered or dismissed, and not escalated already), and the body's
KPIs for a period —
handled, answered on time, breaches of the consideration and of the forwarding deadline,
repeats — with the daily flow (received, answered) for the chart.

Counted from the workspace's read model with the assessment's rules (services/sla/assessment
counting.py): handled on the day of the answer, a breach on the day of its deadline, a
repeat on the day it was received; "on time" is an answer no later than the answer deadline
in force when it came.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from services.workspace.views import FINAL, AppealView


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def has(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass
class BodyKpis:
    agency_code: str
    handled: int = 0
    on_time: int = 0
    consideration_breaches: int = 0
    forwarding_breaches: int = 0
    repeats: int = 0

    @property
    def on_time_percent(self) -> float | None:
        return round(100 * self.on_time / self.handled, 1) if self.handled else None


@dataclass
class Supervision:
    to_act_on: list[tuple[AppealView, dict[str, Any]]]
    kpis: list[BodyKpis]
    escalated: list[tuple[AppealView, dict[str, Any]]] = field(default_factory=list)
    """Open appeals whose breach was escalated to the supervisor's body, oldest due first."""
    flow: list[tuple[date, int, int]] = field(default_factory=list)
    """(day, received, answered)."""

    @property
    def busiest(self) -> int:
        return max((max(r, a) for _, r, a in self.flow), default=0)


def supervision(
    views: list[AppealView],
    bodies: set[str],
    period: Period,
    tz: tzinfo,
    escalated: Sequence[AppealView] = (),
    supervisor_body: str | None = None,
) -> Supervision:
    """`views`: the appeals of `bodies` (KPIs, flow, to act on); `escalated`: the appeals
    whose breaches were escalated to `supervisor_body` (any body's)."""
    open_escalations = [
        (view, state)
        for view in escalated
        if supervisor_body in view.escalated_to and (state := view.state())["status"] not in FINAL
    ]
    open_escalations.sort(key=lambda pair: pair[1]["answer_due_at"] or "")
    escalated_ids = {view.appeal_id for view, _ in open_escalations}

    def day_of(iso: str) -> date:
        return datetime.fromisoformat(iso).astimezone(tz).date()

    kpis = {code: BodyKpis(code) for code in sorted(bodies)}
    received: Counter[date] = Counter()
    answered: Counter[date] = Counter()
    to_act_on = []
    for view in views:
        state = view.state()
        needs_acting = state["breached"] or state["warned"]
        if state["status"] not in FINAL and needs_acting and view.appeal_id not in escalated_ids:
            to_act_on.append((view, state))
        if view.received_at and period.has(day_of(view.received_at)):
            received[day_of(view.received_at)] += 1
            if view.repeat_of and view.bodies and view.bodies[-1] in kpis:
                kpis[view.bodies[-1]].repeats += 1
        due: str | None = None
        for entry in view.timeline:
            kind, body = entry["event_type"], entry.get("agency_code")
            if kind in ("appeal.routed", "agency.assignment") and entry.get("answer_due_at"):
                due = entry["answer_due_at"]
            elif kind == "agency.extended":
                due = entry["new_due_at"]
            elif kind == "sla.started" and entry.get("deadline_kind") == "answer":
                due = entry["due_at"]
            elif kind == "agency.answered" and period.has(day_of(entry["occurred_at"])):
                answered[day_of(entry["occurred_at"])] += 1
                if body in kpis:
                    kpis[body].handled += 1
                    answered_at = datetime.fromisoformat(entry["occurred_at"])
                    if due is None or answered_at <= datetime.fromisoformat(due):
                        kpis[body].on_time += 1
            elif kind == "sla.breached" and body in kpis and period.has(day_of(entry["due_at"])):
                if entry.get("deadline_kind") == "answer":
                    kpis[body].consideration_breaches += 1
                else:
                    kpis[body].forwarding_breaches += 1
    to_act_on.sort(key=lambda pair: (not pair[1]["breached"], pair[1]["answer_due_at"] or ""))
    flow = [(day, received[day], answered[day]) for day in period.days()]
    return Supervision(to_act_on, list(kpis.values()), open_escalations, flow)
