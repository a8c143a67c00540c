"""Routing's incidents at work: sightings made from routing decisions, the detector that
turns a key's sightings into incidents (rules: incidents.py), and a body's one answer to an
incident answered to each member.

- `sighting_for`: an appeal's first routing decision, for a category with a rule and a place
  known to the district, is sighted under its cluster key; routing publishes it on
  `incidents.sightings.v1` right after the decision (again, the same id, when the decision
  is republished).
- `on_sightings` (group `tyndau-routing.incidents`, keyed batches; one cluster key's
  sightings of a batch at once, in order): which were handled before (one read), the key's
  state (one read), the sightings observed one by one, the events published
  (`incident.opened`, then `incident.grew` per member, on `incidents.v1` and the body's
  inbox), then the incidents and their members, the key's state and the handled marks
  written (one command each) — a crash in between re-observes the sightings and republishes
  the same events (deterministic ids); a sighting already in the state emits nothing
  (replay-safe), and the state names the sightings of its last write (`recent`), so a crash
  after the state's write and before the marks does not count them twice. A key's sightings
  share one state, so a batch of them costs about what one did (a burst of 400 calls about
  one outage is a few commands a batch, not six a call).
- `answer`: a body's `agency.incident_answered` on its own decisions topic. An incident that
  is not that body's is refused (`unknown_incident`, on its inbox). Otherwise every member
  is answered with an `agency.answered` of its own (id from the answer and the member)
  through the same gate as any decision — so a member the body no longer holds (redirected)
  is refused, not answered — and sla stops each timer, notify tells each citizen in their
  language, intake shows each answered. Then `incident.resolved` (once: stored by incident
  id; a second answer gets the first resolution again) on `incidents.v1` and the inbox. The
  incident is closed before its members are read and answered, so it stops growing first: a
  later appeal about the same thing starts anew. A member the body had already answered on
  its own is answered again with the incident's answer (routing's gate does not refuse a
  second answer); a repeat complaint is never a member.
- A sighting handled once is remembered by appeal id (`incident_sighted`), beyond the life
  of its group: replaying a backlog whose groups have closed since opens nothing again.

The inbox gets the incident once (`incident.opened`, with its members so far), then one
`incident.grew` per later member — naming the incident and the appeal, so the body's system
files that member's own assignment under it — and `incident.resolved`. The answer covers
every member routing knows of when it comes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from contracts import (
    ActionRefusalReason,
    AgencyActionEvent,
    AgencyActionRefused,
    AppealAnswered,
    AppealRegistered,
    AppealRouted,
    Category,
    IncidentAnswered,
    IncidentGrew,
    IncidentMember,
    IncidentOpened,
    IncidentResolved,
    IncidentSighted,
    agency_inbox,
    deterministic_id,
    topics,
)
from services.common.clock import Clock
from services.routing.incident_store import IncidentRecord, IncidentStore
from services.routing.incidents import (
    ClusterRule,
    Grew,
    Opened,
    Sighting,
    cluster_key,
    district_of,
    observe_all,
)
from services.routing.metrics import RoutingMetrics
from services.routing.records import ActionVerdict

log = logging.getLogger("tyndau.routing.incidents")

Publish = Callable[[str, object], Awaitable[None]]
Gate = Callable[[AgencyActionEvent, str], Awaitable[ActionVerdict]]


def _member(s: Sighting) -> IncidentMember:
    return IncidentMember(
        appeal_id=s.appeal_id, registration_number=s.registration_number, received_at=s.received_at
    )


class IncidentService:
    def __init__(
        self,
        store: IncidentStore,
        publish: Publish,
        rules: Mapping[Category, ClusterRule],
        metrics: RoutingMetrics,
        clock: Clock,
    ) -> None:
        self.store = store
        self.publish = publish
        self.rules = rules
        self.metrics = metrics
        self.clock = clock

    def sighting_for(
        self, appeal: AppealRegistered, routed: AppealRouted
    ) -> IncidentSighted | None:
        district = district_of(appeal.region_kato)
        if routed.hop != 0 or routed.category not in self.rules or district is None:
            return None
        if appeal.contests is not None:
            return None  # a repeat complaint is about an answer, and needs its own verdict
        return IncidentSighted(
            event_id=deterministic_id("incident.sighted", appeal.appeal_id),
            occurred_at=routed.occurred_at,
            cluster_key=cluster_key(routed.agency_code, routed.category, district),
            agency_code=routed.agency_code,
            category=routed.category,
            district_kato=district,
            appeal_id=appeal.appeal_id,
            registration_number=appeal.registration_number,
            received_at=appeal.received_at,
            location=appeal.location,
        )

    async def on_sighting(self, sighted: IncidentSighted) -> None:
        await self.on_sightings([sighted])

    async def on_sightings(self, sightings: list[IncidentSighted]) -> None:
        """One cluster key's sightings of a batch, in order: read what was handled before and
        the key's state once, observe them all, publish what opened and grew, then write the
        incidents' members, the state (naming these sightings) and the handled marks — a
        handful of store commands for the whole group, not a handful per sighting."""
        clustering = [s for s in sightings if s.category in self.rules]
        if not clustering:
            return  # the category stopped clustering since the sightings were made
        # Handled before (a redelivery, a replay), even if their group has closed since.
        handled = await self.store.sighted(list({s.appeal_id for s in clustering}))
        fresh = [s for s in clustering if s.appeal_id not in handled]
        if not fresh:
            return
        key, rule = fresh[0].cluster_key, self.rules[fresh[0].category]
        assert all(s.cluster_key == key for s in fresh), "one key's sightings at a time"
        state = await self.store.key_state(key)
        open_ids = {g.incident_id for g in state.groups if g.incident_id}
        resolved = frozenset([i for i in open_ids if await self.store.closed(i)])
        by_appeal = {s.appeal_id: s for s in fresh}
        seen = observe_all(
            state,
            key,
            [
                Sighting(s.appeal_id, s.registration_number, s.received_at, s.location)
                for s in fresh
            ],
            rule,
            resolved,
        )
        joined: dict[str, list[IncidentMember]] = {}
        for appeal_id, change in seen.changes:
            sighted = by_appeal[appeal_id]
            common = {
                "occurred_at": sighted.occurred_at,
                "cluster_key": key,
                "agency_code": sighted.agency_code,
                "category": sighted.category,
                "district_kato": sighted.district_kato,
                "rule": rule.describe(sighted.category),
            }
            match change:
                case Opened(incident_id=incident_id, members=members, anchor=anchor):
                    listed = [_member(m) for m in members]
                    opened = IncidentOpened(
                        event_id=deterministic_id("incident.opened", incident_id),
                        incident_id=incident_id,
                        member_count=len(members),
                        members=listed,
                        anchor=anchor,
                        **common,
                    )
                    await self.publish(topics.INCIDENTS, opened)
                    await self.publish(agency_inbox(sighted.agency_code), opened)
                    await self.store.save_incident(
                        IncidentRecord(
                            incident_id=incident_id,
                            cluster_key=key,
                            agency_code=sighted.agency_code,
                            category=sighted.category,
                            district_kato=sighted.district_kato,
                            rule=common["rule"],
                            anchor=anchor,
                            opened_at=sighted.occurred_at,
                        )
                    )
                    joined.setdefault(incident_id, []).extend(listed)
                    self.metrics.incidents_opened.labels(
                        sighted.agency_code, sighted.category
                    ).inc()
                    log.info("incident %s opened (%s, %d appeals)", incident_id, key, len(listed))
                case Grew(incident_id=incident_id, member=member, member_count=count):
                    grew = IncidentGrew(
                        event_id=deterministic_id("incident.grew", incident_id, member.appeal_id),
                        incident_id=incident_id,
                        member_count=count,
                        member=_member(member),
                        **common,
                    )
                    await self.publish(topics.INCIDENTS, grew)
                    await self.publish(agency_inbox(sighted.agency_code), grew)
                    joined.setdefault(incident_id, []).append(_member(member))
        for incident_id, members in joined.items():
            await self.store.add_members(incident_id, members)
        await self.store.save_key_state(key, seen.state)
        await self.store.mark_sighted(list(seen.handled))

    async def answer(self, answer: IncidentAnswered, acting: str, gate: Gate) -> None:
        record = await self.store.incident(answer.incident_id)
        inbox = agency_inbox(acting)
        if record is None or acting != record.agency_code or acting != answer.agency_code:
            await self.publish(inbox, self._refusal(answer, acting))
            self.metrics.refused.labels(acting, ActionRefusalReason.UNKNOWN_INCIDENT).inc()
            return
        resolved = await self.store.resolution(record.incident_id)
        if resolved is None:
            # Closed first: the detector grows it no more, so every member read below is
            # every member it will ever have.
            await self.store.close(record.incident_id)
            members = await self.store.members(record.incident_id)
            answered = []
            for member in members:
                verdict = await gate(self._member_answer(answer, member.appeal_id), acting)
                if verdict.accepted:
                    answered.append(member.appeal_id)
            resolved = self._resolved(record, answer, answered, len(members))
            if await self.store.add_resolution(resolved):
                self._count_resolution(resolved)
            else:  # a concurrent delivery resolved it first: its resolution stands
                resolved = await self.store.resolution(record.incident_id) or resolved
        await self.publish(topics.INCIDENTS, resolved)
        await self.publish(inbox, resolved)

    def _member_answer(self, answer: IncidentAnswered, appeal_id: str) -> AppealAnswered:
        return AppealAnswered(
            event_id=deterministic_id("incident.member_answer", answer.event_id, appeal_id),
            appeal_id=appeal_id,
            occurred_at=answer.occurred_at,
            correlation_id=appeal_id,
            causation_id=answer.event_id,
            action_id=f"{answer.action_id}/{appeal_id}",
            agency_code=answer.agency_code,
            officer=None,
            outcome=answer.outcome,
            summary=answer.summary,
            how_to_obtain=answer.how_to_obtain,
        )

    def _resolved(
        self, record: IncidentRecord, answer: IncidentAnswered, answered: list[str], count: int
    ) -> IncidentResolved:
        return IncidentResolved(
            event_id=deterministic_id("incident.resolved", record.incident_id),
            occurred_at=answer.occurred_at,
            incident_id=record.incident_id,
            cluster_key=record.cluster_key,
            agency_code=record.agency_code,
            category=record.category,
            district_kato=record.district_kato,
            rule=record.rule,
            member_count=count,
            answer_event_id=answer.event_id,
            outcome=answer.outcome,
            opened_at=record.opened_at,
            seconds_to_resolve=max(0.0, (answer.occurred_at - record.opened_at).total_seconds()),
            answered=answered,
        )

    def _count_resolution(self, resolved: IncidentResolved) -> None:
        labels = (resolved.agency_code, resolved.category)
        self.metrics.incidents_resolved.labels(*labels).inc()
        self.metrics.incident_members.labels(resolved.category).observe(resolved.member_count)
        self.metrics.incident_resolve_seconds.labels(resolved.category).observe(
            resolved.seconds_to_resolve
        )

    def _refusal(self, answer: IncidentAnswered, acting: str) -> AgencyActionRefused:
        now: datetime = self.clock.now()
        return AgencyActionRefused(
            event_id=deterministic_id(
                "agency.action_refused", acting, answer.event_id, answer.incident_id
            ),
            appeal_id=answer.incident_id,
            occurred_at=now,
            correlation_id=answer.incident_id,
            causation_id=answer.event_id,
            agency_code=acting,
            action_event_id=answer.event_id,
            action_type=answer.event_type,
            claimed_agency_code=answer.agency_code,
            reason_code=ActionRefusalReason.UNKNOWN_INCIDENT,
            reason=f"No incident {answer.incident_id} of {acting}: a body answers its own "
            "incidents only.",
        )
