"""Timers as typed values, and the events a timer emits.

A timer's id is stable per (appeal, deadline kind[, hop]); its generation grows when the
deadline moves (extension), so every event it emits has a deterministic id: timer id +
generation + what happened (+ warning index). A re-fire after a crash therefore repeats the
same event id, which downstream consumers recognise as a duplicate.

- `Timer` — one statutory term of one appeal: who answers, when it is due, its warnings, its
  state, and the events it produced (its started event; per agency action, the event that
  action produced, so a redelivered action republishes it).
- `TimerRef` — what a timer's events and due-index entries carry of it (identity, body,
  deadline, generation): firing needs nothing more, so it never reads a timer.
- `DueEntry` — one moment (a warning or the deadline) of a timer generation, with the whole
  schedule of that generation, in the due index. A generation has one entry at a time: the
  first moment's when it starts, and firing an entry puts in the next moment's (rolling), so
  an appeal answered before its warnings costs one due-index document, not three.
- `Breach` — the record of a breached deadline and whom it was escalated to.

How they are laid out in the store is `store.py`'s business; what the rules do with them,
`schedule.py`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from enum import StrEnum

from contracts import (
    AppealRouted,
    DeadlineKind,
    SlaBreached,
    SlaExtensionRefused,
    SlaStopped,
    SlaTimerEvent,
    SlaTimerStarted,
    SlaWarning,
    deterministic_id,
)
from services.common.keys import iso_ms

# The answer timer starts at generation 1; every accepted extension adds one.
FIRST_GENERATION = 1


class TimerState(StrEnum):
    OPEN = "open"
    BREACHED = "breached"
    STOPPED = "stopped"


def timer_id(appeal_id: str, kind: DeadlineKind, hop: int = 0) -> str:
    """`<appeal>:answer` — one per appeal: a redirect keeps it (and its deadline).
    `<appeal>:forwarding:<hop>` — one per receiving body: each hop has its own Art. 65 term."""
    if kind is DeadlineKind.ANSWER:
        return f"{appeal_id}:answer"
    return f"{appeal_id}:forwarding:{hop}"


def shard_prefix(shard: int) -> str:
    return f"{shard:04d}|"


@dataclass(frozen=True)
class Warning:
    days_left: int
    at: datetime


@dataclass(frozen=True)
class TimerHead:
    """What firing needs to know of a timer whose next due entry it has put in: whether
    that entry is still the timer's (same generation, not stopped) and for which body."""

    generation: int
    state: TimerState
    agency_code: str

    def keeps(self, entry: DueEntry) -> bool:
        return self.state is not TimerState.STOPPED and self.generation == entry.generation


@dataclass(frozen=True)
class TimerRef:
    timer_id: str
    appeal_id: str
    correlation_id: str
    kind: DeadlineKind
    agency_code: str
    shard: int
    due_at: datetime
    generation: int
    started_event_id: str
    """The event that armed this generation: the cause of everything it fires."""


@dataclass(frozen=True)
class Timer:
    timer_id: str
    appeal_id: str
    correlation_id: str
    kind: DeadlineKind
    hop: int
    agency_code: str
    received_at: datetime
    registered_at: datetime
    """Day 0 of the term: working days used are counted from it."""
    due_at: datetime
    generation: int
    state: TimerState
    shard: int
    warnings: tuple[Warning, ...]
    created_at: datetime
    started_event: SlaTimerStarted
    outcomes: Mapping[str, SlaTimerEvent] = field(default_factory=dict)
    """Agency action event id → the SLA event it produced (republished on redelivery)."""
    escalate_to: tuple[str, ...] = ()
    rev: int = 0
    """Revision, for compare-and-set."""
    stopped_at: datetime | None = None
    on_time: bool | None = None
    working_days_used: int | None = None
    superseded_due: tuple[str, ...] = ()
    """Due-index keys of the generation an accepted extension replaced (dropped after)."""
    proposed: bool = False
    """The deadline is one a body proposed (an accepted extension), not a computed term: a
    calendar change re-plans it by the rule for terms ending on a day off only."""

    @property
    def ref(self) -> TimerRef:
        return TimerRef(
            timer_id=self.timer_id,
            appeal_id=self.appeal_id,
            correlation_id=self.correlation_id,
            kind=self.kind,
            agency_code=self.agency_code,
            shard=self.shard,
            due_at=self.due_at,
            generation=self.generation,
            started_event_id=self.started_event.event_id,
        )

    @property
    def moments(self) -> tuple[datetime, ...]:
        """Every moment at which the current generation acts: its warnings and its
        deadline, oldest first. The due index holds one entry per moment."""
        return tuple(sorted([*(w.at for w in self.warnings), self.due_at]))

    def first_due_entry(self) -> DueEntry:
        """The due-index entry a generation starts with (its earliest moment); the others
        follow one at a time as each fires (see `DueEntry.successor`)."""
        return self.due_entry(self.moments[0])

    def due_entries(self) -> list[DueEntry]:
        """Every due-index entry the current generation may have (one per moment; at most
        one of them is stored at a time): what a stop, a redirect or an extension must
        drop or repoint, whichever of them is there."""
        return [self.due_entry(moment) for moment in self.moments]

    def due_entry(self, moment: datetime) -> DueEntry:
        days = {w.at: w.days_left for w in self.warnings}
        moments = self.moments
        return DueEntry(
            key=due_key(self.shard, moment, self.timer_id, self.generation),
            timer=self.ref,
            at=moment,
            moments=moments,
            days_left=days.get(moment),
            days=tuple(days.get(m) for m in moments),
        )

    def outcome_of(self, action_event_id: str) -> SlaTimerEvent | None:
        return self.outcomes.get(action_event_id)


