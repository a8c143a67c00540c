"""SLA's core: starts timers from routing decisions, applies agency actions to them, and
fires what has come due. Transport-free: events go out through the `publish` callable the
composition root gives it, "now" comes from the injected clock.

Effects of an input (routed appeal or agency action) are stored in the timer document first
and published after, so a redelivered input finds them and republishes the same events. A
firing is published first and recorded after, so a crash in between re-fires with the same
event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from contracts import (
    AGENCY_ACTION_ADAPTER,
    SLA_EVENT_ADAPTER,
    AgencyActionEvent,
    AppealAccepted,
    AppealAnswered,
    AppealRedirected,
    AppealRouted,
    DeadlineExtended,
    DeadlineKind,
    SlaTimerEvent,
    SlaTimerStarted,
)
from services.common.workdays import WorkingCalendar
from services.sla.clock import Clock
from services.sla.metrics import SlaMetrics
from services.sla.schedule import (
    BREACHED,
    OPEN,
    STOPPED,
    Firing,
    SlaPolicy,
    escalation_targets,
    extension_changes,
    extension_refusal,
    plan_firing,
    stop_outcome,
)
from services.sla.store import Tallies, TimerStore, due_entries
from services.sla.timers import (
    breach_event,
    extended_event,
    new_timer,
    refused_event,
    stopped_event,
    timer_id,
    warning_event,
)

log = logging.getLogger("tyndau.sla")

Publish = Callable[[SlaTimerEvent], Awaitable[None]]


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
        record_concurrency: int = 8,
    ) -> None:
        self.store = store
        self.publish = publish
        self.clock = clock
        self.calendar = calendar
        self.policy = policy
        self.metrics = metrics
        self.tallies = tallies or Tallies(store)
        self._publishing = asyncio.Semaphore(publish_concurrency)
        # Writes to the store are fewer at a time than publishes: SQLite-backed FerretDB
        # answers "database is locked" to a crowd of concurrent writers.
        self._recording = asyncio.Semaphore(record_concurrency)
        # Told the next moment of every timer armed or re-armed (the firing loop's wake-up).
        self.on_armed: Callable[[datetime], None] = lambda _: None

    # --- routing decisions -------------------------------------------------------------------

    async def start_timers(self, routed: AppealRouted, shard: int) -> list[SlaTimerEvent]:
        """Arm the answer timer (first routing only: a redirect keeps the receipt date and the
        deadline, the new body just becomes responsible) and, when the decision carries a
        forwarding term, that body's forwarding timer. `shard` is the partition the routed
        record came from: the instance owning that partition fires these timers."""
        now = self.clock.now()
        registered_at = self.calendar.registration_time(routed.received_at)
        answer_id = timer_id(routed.appeal_id, DeadlineKind.ANSWER)
        started: list[SlaTimerEvent] = []

        answer, created = await self._arm(
            routed, DeadlineKind.ANSWER, routed.answer_due_at, registered_at, shard, now
        )
        if answer["agency_code"] != routed.agency_code:
            # Redirected: the same deadline from the same receipt date; a new body answers.
            before, changed = await self.store.update(answer_id, _reassign(routed.agency_code))
            if changed and before is not None and before["state"] != STOPPED:
                self._tally(answer, -1)
                self._tally(before, +1)
        elif created or routed.hop == 0:
            started.append(SlaTimerStarted.model_validate(answer["started_event"]))

        if routed.forward_due_at is not None:
            # The receiving body's Art. 65 term runs from its own receipt: for a redirected
            # appeal, the moment routing sent it on.
            day0 = (
                registered_at
                if routed.hop == 0
                else self.calendar.registration_time(routed.occurred_at)
            )
            forwarding, _ = await self._arm(
                routed, DeadlineKind.FORWARDING, routed.forward_due_at, day0, shard, now
            )
            started.append(SlaTimerStarted.model_validate(forwarding["started_event"]))

        for event in started:
            await self.publish(event)
        # Actions that overtook this routing decision apply now (idempotently).
        for parked in await self.store.parked(routed.appeal_id):
            await self.apply_action(
                AGENCY_ACTION_ADAPTER.validate_json(parked["action"]), park_if_unmatched=False
            )
        return started

    async def _arm(
        self,
        routed: AppealRouted,
        kind: DeadlineKind,
        due_at: datetime,
        registered_at: datetime,
        shard: int,
        now: datetime,
    ) -> tuple[dict[str, Any], bool]:
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
            warning_days=self.policy.warning_working_days,
            calendar=self.calendar,
            now=now,
        )
        if await self.store.insert(timer):
            self.metrics.started.labels(kind.value).inc()
            self._tally(timer, +1)
            self.on_armed(min(e["at"] for e in due_entries(timer)))
            return timer, True
        stored = await self.store.get(tid)
        assert stored is not None, f"timer {tid} vanished after a duplicate insert"
        return stored, False

    # --- agency actions -----------------------------------------------------------------------

    async def apply_action(
        self, action: AgencyActionEvent, park_if_unmatched: bool = True
    ) -> list[SlaTimerEvent]:
        timers = await self.store.of_appeal(action.appeal_id)
        answer = next((t for t in timers if t["kind"] == DeadlineKind.ANSWER.value), None)
        events: list[SlaTimerEvent] = []
        unmatched = answer is None

        if isinstance(action, AppealAccepted | AppealRedirected | AppealAnswered):
            forwarding = [
                t
                for t in timers
                if t["kind"] == DeadlineKind.FORWARDING.value
                and (isinstance(action, AppealAnswered) or t["agency_code"] == action.agency_code)
            ]
            for timer in forwarding:
                events += await self._stop(timer["_id"], action)
            if not forwarding and not isinstance(action, AppealAnswered):
                # Accepted/redirected before its routing decision reached us — or no forwarding
                # term applies; parking costs little either way and is cleared on the answer.
                unmatched = True

        if answer is not None and isinstance(action, AppealAnswered):
            events += await self._stop(answer["_id"], action)
            await self.store.forget_parked(action.appeal_id)
            unmatched = False
        elif answer is not None and isinstance(action, DeadlineExtended):
            events += await self._extend(answer["_id"], action)

        if unmatched and park_if_unmatched:
            await self.store.park(
                action.event_id, action.appeal_id, action.model_dump_json(), action.occurred_at
            )
        for event in events:
            await self.publish(event)
        return events

    async def _stop(self, tid: str, action: AgencyActionEvent) -> list[SlaTimerEvent]:
        tz = self.calendar.tz
        now = self.clock.now()
        seen: dict[str, Any] = {}

        def stop(timer: dict[str, Any]) -> dict[str, Any] | None:
            seen["before"] = timer
            if action.event_id in timer["outcomes"] or timer["state"] == STOPPED:
                return None
            on_time, used = stop_outcome(self.calendar, timer, action.occurred_at)
            event = stopped_event(
                timer,
                on_time=on_time,
                working_days_used=used,
                stopped_by=action.event_id,
                now=now,
                tz=tz,
            )
            return {
                "state": STOPPED,
                "stopped_at": action.occurred_at,
                "on_time": on_time,
                "working_days_used": used,
                f"outcomes.{action.event_id}": event.model_dump(mode="json"),
            }

        timer, changed = await self.store.update(tid, stop)
        if timer is None or action.event_id not in timer["outcomes"]:
            return []  # stopped earlier by another decision
        event = _stored_outcome(timer, action.event_id)
        if changed:
            kind, agency = timer["kind"], timer["agency_code"]
            self.metrics.stopped.labels(kind, agency, str(timer["on_time"]).lower()).inc()
            self.metrics.working_days_used.labels(kind).observe(timer["working_days_used"])
            self._tally(seen["before"], -1)
            # Its remaining due-index entries would only be dropped when they come due.
            await self.store.drop_due(e["_id"] for e in due_entries(timer))
        return [event]

    async def _extend(self, tid: str, action: DeadlineExtended) -> list[SlaTimerEvent]:
        tz = self.calendar.tz
        now = self.clock.now()
        current = await self.store.get(tid)
        if current is None:
            return []
        if action.event_id not in current["outcomes"] and (
            extension_refusal(
                self.calendar, self.policy, current, action.new_due_at, action.occurred_at
            )
            is None
        ):
            # The new generation's due-index entries go in before the timer points at them,
            # so no crash can leave it unable to fire (unused ones are dropped when due).
            await self.store.add_due(due_entries({**current, **self._extended(current, action)}))

        def extend(timer: dict[str, Any]) -> dict[str, Any] | None:
            if action.event_id in timer["outcomes"]:
                return None
            reason = extension_refusal(
                self.calendar, self.policy, timer, action.new_due_at, action.occurred_at
            )
            if reason is not None:
                event = refused_event(
                    timer,
                    extension_event_id=action.event_id,
                    requested_due_at=action.new_due_at,
                    reason=reason,
                    now=now,
                    tz=tz,
                )
                return {f"outcomes.{action.event_id}": event.model_dump(mode="json")}
            changes = self._extended(timer, action)
            event = extended_event({**timer, **changes}, action.event_id, now, tz)
            stored = event.model_dump(mode="json")
            return {**changes, "started_event": stored, f"outcomes.{action.event_id}": stored}

        timer, changed = await self.store.update(tid, extend, current=current)
        if timer is None:
            return []
        event = _stored_outcome(timer, action.event_id)
        if changed:
            accepted = event.event_type == "sla.started"
            if accepted:
                # Normally inserted above already; differs only if the timer changed between.
                await self.store.add_due(due_entries(timer))
                # The old generation's entries would only be dropped when they come due.
                old = {e["_id"] for e in due_entries(current)}
                await self.store.drop_due(old - {e["_id"] for e in due_entries(timer)})
                self.on_armed(min(e["at"] for e in due_entries(timer)))
            self.metrics.extensions.labels(
                timer["agency_code"], "accepted" if accepted else "refused"
            ).inc()
        return [event]

    def _extended(self, timer: dict[str, Any], action: DeadlineExtended) -> dict[str, Any]:
        return extension_changes(
            self.calendar, self.policy, timer, action.new_due_at, action.occurred_at
        )

    def _tally(self, timer: dict[str, Any], delta: int) -> None:
        self.tallies.add(timer["shard"], timer["kind"], timer["agency_code"], timer["state"], delta)

    # --- firing -------------------------------------------------------------------------------

    async def fire(self, entries: Iterable[dict[str, Any]]) -> int:
        """Publish what each due-index entry's timer must say now, record breaches on the
        timer, then drop the entries (that is the record of a warning). Returns events sent."""
        now = self.clock.now()
        entries = list(entries)
        timers = await self.store.get_many(e["timer_id"] for e in entries)
        tz = self.calendar.tz

        due: list[tuple[dict[str, Any], dict[str, Any], Firing]] = []
        events: list[SlaTimerEvent] = []
        for entry in entries:
            timer = timers.get(entry["timer_id"])
            plan = plan_firing(timer, entry["generation"], entry["at"], now)
            if timer is None or plan is None:
                continue  # gone, stopped, re-armed or superseded: the entry is just dropped
            if plan.what == "breach":
                targets = escalation_targets(self.policy, timer["agency_code"])
                plan.changes["escalate_to"] = targets
                events.append(breach_event(timer, targets, now, tz))
            else:
                assert plan.days_left is not None
                events.append(warning_event(timer, plan.days_left, now, tz))
            due.append((entry, timer, plan))

        async def publish_one(event: SlaTimerEvent) -> None:
            async with self._publishing:
                await self.publish(event)

        await asyncio.gather(*(publish_one(e) for e in events))

        async def record_breach(entry: dict[str, Any], timer: dict[str, Any]) -> None:
            async with self._recording:
                await self._record_breach(entry, timer, now)

        await asyncio.gather(*(record_breach(e, t) for e, t, plan in due if plan.what == "breach"))
        # Published (and breaches recorded) first, dropped after: a crash in between fires
        # these entries again with the same event ids.
        await self.store.drop_due(e["_id"] for e in entries)

        for entry, timer, plan in due:
            counter = self.metrics.breaches if plan.what == "breach" else self.metrics.warnings
            counter.labels(timer["kind"], timer["agency_code"]).inc()
            self.metrics.firing_lag.observe(max(0.0, (now - entry["at"]).total_seconds()))
        return len(events)

    async def _record_breach(self, entry: dict[str, Any], fired: dict[str, Any], now: datetime):
        def record(timer: dict[str, Any]) -> dict[str, Any] | None:
            again = plan_firing(timer, entry["generation"], entry["at"], now)
            if again is None or again.what != "breach":
                return None  # stopped or re-armed meanwhile
            return {
                **again.changes,
                "escalate_to": escalation_targets(self.policy, timer["agency_code"]),
            }

        timer, changed = await self.store.update(fired["_id"], record, current=fired)
        if changed and timer is not None:
            self._tally({**timer, "state": OPEN}, -1)
            self._tally({**timer, "state": BREACHED}, +1)


def _reassign(agency_code: str):
    def reassign(timer: dict[str, Any]) -> dict[str, Any] | None:
        return None if timer["agency_code"] == agency_code else {"agency_code": agency_code}

    return reassign


def _stored_outcome(timer: dict[str, Any], action_event_id: str) -> SlaTimerEvent:
    return SLA_EVENT_ADAPTER.validate_python(timer["outcomes"][action_event_id])
