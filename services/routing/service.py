"""Routing's core: decide, store the decision, tell the body's inbox and the routed (or
triage) topic.

Effects per cause — a registered appeal, an agency's "not our competence", a human triage
decision: decision stored (unique per appeal and hop) → events published and acknowledged →
offset committed by the caller. A redelivered cause (same event id, or the same agency
action id / triage decision id sent again) finds its stored decision and republishes the
same events with the same ids; it never makes a second decision.

A redirect or triage decision only acts on the appeal's latest decision: a redirect from a
body that does not hold the appeal (any more), or an answer to a triage the appeal has left,
is stale — logged and counted (`tyndau_routing_messages_ignored_total`), without effect.

Bodies' decisions (accepted, redirected, extended, answered) arrive on each body's own
topic, `agency.<code>.actions.v1`, which only that body may write (the broker's ACLs): the
topic names who decided. Routing, which knows who holds each appeal, is their gate
(`check_decision`): a decision is passed on to `agency.actions.v1` — what sla, notify and
intake read — only when it names the body it came from and that body holds the appeal now;
otherwise the body is told why on its inbox (`agency.action_refused`) and it is counted.
The verdict is kept under the decision's event id, so a redelivery repeats it.

The gate is also where a proposed term meets the statute: an extension's new deadline is
passed on as `reference.statute.term_end` has it (the end of work on that day, or on the
next working day when the body named a day off), with what the body proposed and why it
moved — so sla's timer, intake's status and notify's notice all show the same day.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts import (
    ActionRefusalReason,
    AgencyAction,
    AgencyActionEvent,
    AgencyActionRefused,
    AgencyAssignment,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    ContestedAnswer,
    DeadlineExtended,
    Event,
    IncidentAnswered,
    RepeatComplaintDecided,
    TriageDecided,
    agency_inbox,
    deterministic_id,
    topics,
    verdict_event_id,
)
from reference.agencies import AgencyRegistry
from reference.calendar import CalendarYearNotCovered, WorkingCalendar
from reference.statute import term_end
from services.common.clock import Clock, SystemClock
from services.routing.decisions import (
    Decision,
    Dismissed,
    Routed,
    RoutingState,
    Rules,
    decide_operator,
    decide_redirect,
    decide_route,
)
from services.routing.incident_service import IncidentService
from services.routing.metrics import RoutingMetrics
from services.routing.records import (
    DISMISSED,
    ROUTED,
    TRIAGED,
    TRIGGER_REDIRECTED,
    TRIGGER_REGISTERED,
    TRIGGER_TRIAGE_DECIDED,
    ActionVerdict,
    DecisionRecord,
)
from services.routing.store import DecisionStore

log = logging.getLogger("tyndau.routing")

RoutingOutcome = AppealRouted | AppealTriaged | AppealDismissed
"""What one routing decision publishes (besides the agency's assignment)."""

Publish = Callable[[str, Any], Awaitable[None]]
"""(topic, event): lifecycle events keyed by appeal, incidents by cluster key (app.py)."""


class RoutingService:
    def __init__(
        self,
        store: DecisionStore,
        publish: Publish,
        rules: Rules,
        metrics: RoutingMetrics,
        clock: Clock | None = None,
        incidents: IncidentService | None = None,
    ) -> None:
        self.incidents = incidents
        self.store = store
        self.publish = publish
        self.rules = rules
        self.metrics = metrics
        self.clock = clock or SystemClock()

    @property
    def registry(self) -> AgencyRegistry:
        return self.rules.registry

    # --- causes -------------------------------------------------------------------------

    async def route_registered(self, appeal: AppealRegistered) -> AppealRouted | AppealTriaged:
        # Decide first, then store under the (appeal, hop 0) key: on the happy path one
        # write and no read. A redelivery loses the insert and republishes what is stored,
        # so a registry or rule change since then never re-routes the appeal.
        started = time.perf_counter()
        decision = decide_route(appeal, self.rules.registry, self.rules)
        state = RoutingState(hop=-1, agency_code=None, category=appeal.category)
        record = self._record(
            appeal, 0, decision, appeal, appeal.event_id, TRIGGER_REGISTERED, state, ()
        )
        # Hop 0 keeps the appeal as routing received it, for later redirects and triage.
        record = replace(record, registered=appeal)
        if not await self.store.insert(record):
            stored = await self.store.decision(appeal.appeal_id, 0)
            if stored is None:  # a duplicate key means it exists; retry rather than guess
                raise RuntimeError(f"decision 0 of {appeal.appeal_id} vanished")
            return await self._publish(stored, stored.registered or appeal)
        self._count(record)
        event = await self._publish(record, appeal)
        self.metrics.latency.labels(TRIGGER_REGISTERED).observe(time.perf_counter() - started)
        return event

    async def check_decision(self, action: AgencyActionEvent, acting_agency: str) -> ActionVerdict:
        """Pass a body's decision on, or refuse it with a reason (module docstring); a
        redirect that is passed on is then routed (`handle_action`)."""
        verdict = await self.store.verdict(action.event_id)
        if verdict is None:
            reason = await self._refusal_reason(action, acting_agency)
            verdict = ActionVerdict(
                action=as_the_statute_has_it(action, self.rules.calendar),
                acting_agency=acting_agency,
                decided_at=self.clock.now(),
                refusal=self._refusal(action, acting_agency, reason) if reason else None,
            )
            if await self.store.add_verdict(verdict):
                self._count_verdict(verdict)
            else:  # a concurrent delivery decided first: its verdict stands
                verdict = await self.store.verdict(action.event_id) or verdict
        elif (verdict.acting_agency, verdict.action.appeal_id) != (
            acting_agency,
            action.appeal_id,
        ):
            # Not a redelivery: another decision under an event id already used. (Event ids
            # name one event everywhere downstream; a second one would be taken for the
            # first.) Refused without keeping it: the id is the first decision's.
            verdict = ActionVerdict(
                action=action,
                acting_agency=acting_agency,
                decided_at=self.clock.now(),
                refusal=self._refusal(action, acting_agency, ActionRefusalReason.EVENT_ID_IN_USE),
            )
            self._count_verdict(verdict)
        if verdict.refusal is not None:
            await self.publish(agency_inbox(acting_agency), verdict.refusal)
            return verdict
        await self.publish(topics.AGENCY_ACTIONS, verdict.action)
        if isinstance(verdict.action, AppealAnswered) and verdict.action.substantiated is not None:
            await self._publish_verdict(verdict.action)
        await self.handle_action(verdict.action)
        return verdict

    async def _publish_verdict(self, answer: AppealAnswered) -> None:
        """The supervising body's verdict on a repeat complaint, for the assessment (its
        answer was checked to carry one; republished as is on a redelivery)."""
        contested = _contested(await self.store.history(answer.appeal_id))
        assert contested is not None and answer.substantiated is not None
        await self.publish(
            topics.APPEAL_OUTCOMES,
            RepeatComplaintDecided(
                event_id=verdict_event_id(answer.appeal_id),
                appeal_id=answer.appeal_id,
                occurred_at=answer.occurred_at,
                correlation_id=answer.correlation_id,
                causation_id=answer.event_id,
                agency_code=contested.answered_by,
                decided_on=answer.occurred_at.astimezone(self.rules.calendar.tz).date(),
                recorded_by=answer.agency_code,
                original_appeal_id=contested.appeal_id,
                decided_by=answer.agency_code,
                substantiated=answer.substantiated,
            ),
        )

    async def answer_incident(self, answer: IncidentAnswered, acting_agency: str) -> None:
        """A body's one answer to an incident: each member answered through `check_decision`
        (services/routing/incident_service.py)."""
        if self.incidents is None:
            raise RuntimeError("incidents are not enabled on this routing instance")
        await self.incidents.answer(answer, acting_agency, self.check_decision)

    async def _refusal_reason(
        self, action: AgencyActionEvent, acting_agency: str
    ) -> ActionRefusalReason | None:
        if action.agency_code != acting_agency:
            return ActionRefusalReason.AGENCY_MISMATCH
        history = await self.store.history(action.appeal_id)
        if not history:
            return ActionRefusalReason.UNKNOWN_APPEAL
        latest = history[-1]
        if not (latest.is_routed and latest.agency_code == acting_agency):
            return ActionRefusalReason.NOT_ASSIGNED
        if isinstance(action, AppealAnswered):
            contested = _contested(history)
            if contested is not None and action.substantiated is None:
                return ActionRefusalReason.VERDICT_REQUIRED
            if contested is None and action.substantiated is not None:
                return ActionRefusalReason.VERDICT_NOT_EXPECTED
        return None

    def _refusal(
        self, action: AgencyActionEvent, acting_agency: str, reason: ActionRefusalReason
    ) -> AgencyActionRefused:
        words = {
            ActionRefusalReason.NOT_ASSIGNED: f"The appeal is not with {acting_agency}: only "
            "the body that holds an appeal decides on it.",
            ActionRefusalReason.AGENCY_MISMATCH: f"The decision names {action.agency_code} "
            f"but was published by {acting_agency}: a body publishes its own decisions only.",
            ActionRefusalReason.UNKNOWN_APPEAL: "No appeal with this id was routed.",
            ActionRefusalReason.EVENT_ID_IN_USE: "Another decision already came with this "
            "event id: give each decision an event id of its own.",
            ActionRefusalReason.VERDICT_REQUIRED: "This appeal is a repeat complaint against "
            "an answer: the answer must say whether it is substantiated (`substantiated`).",
            ActionRefusalReason.VERDICT_NOT_EXPECTED: "`substantiated` is for answers to repeat "
            "complaints only; this appeal is not one.",
        }
        return AgencyActionRefused(
            event_id=deterministic_id(
                "agency.action_refused", acting_agency, action.event_id, action.appeal_id
            ),
            appeal_id=action.appeal_id,
            occurred_at=self.clock.now(),
            correlation_id=action.correlation_id,
            causation_id=action.event_id,
            agency_code=acting_agency,
            action_event_id=action.event_id,
            action_type=action.event_type,
            claimed_agency_code=action.agency_code,
            reason_code=reason,
            reason=words[reason],
        )

    def _count_verdict(self, verdict: ActionVerdict) -> None:
        if verdict.refusal is not None:
            self.metrics.refused.labels(verdict.acting_agency, verdict.refusal.reason_code).inc()
            log.warning(
                "refused %s %s of %s for appeal %s: %s",
                verdict.action.event_type,
                verdict.action.event_id,
                verdict.acting_agency,
                verdict.action.appeal_id,
                verdict.refusal.reason_code,
            )
        else:
            self.metrics.passed.labels(verdict.acting_agency, verdict.action.event_type).inc()

    async def handle_action(self, action: AgencyAction) -> RoutingOutcome | None:
        if not isinstance(action, AppealRedirected):
            return None
        redirect = action

        def holds_it(latest: DecisionRecord) -> bool:
            return latest.is_routed and latest.agency_code == redirect.agency_code

        def decide(appeal: AppealRegistered, state: RoutingState, now: datetime) -> Decision:
            return decide_redirect(appeal, state, redirect, self.rules, now)

        return await self._follow_up(
            redirect,
            f"action/{redirect.agency_code}/{redirect.action_id}",
            TRIGGER_REDIRECTED,
            holds_it,
            decide,
            (redirect.agency_code,),
        )

    async def handle_triage_decision(self, decided: TriageDecided) -> RoutingOutcome | None:
        def waits_for_it(latest: DecisionRecord) -> bool:
            return not latest.is_routed and latest.event_id == decided.triage_event_id

        def decide(appeal: AppealRegistered, state: RoutingState, now: datetime) -> Decision:
            return decide_operator(appeal, state, decided, self.rules, now)

        return await self._follow_up(
            decided,
            f"triage/{decided.decision_id}",
            TRIGGER_TRIAGE_DECIDED,
            waits_for_it,
            decide,
            (),
        )

    # --- the shared path of follow-up decisions -----------------------------------------

    async def _follow_up(
        self,
        cause: Event,
        cause_key: str,
        trigger: str,
        applies_to: Callable[[DecisionRecord], bool],
        decide: Callable[[AppealRegistered, RoutingState, datetime], Decision],
        newly_declined: tuple[str, ...],
    ) -> RoutingOutcome | None:
        started = time.perf_counter()
        history = await self.store.history(cause.appeal_id)
        if not history or history[0].registered is None:
            return self._ignore("unknown_appeal", cause, trigger)
        appeal = history[0].registered
        if done := next((r for r in history if r.decided_by(cause.event_id, cause_key)), None):
            return await self._publish(done, appeal)
        latest = history[-1]
        if not applies_to(latest):
            return self._ignore("stale", cause, trigger)

        state = _state_of(history)
        hop = state.hop + 1
        decision = decide(appeal, state, self.clock.now())
        record = self._record(
            appeal, hop, decision, cause, cause_key, trigger, state, newly_declined
        )
        if not await self.store.insert(record):
            # Another cause took this hop between our read and our write.
            stored = await self.store.decision(cause.appeal_id, hop)
            if stored is not None and stored.decided_by(cause.event_id, cause_key):
                return await self._publish(stored, appeal)
            return self._ignore("stale", cause, trigger)
        self._count(record)
        if trigger == TRIGGER_REDIRECTED:
            self.metrics.redirects.labels(newly_declined[0]).inc()
        event = await self._publish(record, appeal)
        self.metrics.latency.labels(trigger).observe(time.perf_counter() - started)
        return event

    def _ignore(self, reason: str, cause: Event, trigger: str) -> None:
        self.metrics.ignored.labels(reason).inc()
        log.warning(
            "%s %s for appeal %s ignored: %s", trigger, cause.event_id, cause.appeal_id, reason
        )
        return None

    def _count(self, record: DecisionRecord) -> None:
        if record.is_routed:
            self.metrics.routed.labels(
                record.agency_code, record.level, record.rule_id, str(record.forwarded).lower()
            ).inc()
        elif record.outcome == DISMISSED:
            self.metrics.dismissed.labels(record.reason_code).inc()
        else:
            self.metrics.triaged.labels(record.reason_code).inc()

    # --- events -------------------------------------------------------------------------

    async def _publish(self, record: DecisionRecord, appeal: AppealRegistered) -> RoutingOutcome:
        """Publish a decision's events — a fresh one, or a stored one again (a redelivered
        cause): the same events, same ids. A decision does not keep the agency's assignment
        (the appeal again, ~1.3 kB): it is made from the appeal and the routed event, field
        for field the same each time (decisions stored before this carry one: used as is)."""
        if record.is_routed:
            assert record.routed is not None
            assignment = record.assignment or assignment_for(appeal, record.routed)
            # The agency learns of the appeal before the rest of the system hears it was routed.
            await self.publish(agency_inbox(assignment.agency_code), assignment)
            await self.publish(topics.APPEALS_ROUTED, record.routed)
            if self.incidents is not None:
                sighted = self.incidents.sighting_for(appeal, record.routed)
                if sighted is not None:
                    await self.publish(topics.INCIDENT_SIGHTINGS, sighted)
            return record.routed
        if record.dismissed is not None:
            await self.publish(topics.APPEALS_ROUTED, record.dismissed)
            return record.dismissed
        assert record.triaged is not None
        await self.publish(topics.APPEALS_TRIAGE, record.triaged)
        return record.triaged

    def _record(
        self,
        appeal: AppealRegistered,
        hop: int,
        decision: Decision,
        cause: Event,
        cause_key: str,
        trigger: str,
        state: RoutingState,
        newly_declined: tuple[str, ...],
    ) -> DecisionRecord:
        now = self.clock.now()
        declined_by = (*state.declined_by, *newly_declined)
        base = dict(
            appeal_id=appeal.appeal_id,
            hop=hop,
            trigger=trigger,
            cause_event_id=cause.event_id,
            cause_key=cause_key,
            category=decision.category,
            declined_by=declined_by,
            decided_at=now,
        )
        envelope = {
            "appeal_id": appeal.appeal_id,
            "occurred_at": now,
            "correlation_id": appeal.correlation_id,
        }
        if isinstance(decision, Routed):
            agency = decision.agency
            routed = AppealRouted(
                **envelope,
                event_id=deterministic_id("appeal.routed", appeal.appeal_id, str(hop)),
                causation_id=cause.event_id,
                registration_number=appeal.registration_number,
                agency_code=agency.code,
                inbox_topic=agency.inbox_topic,
                rule_id=decision.rule.id,
                rule_version=decision.rule_version,
                reason=decision.reason,
                category=decision.category,
                region_kato=appeal.region_kato,
                forwarded=decision.forwarded,
                addressed_to=appeal.addressed_to,
                forward_due_at=decision.forward_due_at,
                hop=hop,
                declined_by=list(declined_by),
                urgent=appeal.urgent,
                received_at=appeal.received_at,
                answer_due_at=appeal.answer_due_at,
            )
            return DecisionRecord(
                **base,
                outcome=ROUTED,
                event_id=routed.event_id,
                agency_code=agency.code,
                level=agency.level.value,
                rule_id=decision.rule.id,
                rule_version=decision.rule_version,
                forwarded=decision.forwarded,
                routed=routed,
            )
        if isinstance(decision, Dismissed):
            dismissed = AppealDismissed(
                **envelope,
                event_id=deterministic_id("appeal.dismissed", appeal.appeal_id, str(hop)),
                causation_id=cause.event_id,
                registration_number=appeal.registration_number,
                reason_code=decision.reason_code,
                note=decision.note,
                decided_by=decision.operator,
                hop=hop,
                declined_by=list(declined_by),
            )
            return DecisionRecord(
                **base,
                outcome=DISMISSED,
                event_id=dismissed.event_id,
                reason_code=decision.reason_code.value,
                dismissed=dismissed,
            )
        triaged = AppealTriaged(
            **envelope,
            event_id=deterministic_id("appeal.triaged", appeal.appeal_id, str(hop)),
            causation_id=cause.event_id,
            registration_number=appeal.registration_number,
            reason=decision.reason,
            candidates=list(decision.candidates),
            declined_by=list(declined_by),
        )
        return DecisionRecord(
            **base,
            outcome=TRIAGED,
            event_id=triaged.event_id,
            reason_code=decision.reason_code,
            triaged=triaged,
        )


def _state_of(history: list[DecisionRecord]) -> RoutingState:
    latest = history[-1]
    return RoutingState(
        hop=latest.hop,
        agency_code=latest.agency_code,
        category=latest.category,
        declined_by=latest.declined_by,
        held_by=tuple(r.agency_code for r in history if r.is_routed and r.agency_code),
    )


def _contested(history: list[DecisionRecord]) -> ContestedAnswer | None:
    """The answer the appeal contests, if it is a repeat complaint (hop 0 keeps the appeal)."""
    registered = history[0].registered if history else None
    return registered.contests if registered else None


def assignment_for(appeal: AppealRegistered, routed: AppealRouted) -> AgencyAssignment:
    """The agency's copy of the appeal a routed decision sends to its inbox: a function of the
    appeal as registered and the routed event alone, so a stored decision need not keep it."""
    return AgencyAssignment(
        event_id=deterministic_id("agency.assignment", appeal.appeal_id, str(routed.hop)),
        appeal_id=appeal.appeal_id,
        occurred_at=routed.occurred_at,
        correlation_id=appeal.correlation_id,
        causation_id=routed.event_id,
        registration_number=appeal.registration_number,
        agency_code=routed.agency_code,
        sub_unit=None,
        kind=appeal.kind,
        category=routed.category,
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
        forward_due_at=routed.forward_due_at,
        forwarded=routed.forwarded,
        urgent=appeal.urgent,
        contests=appeal.contests,
    )


def as_the_statute_has_it(
    action: AgencyActionEvent, calendar: WorkingCalendar
) -> AgencyActionEvent:
    """`action`, with an extension's proposed deadline moved as the statute moves it
    (`term_end`), recording what was proposed; anything else unchanged. A day the calendar
    cannot judge is passed on as proposed (sla refuses or reports it)."""
    if not isinstance(action, DeadlineExtended):
        return action
    try:
        term = term_end(calendar, action.new_due_at)
    except CalendarYearNotCovered:
        return action
    if not term.changed:
        return action
    return action.model_copy(
        update={
            "new_due_at": term.at,
            "proposed_due_at": action.new_due_at,
            "moved_from_day_off": term.moved_from,
        }
    )
