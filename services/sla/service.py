"""SLA's core: starts timers from routing decisions, applies agency actions to them, and
fires what has come due. Transport-free: events go out through the `publish` callable the
composition root gives it, "now" comes from the injected clock, state goes through the
`TimerStore` port.

Effects of an input (routed appeal or agency action) are stored in the timer first and
published after, so a redelivered input finds them and republishes the same events. A
firing is published first and recorded after, so a crash in between re-fires with the same
event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts import (
    AgencyActionEvent,
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRouted,
    DeadlineExtended,
    DeadlineKind,
    SlaTimerEvent,
)
from reference.calendar import WorkingCalendar
from reference.statute import provisional, registration_time
from services.common.batching import all_of
from services.common.clock import Clock
from services.sla.metrics import SlaMetrics
from services.sla.schedule import (
    SlaPolicy,
    escalation_targets,
    extension_changes,
    extension_refusal,
    plan_firing,
    stop_outcome,
    warning_schedule,
)
from services.sla.store import TimerStore
from services.sla.tallies import Tallies
from services.sla.timers import (
    Breach,
    DueEntry,
    Timer,
    TimerState,
    breach_event,
    breach_key,
    new_timer,
    next_generation,
    refused_event,
    stopped_event,
    timer_id,
    warning_event,
)

log = logging.getLogger("tyndau.sla")

Publish = Callable[[SlaTimerEvent], Awaitable[None]]

OPEN, BREACHED, STOPPED = TimerState.OPEN, TimerState.BREACHED, TimerState.STOPPED


@dataclass(frozen=True)
class StopCause:
    """What stops a timer: a body's decision, or the appeal's dismissal."""

    event_id: str
    occurred_at: datetime
    decided_by: str | None
    dismissed: bool = False

    @classmethod
    def of(cls, action: AgencyActionEvent) -> StopCause:
        return cls(action.event_id, action.occurred_at, action.agency_code)


class TimerService:
    def __init__(
        self,
        store: TimerStore,
        publish: Publish,
        clock: Clock,
        calendar: WorkingCalendar,
        policy: SlaPolicy,
        metrics: SlaMetrics,
        tallies: Tallies | None = None,
        publish_concurrency: int = 64,
    ) -> None:
        self.store = store
        self.publish = publish
        self.clock = clock
        self.calendar = calendar
        self.policy = policy
        self.metrics = metrics
        self.tallies = tallies or Tallies(store)
        self._publishing = asyncio.Semaphore(publish_concurrency)
        # Told the next moment of every timer armed or re-armed (the firing loop's wake-up).
        self.on_armed: Callable[[datetime], None] = lambda _: None

    # --- routing decisions -------------------------------------------------------------------

    async def start_timers(self, routed: AppealRouted, shard: int) -> list[SlaTimerEvent]:
        """Arm the answer timer (first routing only: a redirect keeps the receipt date and the
        deadline, the new body just becomes responsible) and, when the decision carries a
        forwarding term, that body's forwarding timer. `shard` is the partition the routed
        record came from: the instance owning that partition fires these timers.

        Store round trips (each shared with the other appeals armed at once): read the
        timers, insert the due entries, insert the timers, then publish while reading the
        parked-actions marker. The two timers are independent, so they are armed side by
        side."""
        now = self.clock.now()
        registered_at = registration_time(self.calendar, routed.received_at)
        answer_id = timer_id(routed.appeal_id, DeadlineKind.ANSWER)
        started: list[SlaTimerEvent] = []

        arming = [
            self._arm(routed, DeadlineKind.ANSWER, routed.answer_due_at, registered_at, shard, now)
        ]
        if routed.forward_due_at is not None:
            # The receiving body's Art. 65 term runs from its own receipt: for a redirected
            # appeal, the moment routing sent it on.
            day0 = (
                registered_at
                if routed.hop == 0
                else registration_time(self.calendar, routed.occurred_at)
            )
            arming.append(
                self._arm(routed, DeadlineKind.FORWARDING, routed.forward_due_at, day0, shard, now)
            )
        (answer, created), *forwarding = await all_of(arming)

        if routed.hop > 0 or answer.agency_code != routed.agency_code:
            # Redirected: the same deadline from the same receipt date; a new body answers.
            # (Also on a redelivered redirect: the due-index entries must follow the body.)
            await self._reassign(answer_id, routed.agency_code, current=answer)
        elif created or routed.hop == 0:
            started.append(answer.started_event)
        for timer, _ in forwarding:
            started.append(timer.started_event)

        async def publish_started() -> None:
            for event in started:  # in order: one appeal's events share a partition
                await self.publish(event)

        # Read only now that the timers are stored: an action that found no timer parks
        # itself (marker first) and then looks for timers again (`apply_action`), so either
        # this read sees its marker or that second look sees these timers.
        _, maybe_parked = await all_of(
            [publish_started(), self.store.may_have_parked(routed.appeal_id)]
        )
        if maybe_parked:
            # Actions that overtook this routing decision apply now (idempotently).
            for parked in await self.store.parked(routed.appeal_id):
                await self.apply_action(parked, park_if_unmatched=False)
        return started

    async def _arm(
        self,
        routed: AppealRouted,
        kind: DeadlineKind,
        due_at: datetime,
        registered_at: datetime,
        shard: int,
        now: datetime,
    ) -> tuple[Timer, bool]:
        """The timer, created if missing; and whether this call created it."""
        tid = timer_id(routed.appeal_id, kind, routed.hop)
        existing = await self.store.get(tid)
        if existing is not None:
            return existing, False
        timer = new_timer(
            routed=routed,
            kind=kind,
            due_at=due_at,
            registered_at=registered_at,
            shard=shard,
            warnings=warning_schedule(
                self.calendar, due_at, registered_at, self.policy.warning_working_days
            ),
            now=now,
            provisional=provisional(self.calendar, registered_at, due_at),
        )
        if await self.store.insert(timer):
            self.metrics.started.labels(kind.value).inc()
            self._tally(timer, OPEN, +1)
            self.on_armed(min(timer.moments))
            return timer, True
        stored = await self.store.get(tid)
        assert stored is not None, f"timer {tid} vanished after a duplicate insert"
        return stored, False

    # --- agency actions -----------------------------------------------------------------------

    async def apply_action(
        self, action: AgencyActionEvent, park_if_unmatched: bool = True
    ) -> list[SlaTimerEvent]:
        timers = await self.store.of_appeal(action.appeal_id)
        answer = next((t for t in timers if t.kind is DeadlineKind.ANSWER), None)
        events: list[SlaTimerEvent] = []
        unmatched = answer is None

        if isinstance(action, AppealAccepted | AppealRedirected | AppealAnswered):
            forwarding = [
                t
                for t in timers
                if t.kind is DeadlineKind.FORWARDING
                and (isinstance(action, AppealAnswered) or t.agency_code == action.agency_code)
            ]
            for timer in forwarding:
                events += await self._stop(timer.timer_id, StopCause.of(action))
            if not forwarding and not isinstance(action, AppealAnswered):
                # Accepted/redirected before its routing decision reached us — or no forwarding
                # term applies; parking costs little either way and is cleared on the answer.
                unmatched = True

        if answer is not None and isinstance(action, AppealAnswered):
            events += await self._stop(answer.timer_id, StopCause.of(action))
            await self.store.forget_parked(action.appeal_id)
            unmatched = False
        elif answer is not None and isinstance(action, DeadlineExtended):
            events += await self._extend(answer.timer_id, action)

        if unmatched and park_if_unmatched:
            await self.store.park(action)
            # A routing decision armed in the meantime may have looked for parked actions
            # before this one was parked: look for timers again, now that it is. (Arming
            # stores its timers before it reads the parked-actions marker, so one of the two
            # sees the other.) Applying again is idempotent; the stored outcomes come back.
            seen = {t.timer_id for t in timers}
            if {t.timer_id for t in await self.store.of_appeal(action.appeal_id)} - seen:
                return await self.apply_action(action, park_if_unmatched=False)
        for event in events:
            await self.publish(event)
        return events

    async def dismiss(self, dismissed: AppealDismissed) -> list[SlaTimerEvent]:
        """The appeal was left without consideration: every timer of it still running stops,
        marked `dismissed` (no breach follows; the assessment does not count it handled).
        It comes on `appeals.routed.v1` under the appeal's key, after the routing decisions
        that armed those timers, so they are stored by now. Idempotent like an answer."""
        cause = StopCause(dismissed.event_id, dismissed.occurred_at, None, dismissed=True)
        events: list[SlaTimerEvent] = []
        for timer in await self.store.of_appeal(dismissed.appeal_id):
            events += await self._stop(timer.timer_id, cause)
        await self.store.forget_parked(dismissed.appeal_id)
        for event in events:
            await self.publish(event)
        return events

    async def _stop(self, tid: str, cause: StopCause) -> list[SlaTimerEvent]:
        tz = self.calendar.tz
        now = self.clock.now()
        seen: dict[str, Timer] = {}

        def stop(timer: Timer) -> Timer | None:
            seen["before"] = timer
            if cause.event_id in timer.outcomes or timer.state is STOPPED:
                return None
            on_time, used = stop_outcome(self.calendar, timer, cause.occurred_at)
            event = stopped_event(
                timer.ref,
                on_time=on_time,
                working_days_used=used,
                stopped_by=cause.event_id,
                decided_at=cause.occurred_at,
                decided_by=cause.decided_by,
                dismissed=cause.dismissed,
                now=now,
                tz=tz,
            )
            return replace(
                timer,
                state=STOPPED,
                stopped_at=cause.occurred_at,
                on_time=on_time,
                working_days_used=used,
                outcomes={**timer.outcomes, cause.event_id: event},
            )

        timer, changed = await self.store.update(tid, stop)
        if timer is None or (event := timer.outcome_of(cause.event_id)) is None:
            return []  # stopped earlier by another decision
        if changed and not cause.dismissed:
            # A dismissal is nobody's decision in time or late: not in the answer metrics.
            assert timer.on_time is not None and timer.working_days_used is not None
            self.metrics.stopped.labels(
                timer.kind.value, timer.agency_code, str(timer.on_time).lower()
            ).inc()
            self.metrics.working_days_used.labels(timer.kind.value).observe(timer.working_days_used)
        if changed:
            self._tally(timer, await self._state_of(seen["before"]), -1)
        # The stopped timer must not fire: its entries go (again, on a redelivered answer).
        await self.store.drop_due(e.key for e in timer.due_entries())
        return [event]

    async def _extend(self, tid: str, action: DeadlineExtended) -> list[SlaTimerEvent]:
        now = self.clock.now()
        current = await self.store.get(tid)
        if current is None:
            return []
        ahead: str | None = None
        if action.event_id not in current.outcomes and (
            extension_refusal(
                self.calendar, self.policy, current, action.new_due_at, action.occurred_at
            )
            is None
        ):
            # The new generation's due-index entry goes in before the timer points at it, so
            # no crash can leave it unable to fire; taken out again below if the timer went
            # another way meanwhile (a first entry fires without reading its timer).
            entry = self._extended(current, action, now).first_due_entry()
            await self.store.add_due([entry])
            ahead = entry.key

        def extend(timer: Timer) -> Timer | None:
            if action.event_id in timer.outcomes:
                return None
            reason = extension_refusal(
                self.calendar, self.policy, timer, action.new_due_at, action.occurred_at
            )
            if reason is not None:
                refused = refused_event(
                    timer.ref,
                    extension_event_id=action.event_id,
                    requested_due_at=action.new_due_at,
                    reason=reason,
                    now=now,
                    tz=self.calendar.tz,
                )
                return replace(timer, outcomes={**timer.outcomes, action.event_id: refused})
            extended = self._extended(timer, action, now)
            return replace(
                extended, outcomes={**timer.outcomes, action.event_id: extended.started_event}
            )

        timer, changed = await self.store.update(tid, extend, current=current)
        await self.drop_unless_current(ahead, timer)
        if timer is None or (event := timer.outcome_of(action.event_id)) is None:
            return []
        accepted = event.event_type == "sla.started"
        if accepted:
            # Normally inserted above already (this differs only if the timer changed in
            # between); then the old generation's entries go. Again on a redelivery.
            await self.store.add_due([timer.first_due_entry()])
            await self.store.drop_due(timer.superseded_due)
        if changed:
            if accepted:
                self.on_armed(min(timer.moments))
            self.metrics.extensions.labels(
                timer.agency_code, "accepted" if accepted else "refused"
            ).inc()
        return [event]

    def _extended(self, timer: Timer, action: DeadlineExtended, now: datetime) -> Timer:
        """The timer after an accepted extension: a new generation with its own schedule and
        started event (`next_generation`)."""
        renewed = extension_changes(
            self.calendar, self.policy, timer, action.new_due_at, action.occurred_at
        )
        return next_generation(
            timer,
            renewed,
            caused_by=action.event_id,
            now=now,
            tz=self.calendar.tz,
            provisional=provisional(self.calendar, timer.registered_at, renewed.due_at),
        )

    async def _reassign(self, tid: str, agency_code: str, current: Timer | None = None) -> None:
        seen: dict[str, Timer] = {}

        def reassign(timer: Timer) -> Timer | None:
            seen["before"] = timer
            return (
                None
                if timer.agency_code == agency_code
                else replace(timer, agency_code=agency_code)
            )

        timer, changed = await self.store.update(tid, reassign, current=current)
        if timer is None or timer.state is STOPPED:
            return
        await self.store.replace_due(timer.due_entries())
        if changed:
            state = await self._state_of(timer)
            self._tally(seen["before"], state, -1)
            self._tally(timer, state, +1)

    async def _state_of(self, timer: Timer) -> TimerState:
        """Open or breached, for the tallies: a breach is a record of its own (see fire)."""
        return BREACHED if await self.store.breached(timer) else OPEN

    def _tally(self, timer: Timer, state: TimerState, delta: int) -> None:
        self.tallies.add(timer.shard, timer.kind.value, timer.agency_code, state.value, delta)

    # --- firing -------------------------------------------------------------------------------

    async def drop_unless_current(self, key: str | None, timer: Timer | None) -> None:
        """Take out a due-index entry put in ahead of a compare-and-set (`key`) unless it is
        one of the timer's entries as the write left it: a stop, an extension or a re-plan
        that won the race would otherwise leave an entry that fires for nothing."""
        if key is None:
            return
        if (
            timer is None
            or timer.state is STOPPED
            or key not in {e.key for e in timer.due_entries()}
        ):
            await self.store.drop_due([key])

    async def _current(self, entries: list[DueEntry]) -> list[DueEntry]:
        """The entries as their timers stand now: a successor (`checked`) whose timer was
        stopped or moved to another generation is left out (it is dropped with the rest),
        one whose timer went to another body speaks for that body. One `$in` read per pass,
        of successors only — first entries fire without reading any timer."""
        checked = [e for e in entries if e.checked]
        if not checked:
            return entries
        heads = await self.store.heads(e.timer_id for e in checked)
        current = []
        for entry in entries:
            head = heads.get(entry.timer_id) if entry.checked else None
            if entry.checked and (head is None or not head.keeps(entry)):
                continue
            if head is not None and head.agency_code != entry.timer.agency_code:
                entry = entry.for_agency(head.agency_code)
            current.append(entry)
        return current

    async def _put_successors(self, successors: list[DueEntry]) -> None:
        """Store each timer's next due entry, then check it is still the timer's: a stop, an
        extension or a redirect that happened meanwhile wrote the timer first and its due
        entries after, so either it saw the successor (and dropped or repointed it) or
        this check sees the timer's change — whichever came second undoes the race. (Should
        this process die between the two, the successor is `checked`: firing reads its
        timer before acting on it, see `_current`.)"""
        if not successors:
            return
        await self.store.add_due(successors)
        heads = await self.store.heads(e.timer_id for e in successors)
        stale, repointed = [], []
        for entry in successors:
            head = heads.get(entry.timer_id)
            if head is None or not head.keeps(entry):
                stale.append(entry.key)
            elif head.agency_code != entry.timer.agency_code:
                repointed.append(entry.for_agency(head.agency_code))
        if repointed:
            await self.store.replace_due(repointed)
        if stale:
            await self.store.drop_due(stale)

    async def fire(self, entries: Iterable[DueEntry]) -> int:
        """Publish what each due-index entry says now, record breaches, put in each fired
        entry's successor, then drop the entries (that is the record of a warning). Reads
        no timer to decide: the entry carries its timer's identity and schedule. Returns
        events sent."""
        now = self.clock.now()
        entries = list(entries)
        tz = self.calendar.tz
        current = await self._current(entries)

        fired: list[tuple[DueEntry, str]] = []
        events: list[SlaTimerEvent] = []
        breaches: list[Breach] = []
        successors: list[DueEntry] = []
        for entry in current:
            plan = plan_firing(entry, now)
            if plan is None:
                continue  # superseded by a later moment of the same timer
            timer = entry.timer
            if plan.what == "breach":
                targets = escalation_targets(self.policy, timer.agency_code)
                events.append(breach_event(timer, targets, now, tz))
                breaches.append(
                    Breach(
                        timer_id=timer.timer_id,
                        generation=timer.generation,
                        appeal_id=timer.appeal_id,
                        kind=timer.kind,
                        agency_code=timer.agency_code,
                        breached_at=timer.due_at,
                        escalate_to=tuple(targets),
                        fired_at=now,
                    )
                )
            else:
                assert plan.days_left is not None
                events.append(warning_event(timer, plan.days_left, now, tz))
            fired.append((entry, plan.what))
            if (after := entry.successor(plan.at)) is not None:
                successors.append(after)

        async def publish_one(event: SlaTimerEvent) -> None:
            async with self._publishing:
                await self.publish(event)

        await asyncio.gather(*(publish_one(e) for e in events))
        # Published first, then breaches recorded and successors put in, then the entries
        # dropped — in this order (the record and the next entry must exist before the
        # entry is gone): a crash in between fires these entries again with the same event
        # ids (and finds their breach records and successors there).
        recorded = await self.store.record_breaches(breaches)
        await self._put_successors(successors)
        await self.store.drop_due(e.key for e in entries)

        for entry, what in fired:
            timer = entry.timer
            kind = timer.kind.value
            if what == "breach":
                self.metrics.breaches.labels(kind, timer.agency_code).inc()
                if breach_key(timer.timer_id, timer.generation) in recorded:
                    self.tallies.add(timer.shard, kind, timer.agency_code, OPEN.value, -1)
                    self.tallies.add(timer.shard, kind, timer.agency_code, BREACHED.value, +1)
            else:
                self.metrics.warnings.labels(kind, timer.agency_code).inc()
            self.metrics.firing_lag.observe(max(0.0, (now - entry.at).total_seconds()))
        return len(events)