def due_key(shard: int, moment: datetime, timer_id: str, generation: int) -> str:
    """`<shard:04d>|<moment, UTC ISO ms>|<timer id>|<generation>`: "shard p, due by t,
    soonest first" is one `_id` range."""
    return f"{shard_prefix(shard)}{iso_ms(moment)}|{timer_id}|{generation}"


@dataclass(frozen=True)
class DueEntry:
    key: str
    timer: TimerRef
    at: datetime
    moments: tuple[datetime, ...]
    """The whole schedule of the timer's generation: an entry superseded by a later moment
    that has also come is not sent (see schedule.plan_firing)."""
    days_left: int | None
    """Of a warning; None for the deadline."""
    days: tuple[int | None, ...] | None = None
    """Working days left at each of `moments` (None at the deadline), so the entry can make
    its successor without reading the timer. None on entries stored before entries rolled
    (then every moment of the generation has an entry of its own, and none is made)."""

    @property
    def rolling(self) -> bool:
        return self.days is not None

    def at_moment(self, moment: datetime) -> DueEntry:
        """The entry of another moment of the same schedule (a rolling entry only)."""
        assert self.days is not None, "an entry of the earlier layout has no schedule days"
        return replace(
            self,
            key=due_key(self.timer.shard, moment, self.timer.timer_id, self.timer.generation),
            at=moment,
            days_left=self.days[self.moments.index(moment)],
        )

    checked: bool = False
    """Put in by firing (a successor): its timer may have been stopped, extended or
    redirected since — and a crash may have kept the firing that put it in from checking —
    so firing reads the timer's head before acting on it. Entries put in by arming and
    extension are the timer's own and need no read."""

    def successor(self, fired_at: datetime) -> DueEntry | None:
        """The entry to store once the moment `fired_at` has fired: the schedule's next
        moment, or None after the last (and for entries of the earlier layout)."""
        if self.days is None:
            return None
        later = [m for m in self.moments if m > fired_at]
        return replace(self.at_moment(later[0]), checked=True) if later else None

    def for_agency(self, agency_code: str) -> DueEntry:
        return replace(self, timer=replace(self.timer, agency_code=agency_code))

    @property
    def timer_id(self) -> str:
        return self.timer.timer_id

    @property
    def generation(self) -> int:
        return self.timer.generation


@dataclass(frozen=True)
class Breach:
    timer_id: str
    generation: int
    appeal_id: str
    kind: DeadlineKind
    agency_code: str
    breached_at: datetime
    escalate_to: tuple[str, ...]
    fired_at: datetime

    @property
    def key(self) -> str:
        return breach_key(self.timer_id, self.generation)


def breach_key(timer_id: str, generation: int) -> str:
    return f"{timer_id}|{generation}"


