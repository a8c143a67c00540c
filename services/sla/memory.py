"""The SLA store in memory: the `TimerStore` port over dicts, for unit tests and the in-memory
run of the SLA scenario suite. Same promises as the MongoDB store (store.py): insert-once,
compare-and-set updates, the due index read per shard soonest first with an equal share per
shard, one breach record per timer generation, markers before parked actions. Nothing
survives the process."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from contracts import AgencyActionEvent
from services.common.keys import RANGE_END, iso_ms
from services.sla.store import ConcurrentUpdate, Mutation, TallyKey, timer_of_key
from services.sla.timers import (
    Breach,
    DueEntry,
    Timer,
    TimerHead,
    breach_key,
    shard_prefix,
)


class MemoryTimerStore:
    def __init__(self) -> None:
        self.timers: dict[str, Timer] = {}
        self.due_index: dict[str, DueEntry] = {}
        self._due_keys: list[str] = []  # sorted, as an `_id` index is
        self.breaches: dict[str, Breach] = {}
        self.pending: dict[str, tuple[datetime, AgencyActionEvent]] = {}
        self.markers: set[str] = set()
        self.tallies: dict[tuple[int, str], Counter[TallyKey]] = {}

    # --- timers -------------------------------------------------------------------------------

    async def insert(self, timer: Timer) -> bool:
        await self.add_due([timer.first_due_entry()])
        if timer.timer_id in self.timers:
            return False
        self.timers[timer.timer_id] = timer
        return True

    async def get(self, timer_id: str) -> Timer | None:
        return self.timers.get(timer_id)

    async def heads(self, timer_ids: Iterable[str]) -> dict[str, TimerHead]:
        return {
            tid: TimerHead(t.generation, t.state, t.agency_code)
            for tid in set(timer_ids)
            if (t := self.timers.get(tid)) is not None
        }

    async def of_appeal(self, appeal_id: str) -> list[Timer]:
        prefix = f"{appeal_id}:"
        return [t for tid, t in sorted(self.timers.items()) if tid.startswith(prefix)]

    async def update(
        self, timer_id: str, mutate: Mutation, current: Timer | None = None
    ) -> tuple[Timer | None, bool]:
        for _ in range(20):
            timer = current if current is not None else self.timers.get(timer_id)
            current = None
            if timer is None:
                return None, False
            changed = mutate(timer)
            if changed is None:
                return timer, False
            stored = self.timers.get(timer_id)
            if stored is not None and stored.rev == timer.rev:
                written = replace(changed, rev=timer.rev + 1)
                self.timers[timer_id] = written
                return written, True
        raise ConcurrentUpdate(f"timer {timer_id} kept changing; giving up for now")

    # --- the due index ------------------------------------------------------------------------

    async def add_due(self, entries: list[DueEntry]) -> None:
        for entry in entries:
            if entry.key not in self.due_index:
                self.due_index[entry.key] = entry
                bisect.insort(self._due_keys, entry.key)

    def _range(self, low: str, high: str) -> list[str]:
        return self._due_keys[
            bisect.bisect_left(self._due_keys, low) : bisect.bisect_left(self._due_keys, high)
        ]

    async def due(
        self, shards: Iterable[int], until: datetime, limit: int
    ) -> tuple[list[DueEntry], bool]:
        owned = sorted(shards)
        if not owned:
            return [], False
        share = max(1, -(-limit // len(owned)))
        end = iso_ms(until) + RANGE_END
        pages = [self._range(shard_prefix(s), shard_prefix(s) + end)[:share] for s in owned]
        entries = sorted(
            (self.due_index[key] for page in pages for key in page), key=lambda e: (e.at, e.key)
        )
        return entries, any(len(page) >= share for page in pages)

    async def pending_timer_ids(self, after: str, limit: int) -> tuple[list[str], str | None]:
        keys = self._due_keys[bisect.bisect_right(self._due_keys, after) :][:limit]
        return [timer_of_key(key) for key in keys], (keys[-1] if len(keys) >= limit else None)

    async def next_moment(
        self, shards: Iterable[int], after: datetime, until: datetime
    ) -> datetime | None:
        start = iso_ms(after + timedelta(milliseconds=1))
        end = iso_ms(until) + RANGE_END
        firsts = [self._range(shard_prefix(s) + start, shard_prefix(s) + end)[:1] for s in shards]
        return min((self.due_index[keys[0]].at for keys in firsts if keys), default=None)

    async def replace_due(self, entries: list[DueEntry]) -> None:
        for entry in entries:
            if entry.key in self.due_index:
                self.due_index[entry.key] = entry

    async def entries_of(self, timer: Timer) -> list[DueEntry]:
        found = [self.due_index[e.key] for e in timer.due_entries() if e.key in self.due_index]
        return sorted(found, key=lambda e: e.at)

    async def drop_due(self, keys: Iterable[str]) -> None:
        for key in set(keys):
            if self.due_index.pop(key, None) is not None:
                self._due_keys.remove(key)

    # --- breaches -----------------------------------------------------------------------------

    async def record_breaches(self, breaches: list[Breach]) -> set[str]:
        recorded = set()
        for breach in breaches:
            if breach.key not in self.breaches:
                self.breaches[breach.key] = breach
                recorded.add(breach.key)
        return recorded

    async def breached(self, timer: Timer) -> bool:
        return breach_key(timer.timer_id, timer.generation) in self.breaches

    # --- actions that arrived before the timer they concern ---------------------------------

    async def park(self, action: AgencyActionEvent) -> None:
        self.markers.add(action.appeal_id)
        self.pending.setdefault(
            f"{action.appeal_id}:{action.event_id}", (action.occurred_at, action)
        )

    async def parked(self, appeal_id: str) -> list[AgencyActionEvent]:
        mine = [v for k, v in self.pending.items() if k.startswith(f"{appeal_id}:")]
        return [action for _, action in sorted(mine, key=lambda pair: pair[0])]

    async def may_have_parked(self, appeal_id: str) -> bool:
        return appeal_id in self.markers

    async def forget_parked(self, appeal_id: str) -> None:
        for key in [k for k in self.pending if k.startswith(f"{appeal_id}:")]:
            del self.pending[key]

    # --- tallies ------------------------------------------------------------------------------

    async def add_to_tallies(
        self, instance: str, deltas: Mapping[int, Mapping[TallyKey, int]]
    ) -> None:
        for shard, counts in deltas.items():
            self.tallies.setdefault((shard, instance), Counter()).update(counts)

    async def tally_counts(self, shards: Iterable[int]) -> dict[TallyKey, int]:
        wanted = set(shards)
        total: Counter[TallyKey] = Counter()
        for (shard, _), counts in self.tallies.items():
            if shard in wanted:
                total.update(counts)
        return dict(total)
