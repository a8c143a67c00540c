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
from reference.calendar import WorkingCalendar
from reference.statute import registration_time
from services.common.batching import all_of
from services.common.clock import Clock
from services.sla.metrics import SlaMetrics
from services.sla.schedule import (
    BREACHED,
    OPEN,
    STOPPED,
    SlaPolicy,
    escalation_targets,
    extension_changes,
    extension_refusal,
    plan_firing,
    stop_outcome,
)
from services.sla.store import Tallies, TimerStore, breach_id, due_entries
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

        Store round trips (each shared with the other appeals armed at once, see
        `TimerStore.batcher`): read the timers, insert the due entries, insert the timers,
        then publish while reading the parked-actions marker. The two timers are independent
        documents, so they are armed side by side."""
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

        if routed.hop > 0 or answer["agency_code"] != routed.agency_code:
            # Redirected: the same deadline from the same receipt date; a new body answers.
            # (Also on a redelivered redirect: the due-index entries must follow the body.)
            await self._reassign(answer_id, routed.agency_code, current=answer)
        elif created or routed.hop == 0:
            started.append(SlaTimerStarted.model_validate(answer["started_event"]))
        for timer, _ in forwarding:
            started.append(SlaTimerStarted.model_validate(timer["started_event"]))

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
            self._tally(timer, OPEN, +1)
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
            # A routing decision armed in the meantime may have looked for parked actions
            # before this one was parked: look for timers again, now that it is. (Arming
            # stores its timers before it reads the parked-actions marker, so one of the two
            # sees the other.) Applying again is idempotent; the stored outcomes come back.
            seen = {t["_id"] for t in timers}
            if {t["_id"] for t in await self.store.of_appeal(action.appeal_id)} - seen:
                return await self.apply_action(action, park_if_unmatched=False)
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
            self._tally(timer, await self._state_of(seen["before"]), -1)
        # The stopped timer must not fire: its entries go (again, on a redelivered answer).
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
            prospective = {**current, **self._extension(current, action, now)}
            await self.store.add_due(due_entries(prospective))

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
            changes = self._extension(timer, action, now)
            return {**changes, f"outcomes.{action.event_id}": changes["started_event"]}

        timer, changed = await self.store.update(tid, extend, current=current)
        if timer is None:
            return []
        event = _stored_outcome(timer, action.event_id)
        accepted = event.event_type == "sla.started"
        if accepted:
            # Normally inserted above already (this differs only if the timer changed in
            # between); then the old generation's entries go. Again on a redelivery.
            await self.store.add_due(due_entries(timer))
            await self.store.drop_due(timer.get("superseded_due", ()))
        if changed:
            if accepted:
                self.on_armed(min(e["at"] for e in due_entries(timer)))
            self.metrics.extensions.labels(
                timer["agency_code"], "accepted" if accepted else "refused"
            ).inc()
        return [event]

    def _extension(
        self, timer: dict[str, Any], action: DeadlineExtended, now: datetime
    ) -> dict[str, Any]:
        """The timer's fields after an accepted extension: a new generation with its own
        schedule and started event; the old generation's due-index entries recorded as
        superseded, so they are dropped even if this process dies right after."""
        changes = extension_changes(
            self.calendar, self.policy, timer, action.new_due_at, action.occurred_at
        )
        started = extended_event({**timer, **changes}, action.event_id, now, self.calendar.tz)
        return {
            **changes,
            "started_event": started.model_dump(mode="json"),
            "superseded_due": [e["_id"] for e in due_entries(timer)],
        }

    async def _reassign(
        self, tid: str, agency_code: str, current: dict[str, Any] | None = None
    ) -> None:
        seen: dict[str, Any] = {}

        def reassign(timer: dict[str, Any]) -> dict[str, Any] | None:
            seen["before"] = timer
            return None if timer["agency_code"] == agency_code else {"agency_code": agency_code}

        timer, changed = await self.store.update(tid, reassign, current=current)
        if timer is None or timer["state"] == STOPPED:
            return
        await self.store.set_due_agency(timer)
        if changed:
            state = await self._state_of(timer)
            self._tally(seen["before"], state, -1)
            self._tally(timer, state, +1)

    async def _state_of(self, timer: dict[str, Any]) -> str:
        """Open or breached, for the tallies: a breach is a record of its own (see fire)."""
        return BREACHED if await self.store.breached(timer) else OPEN

    def _tally(self, timer: dict[str, Any], state: str, delta: int) -> None:
        self.tallies.add(timer["shard"], timer["kind"], timer["agency_code"], state, delta)

    # --- firing -------------------------------------------------------------------------------

    async def fire(self, entries: Iterable[dict[str, Any]]) -> int:
        """Publish what each due-index entry says now, record breaches, then drop the
        entries (that is the record of a warning). Reads no timer document: the entry
        carries its timer's identity and schedule. Returns events sent."""
        now = self.clock.now()
        entries = list(entries)
        tz = self.calendar.tz

        fired: list[tuple[dict[str, Any], str]] = []
        events: list[SlaTimerEvent] = []
        breaches: list[dict[str, Any]] = []
        for entry in entries:
            plan = plan_firing(entry, now)
            if plan is None:
                continue  # superseded by a later moment of the same timer
            timer = entry["timer"]
            if plan.what == "breach":
                targets = escalation_targets(self.policy, timer["agency_code"])
                events.append(breach_event(timer, targets, now, tz))
                breaches.append(
                    {
                        "_id": breach_id(timer),
                        "timer_id": timer["_id"],
                        "appeal_id": timer["appeal_id"],
                        "kind": timer["kind"],
                        "agency_code": timer["agency_code"],
                        "breached_at": timer["due_at"],
                        "escalate_to": targets,
                        "fired_at": now,
                    }
                )
            else:
                assert plan.days_left is not None
                events.append(warning_event(timer, plan.days_left, now, tz))
            fired.append((entry, plan.what))

        async def publish_one(event: SlaTimerEvent) -> None:
            async with self._publishing:
                await self.publish(event)

        await asyncio.gather(*(publish_one(e) for e in events))
        # Published first, then breaches recorded, then the entries dropped — in this order
        # (the record must exist before its entry is gone): a crash in between fires these
        # entries again with the same event ids (and finds their breach records there).
        recorded = await self.store.record_breaches(breaches)
        await self.store.drop_due(e["_id"] for e in entries)

        for entry, what in fired:
            timer = entry["timer"]
            if what == "breach":
                self.metrics.breaches.labels(timer["kind"], timer["agency_code"]).inc()
                if breach_id(timer) in recorded:
                    self._tally(timer, OPEN, -1)
                    self._tally(timer, BREACHED, +1)
            else:
                self.metrics.warnings.labels(timer["kind"], timer["agency_code"]).inc()
            self.metrics.firing_lag.observe(max(0.0, (now - entry["at"]).total_seconds()))
        return len(events)


def _stored_outcome(timer: dict[str, Any], action_event_id: str) -> SlaTimerEvent:
    return SLA_EVENT_ADAPTER.validate_python(timer["outcomes"][action_event_id])