def new_timer(
    *,
    routed: AppealRouted,
    kind: DeadlineKind,
    due_at: datetime,
    registered_at: datetime,
    shard: int,
    warnings: tuple[Warning, ...],
    now: datetime,
    provisional: bool = False,
) -> Timer:
    """A fresh open timer, with its started event (`provisional`: its term reaches a year
    the calendar has no decree for yet)."""
    tid = timer_id(routed.appeal_id, kind, routed.hop)
    started = SlaTimerStarted(
        event_id=deterministic_id("sla.started", tid, str(FIRST_GENERATION)),
        appeal_id=routed.appeal_id,
        occurred_at=now,
        correlation_id=routed.correlation_id,
        causation_id=routed.event_id,
        timer_id=tid,
        deadline_kind=kind,
        agency_code=routed.agency_code,
        due_at=due_at,
        generation=FIRST_GENERATION,
        provisional_calendar=provisional,
    )
    return Timer(
        timer_id=tid,
        appeal_id=routed.appeal_id,
        correlation_id=routed.correlation_id,
        kind=kind,
        hop=routed.hop,
        agency_code=routed.agency_code,
        received_at=routed.received_at,
        registered_at=registered_at,
        due_at=due_at,
        generation=FIRST_GENERATION,
        state=TimerState.OPEN,
        shard=shard,
        warnings=warnings,
        created_at=now,
        started_event=started,
    )


# --- the events a timer emits -----------------------------------------------------------------


def _timer_fields(timer: TimerRef, tz: tzinfo) -> dict:
    return {
        "appeal_id": timer.appeal_id,
        "correlation_id": timer.correlation_id,
        "timer_id": timer.timer_id,
        "deadline_kind": timer.kind,
        "agency_code": timer.agency_code,
        "due_at": timer.due_at.astimezone(tz),
        "generation": timer.generation,
    }


def warning_event(timer: TimerRef, days_left: int, now: datetime, tz: tzinfo) -> SlaWarning:
    return SlaWarning(
        event_id=deterministic_id(
            "sla.warning", timer.timer_id, str(timer.generation), str(days_left)
        ),
        occurred_at=now,
        causation_id=timer.started_event_id,
        working_days_left=days_left,
        **_timer_fields(timer, tz),
    )


def breach_event(timer: TimerRef, escalate_to: list[str], now: datetime, tz: tzinfo) -> SlaBreached:
    return SlaBreached(
        event_id=deterministic_id("sla.breached", timer.timer_id, str(timer.generation)),
        occurred_at=now,
        causation_id=timer.started_event_id,
        escalate_to=escalate_to,
        breached_at=timer.due_at.astimezone(tz),
        **_timer_fields(timer, tz),
    )


def stopped_event(
    timer: TimerRef,
    *,
    on_time: bool,
    working_days_used: int,
    stopped_by: str,
    decided_at: datetime | None = None,
    decided_by: str | None = None,
    dismissed: bool = False,
    now: datetime,
    tz: tzinfo,
) -> SlaStopped:
    return SlaStopped(
        event_id=deterministic_id("sla.stopped", timer.timer_id, str(timer.generation)),
        occurred_at=now,
        causation_id=stopped_by,
        on_time=on_time,
        working_days_used=working_days_used,
        stopped_by_event_id=stopped_by,
        decided_at=decided_at,
        answered_by=decided_by,
        dismissed=dismissed,
        **_timer_fields(timer, tz),
    )


def next_generation(
    before: Timer,
    after: Timer,
    *,
    caused_by: str,
    now: datetime,
    tz: tzinfo,
    provisional: bool,
    **moved: object,
) -> Timer:
    """`after`, a new generation of `before` (an accepted extension; a calendar change, whose
    `previous_due_at`, `moved_because` and `calendar_version` come as `moved`), with the
    `sla.started` that re-arms it, and `before`'s due-index entries recorded as superseded,
    so they are dropped even if this process dies right after."""
    ref = after.ref
    started = SlaTimerStarted(
        event_id=deterministic_id("sla.started", ref.timer_id, str(ref.generation)),
        occurred_at=now,
        causation_id=caused_by,
        provisional_calendar=provisional,
        **moved,  # type: ignore[arg-type]
        **_timer_fields(ref, tz),
    )
    return replace(
        after,
        started_event=started,
        superseded_due=tuple(e.key for e in before.due_entries()),
    )


def refused_event(
    timer: TimerRef,
    *,
    extension_event_id: str,
    requested_due_at: datetime,
    reason: str,
    now: datetime,
    tz: tzinfo,
) -> SlaExtensionRefused:
    return SlaExtensionRefused(
        event_id=deterministic_id("sla.extension_refused", timer.timer_id, extension_event_id),
        occurred_at=now,
        causation_id=extension_event_id,
        requested_due_at=requested_due_at,
        reason=reason,
        **_timer_fields(timer, tz),
    )
