"""Open and breached timers per shard, kind and body, without counting documents.

Counting a million timer documents takes minutes on FerretDB (docs/measurements.md), so
every change of a timer's state adds a delta here; deltas are flushed to this
instance's own tally per shard (`TimerStore.add_to_tallies`: one writer per document, so no
increment is lost on a store without atomic updates), and the gauge is the sum of every
instance's tally of the owned shards (`counts`).

Known drift: deltas not yet flushed when a process dies are lost (at most one flush interval
of changes); a redelivered input does not count again. The tallies of dead instances stay
and keep counting for their shards, as they should.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterable

from services.sla.store import TallyKey, TimerStore


class Tallies:
    def __init__(self, store: TimerStore, instance: str | None = None) -> None:
        self.store = store
        self.instance = instance or uuid.uuid4().hex[:12]
        self.pending: Counter[tuple[int, str, str, str]] = Counter()
        self._flushing = asyncio.Lock()

    def add(self, shard: int, kind: str, agency: str, state: str, delta: int) -> None:
        self.pending[(shard, kind, agency, state)] += delta

    async def flush(self) -> None:
        async with self._flushing:
            deltas, self.pending = self.pending, Counter()
            by_shard: dict[int, dict[TallyKey, int]] = {}
            for (shard, kind, agency, state), n in deltas.items():
                if n:
                    by_shard.setdefault(shard, {})[(kind, agency, state)] = n
            if not by_shard:
                return
            try:
                await self.store.add_to_tallies(self.instance, by_shard)
            except Exception:
                self.pending.update(deltas)  # try again at the next flush
                raise

    async def counts(self, shards: Iterable[int]) -> dict[TallyKey, int]:
        """(kind, agency, state) → count over the given shards, every instance's share."""
        return await self.store.tally_counts(shards)
