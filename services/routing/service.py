"""Routing's core: decide, store the decision, tell the routed topic and the body's inbox.

Effects per registered event: decision stored (unique per appeal and hop) → AppealRouted and
AgencyAssignment published → offset committed by the caller. A redelivery finds the stored
decision and republishes the same events (same event ids).
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter

from contracts import (
    AgencyAssignment,
    AppealRegistered,
    AppealRouted,
    agency_inbox,
    deterministic_id,
    topics,
)
from services.common.messaging import insert_once, publish_event
from services.common.runtime import ServiceRuntime
from services.routing.decisions import RouteDecision, decide_route
from services.routing.registry import AgencyRegistry

DECISIONS = "decisions"


class RoutingService:
    def __init__(self, runtime: ServiceRuntime, registry: AgencyRegistry) -> None:
        self.runtime = runtime
        self.registry = registry
        self.routed_total = Counter(
            "tyndau_routing_appeals_routed_total",
            "Appeals routed, by receiving body level, rule and whether forwarded.",
            ["level", "rule", "forwarded"],
            registry=runtime.registry,
        )

    async def route_registered(self, appeal: AppealRegistered) -> AppealRouted:
        hop = 0
        decision_id = deterministic_id("routing.decision", appeal.appeal_id, str(hop))
        decisions = self.runtime.db[DECISIONS]
        stored = await decisions.find_one({"_id": decision_id})
        if stored is None:
            decision = decide_route(appeal, self.registry)
            routed, assignment = self._events(appeal, decision, hop)
            document = {
                "_id": decision_id,
                "appeal_id": appeal.appeal_id,
                "hop": hop,
                "agency_code": decision.agency.code,
                "rule_id": decision.rule_id,
                "rule_version": decision.rule_version,
                "decided_at": routed.occurred_at,
                "routed": routed.model_dump(mode="json"),
                "assignment": assignment.model_dump(mode="json"),
            }
            if await insert_once(decisions, document):
                self.routed_total.labels(
                    decision.agency.level.value, decision.rule_id, str(routed.forwarded).lower()
                ).inc()
            else:
                stored = await decisions.find_one({"_id": decision_id})
        if stored is not None:
            routed = AppealRouted.model_validate(stored["routed"])
            assignment = AgencyAssignment.model_validate(stored["assignment"])
        # The agency learns of the appeal before the rest of the system hears it was routed.
        await publish_event(self.runtime, agency_inbox(assignment.agency_code), assignment)
        await publish_event(self.runtime, topics.APPEALS_ROUTED, routed)
        return routed

    def _events(
        self, appeal: AppealRegistered, decision: RouteDecision, hop: int
    ) -> tuple[AppealRouted, AgencyAssignment]:
        now = datetime.now(UTC)
        agency = decision.agency
        routed = AppealRouted(
            event_id=deterministic_id("appeal.routed", appeal.appeal_id, str(hop)),
            appeal_id=appeal.appeal_id,
            occurred_at=now,
            correlation_id=appeal.correlation_id,
            causation_id=appeal.event_id,
            registration_number=appeal.registration_number,
            agency_code=agency.code,
            inbox_topic=agency.inbox_topic,
            rule_id=decision.rule_id,
            rule_version=decision.rule_version,
            reason=decision.reason,
            category=appeal.category,
            region_kato=appeal.region_kato,
            forwarded=False,
            addressed_to=appeal.addressed_to,
            forward_due_at=None,
            hop=hop,
            declined_by=[],
            urgent=appeal.urgent,
            received_at=appeal.received_at,
            answer_due_at=appeal.answer_due_at,
        )
        assignment = AgencyAssignment(
            event_id=deterministic_id("agency.assignment", appeal.appeal_id, str(hop)),
            appeal_id=appeal.appeal_id,
            occurred_at=now,
            correlation_id=appeal.correlation_id,
            causation_id=appeal.event_id,
            registration_number=appeal.registration_number,
            agency_code=agency.code,
            sub_unit=None,
            kind=appeal.kind,
            category=appeal.category,
            language=appeal.language,
            region_kato=appeal.region_kato,
            address=appeal.address,
            location=appeal.location,
            subject=appeal.subject,
            text=appeal.text,
            applicant=appeal.applicant,
            received_at=appeal.received_at,
            registered_at=appeal.registered_at,
            answer_due_at=appeal.answer_due_at,
            forward_due_at=None,
            forwarded=False,
            urgent=appeal.urgent,
        )
        return routed, assignment
