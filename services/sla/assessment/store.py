"""The assessment's tallies: per day, per subject (a body or a region), counts of each metric,
kept as documents whose `_id` is range-readable by day.

`_id` = `<YYYY-MM-DD>|<subject>|<source>`, e.g. `2026-03-05|body:astana-energy|sla.events.v1#2`;
fields: `n` (metric → count) and `ids` (the event ids counted in it). A report over a
period reads the `_id` range `<first day>|` … `<day after the last>|` — the only kind of
read FerretDB serves from an index besides `_id` equality — never the events or the timers.

Exactly once, on a store without transactions: an event's ids and its counts go in one
single-document update whose filter says "none of these ids is counted here yet"
(`{_id, ids: {$nin: [...]}}`, `$inc` + `$push`, upsert). A redelivered event (the same
event id: a redelivered batch, or sla's firing republishing after a crash) finds its id
there, the filter does not match, the upsert collides with the document → nothing is added
(the ids already there are dropped and the rest retried). A redelivery comes on the same
partition of the same topic (events are keyed by appeal id), so it meets its first copy in
the same document.

One writer per document: `source` is the topic and partition the event came from, which
one consumer of the group reads at a time (FerretDB's single-document update is not atomic
across concurrent callers: two writers of one document could lose an increment). Within a
process the updates of one document are serialised and coalesced — whatever arrives while
one update is in flight goes in the next one, so a burst costs one write per document per
round trip, not one per event. Residual: while a partition moves between instances, both
may briefly write its documents (the same known drift as sla's open-timer tallies).

Cost: a document's `ids` grows with the events of its day, subject and partition (an
iKomek-sized body: a few thousand a day, ~40 bytes each, spread over the partitions).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

TALLIES = "assessment_tallies"


@dataclass(frozen=True)
class TallyKey:
    day: date
    subject: str
    source: str

    @property
    def document_id(self) -> str:
        return f"{self.day.isoformat()}|{self.subject}|{self.source}"


@dataclass(frozen=True)
class DayTally:
    """One day's counts for one subject (every source's share summed)."""

    day: date
    subject: str
    counts: Mapping[str, int]


class TallyStore(Protocol):
    async def add(self, key: TallyKey, event_id: str, counts: Mapping[str, int]) -> None:
        """Add `counts` under `key` unless `event_id` was already counted there."""
        ...

    async def read(self, first: date, last: date) -> list[DayTally]:
        """Every subject's counts of every day from `first` to `last` (inclusive)."""
        ...


def _range(first: date, last: date) -> tuple[str, str]:
    return f"{first.isoformat()}|", f"{(last + timedelta(days=1)).isoformat()}|"


def summed(rows: list[tuple[date, str, Mapping[str, int]]]) -> list[DayTally]:
    """Rows of (day, subject, counts) with each (day, subject) summed over its sources."""
    totals: dict[tuple[date, str], Counter[str]] = {}
    for day, subject, counts in rows:
        totals.setdefault((day, subject), Counter()).update(counts)
    return [DayTally(day, subject, dict(c)) for (day, subject), c in sorted(totals.items())]


def _parse_id(document_id: str) -> tuple[date, str]:
    day, subject, _source = document_id.split("|", 2)
    return date.fromisoformat(day), subject


@dataclass
class _Pending:
    event_id: str
    counts: Mapping[str, int]
    done: asyncio.Future[None] = field(repr=False)


class MongoTallyStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.tallies = db[TALLIES]
        self._queued: dict[str, list[_Pending]] = {}
        self._draining: dict[str, asyncio.Task[None]] = {}

    async def add(self, key: TallyKey, event_id: str, counts: Mapping[str, int]) -> None:
        document_id = key.document_id
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(document_id, []).append(_Pending(event_id, counts, done))
        if document_id not in self._draining:
            self._draining[document_id] = asyncio.create_task(self._drain(document_id))
        await done

    async def _drain(self, document_id: str) -> None:
        try:
            while batch := self._queued.pop(document_id, None):
                try:
                    await self._apply(document_id, batch)
                except Exception as exc:
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                else:
                    for item in batch:
                        if not item.done.done():
                            item.done.set_result(None)
        finally:
            del self._draining[document_id]

    async def _apply(self, document_id: str, batch: list[_Pending]) -> None:
        fresh = list({item.event_id: item for item in reversed(batch)}.values())
        while fresh:
            ids = [item.event_id for item in fresh]
            increments: Counter[str] = Counter()
            for item in fresh:
                increments.update(item.counts)
            update: dict[str, Any] = {
                "$inc": {f"n.{metric}": n for metric, n in increments.items() if n},
                "$push": {"ids": {"$each": ids}},
            }
            try:
                await self.tallies.update_one(
                    {"_id": document_id, "ids": {"$nin": ids}}, update, upsert=True
                )
                return
            except DuplicateKeyError:
                # Some of them were counted before (a redelivery): add the others only.
                document = await self.tallies.find_one({"_id": document_id}, {"ids": 1})
                counted = set(document["ids"]) if document else set()
                remaining = [item for item in fresh if item.event_id not in counted]
                if len(remaining) == len(fresh):
                    raise
                fresh = remaining

    async def read(self, first: date, last: date) -> list[DayTally]:
        low, high = _range(first, last)
        cursor = self.tallies.find({"_id": {"$gte": low, "$lt": high}}, {"ids": 0})
        rows = [(*_parse_id(doc["_id"]), doc.get("n", {})) async for doc in cursor]
        return summed(rows)


class MemoryTallyStore:
    """The same in memory, for unit tests."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[Counter[str], set[str]]] = {}

    async def add(self, key: TallyKey, event_id: str, counts: Mapping[str, int]) -> None:
        n, ids = self.documents.setdefault(key.document_id, (Counter(), set()))
        if event_id not in ids:
            ids.add(event_id)
            n.update(counts)

    async def read(self, first: date, last: date) -> list[DayTally]:
        low, high = _range(first, last)
        rows = [
            (*_parse_id(document_id), dict(n))
            for document_id, (n, _) in self.documents.items()
            if low <= document_id < high
        ]
        return summed(rows)
