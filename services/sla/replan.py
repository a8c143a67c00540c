"""The working-day calendar changed under open timers: see which deadlines it moves, and
move them — once.

A year's days off are provisional until the government's decree (reference/decree.py); when
it is loaded, every service restarts on the new calendar and the operator asks sla:
`GET /v1/calendar/replan` lists the open timers whose deadline the calendar now puts
elsewhere (nothing written), `POST` re-plans them. Per timer (the rules are
`schedule.replan_changes`): a computed term is counted again from its day 0; a proposed one
(an extension) keeps its day unless that is now a day off; a deadline already passed is left
as it was judged. A moved deadline is a new generation with its own warnings and due-index
entry, announced by `sla.started` with `previous_due_at`, `moved_because` and the calendar's
version — intake's status follows it, notify tells the citizen when the answer date moved.

Once: the timer records the event under `calendar:<version>` (compare-and-set, like an
extension), so a second run on the same calendar — or one racing it on another instance —
republishes the same event (same id) and moves nothing; the new generation's entry goes in
before the timer points at it, the old generation's after (no crash leaves a timer unable to
fire). Enumeration pages through the due index (every open timer has one entry there).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from contracts import DeadlineKind, SlaTimerStarted
from reference.statute import provisional
from services.sla.schedule import moved_because, replan_changes, replan_key
from services.sla.timers import Timer, next_generation

if TYPE_CHECKING:
    from services.sla.service import TimerService

PAGE = 500


@dataclass(frozen=True)
class Move:
    """One deadline the calendar moves."""

    timer_id: str
    appeal_id: str
    kind: DeadlineKind
    agency_code: str
    previous_due_at: datetime
    due_at: datetime


class CalendarReplan:
    def __init__(self, service: TimerService) -> None:
        self.service = service

    async def moves(self, apply: bool) -> list[Move]:
        """The deadlines the service's calendar moves; with `apply`, moved (and announced)."""
        seen: set[str] = set()
        found: list[Move] = []
        after: str | None = ""
        while after is not None:
            ids, after = await self.service.store.pending_timer_ids(after, PAGE)
            for tid in dict.fromkeys(ids):
                if tid in seen:
                    continue
                seen.add(tid)
                move = await (self._apply(tid) if apply else self._preview(tid))
                if move is not None:
                    found.append(move)
        return found

    async def _preview(self, tid: str) -> Move | None:
        timer = await self.service.store.get(tid)
        if timer is None or replan_key(self.service.calendar) in timer.outcomes:
            return None
        changed = replan_changes(
            self.service.calendar, self.service.policy, timer, self.service.clock.now()
        )
        return _move(timer, changed.due_at) if changed else None

    async def _apply(self, tid: str) -> Move | None:
        service, key, now = (
            self.service,
            replan_key(self.service.calendar),
            self.service.clock.now(),
        )
        current = await service.store.get(tid)
        if current is None:
            return None
        ahead: str | None = None
        if key not in current.outcomes:
            changed = replan_changes(service.calendar, service.policy, current, now)
            if changed is None:
                return None
            # The new generation's entry first, so no crash leaves it unable to fire; taken
            # out again if a stop or an extension won the race (see drop_unless_current).
            entry = self._replanned(current, changed, now).first_due_entry()
            await service.store.add_due([entry])
            ahead = entry.key

        def replan(timer: Timer) -> Timer | None:
            if key in timer.outcomes:
                return None
            changed = replan_changes(service.calendar, service.policy, timer, now)
            if changed is None:
                return None
            renewed = self._replanned(timer, changed, now)
            return replace(renewed, outcomes={**timer.outcomes, key: renewed.started_event})

        timer, changed_now = await service.store.update(tid, replan, current=current)
        await service.drop_unless_current(ahead, timer)
        event = timer.outcome_of(key) if timer else None
        if timer is None or not isinstance(event, SlaTimerStarted):
            return None
        if timer.generation != event.generation:
            return None  # extended (or stopped) since: that decision's entries stand
        if changed_now or (timer.due_at > now and not await service.store.entries_of(timer)):
            # (On a second run: only when the first died between its write and its entry,
            # a timer changed between its read and its write leaving none ahead.)
            await service.store.add_due([timer.first_due_entry()])
            service.on_armed(min(timer.moments))
        # Again on a second run, which may be finishing the first: the old generation's
        # entries go, and the event is published again (the same id: downstream sees a
        # duplicate), in case the run that moved it died before publishing. No entry is put
        # in again: the first run's went in ahead of its write, and may have fired since.
        await service.store.drop_due(timer.superseded_due)
        await service.publish(event)
        if not changed_now:
            return None
        assert event.previous_due_at is not None
        return _move(timer, timer.due_at, event.previous_due_at)

    def _replanned(self, timer: Timer, changed: Timer, now: datetime) -> Timer:
        calendar = self.service.calendar
        return next_generation(
            timer,
            changed,
            caused_by=timer.started_event.event_id,
            now=now,
            tz=calendar.tz,
            provisional=provisional(calendar, timer.registered_at, changed.due_at),
            previous_due_at=timer.due_at.astimezone(calendar.tz),
            moved_because=moved_because(calendar, timer.due_at, changed.due_at),
            calendar_version=calendar.version,
        )


def _move(timer: Timer, due_at: datetime, previous: datetime | None = None) -> Move:
    return Move(
        timer_id=timer.timer_id,
        appeal_id=timer.appeal_id,
        kind=timer.kind,
        agency_code=timer.agency_code,
        previous_due_at=previous or timer.due_at,
        due_at=due_at,
    )
