"""The SLA database: `timers`, the `due` index, `breaches`, `tallies` and `pending_actions`; the one
way a timer document is changed: compare-and-set on its revision.

Every read is by `_id`: equality, `$in`, or a string range. FerretDB v1 on SQLite serves only
those from an index (our build pushes ranges and `$in` down to the `_id` index, see
deploy/local/ferretdb.sh); any other filter reads the whole collection (~0.1 ms per document
measured), which at a million timers would be minutes per query. MongoDB serves the same
queries from its `_id` index. So the ids carry what is looked up:

- timers        `<appeal>:answer`, `<appeal>:forwarding:<hop>` — an appeal's timers are the
                range `<appeal>:` … `<appeal>:~`.
- due           `<shard:04d>|<moment, UTC ISO ms>|<timer id>|<generation>` — one entry per
                moment (warnings, deadline) of a timer generation; "shard p, due by t,
                soonest first" is the range `<p>|` … `<p>|<t>~`.
- tallies       `<shard:04d>|<instance>` — open/breached counts per shard written by one
                instance each (see `Tallies`).
- breaches      `<timer id>|<generation>` — one record per breach, with its escalation.
- pending       `<appeal>:<action event id>` — actions that overtook their routing decision.
- parked_appeals `<appeal>` — "this appeal may have parked actions", written before the
                first of them (see `TimerStore.may_have_parked`); plus one `MARKERS_COMPLETE`
                document once parked actions stored before markers existed have theirs.

Single-document operations by `_id` (reading a timer, inserting a new timer and its due
entries, the parked-actions marker) go through a `StoreBatcher`, so the appeals armed at once
share their commands; the compare-and-set of a timer update and the `_id` range reads are
commands of their own.

Does not decide anything; `schedule` and `service` do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

from services.common.batching import StoreBatcher, all_of
from services.common.keys import RANGE_END, iso_ms, prefix_range
from services.common.messaging import insert_once
from services.sla.schedule import moments

TIMERS = "timers"
DUE = "due"
BREACHES = "breaches"
TALLIES = "tallies"
PENDING_ACTIONS = "pending_actions"
PARKED_APPEALS = "parked_appeals"
# In `parked_appeals`: present once every parked action has its appeal's marker (those parked
# before markers existed were given theirs); until then every arming reads the range.
MARKERS_COMPLETE = "~markers-complete"


log = logging.getLogger("tyndau.sla.store")

Mutation = Callable[[dict[str, Any]], dict[str, Any] | None]


class ConcurrentUpdate(RuntimeError):
    """A timer kept changing under us; the message is redelivered and tried again."""


def shard_prefix(shard: int) -> str:
    return f"{shard:04d}|"


def due_entry(timer: Mapping[str, Any], moment: datetime) -> dict[str, Any]:
    """The entry for one moment of the timer's current generation. It carries what the
    event needs (a snapshot of the timer's identity and its generation's schedule), so
    firing reads no timer document; the paths that change a timer (stop, extension,
    redirect) keep its entries in step, again on a redelivered input."""
    key = f"{shard_prefix(timer['shard'])}{iso_ms(moment)}|{timer['_id']}|{timer['generation']}"
    warning = next((w for w in timer.get("warnings", ()) if w["at"] == moment), None)
    return {
        "_id": key,
        "timer_id": timer["_id"],
        "generation": timer["generation"],
        "at": moment,
        "moments": moments(timer),
        "days_left": warning["days_left"] if warning else None,
        "timer": {
            "_id": timer["_id"],
            "appeal_id": timer["appeal_id"],
            "correlation_id": timer["correlation_id"],
            "kind": timer["kind"],
            "agency_code": timer["agency_code"],
            "shard": timer["shard"],
            "due_at": timer["due_at"],
            "generation": timer["generation"],
            "started_event": {"event_id": timer["started_event"]["event_id"]},
        },
    }


def encode_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Stored as `{_id, v: <JSON text>}`: FerretDB converts each document field by field,
    and a nested entry cost ~1 ms to read or delete where one string field costs ~0.25 ms
    (measured on 500-entry pages) — the difference between ~350 and >1,000 firings/s."""
    payload = {
        **entry,
        "at": entry["at"].isoformat(),
        "moments": [m.isoformat() for m in entry["moments"]],
        "timer": {**entry["timer"], "due_at": entry["timer"]["due_at"].isoformat()},
    }
    del payload["_id"]
    return {"_id": entry["_id"], "v": json.dumps(payload, separators=(",", ":"))}


def _moment_of(entry_id: str) -> datetime:
    return datetime.fromisoformat(entry_id.split("|", 2)[1].replace("Z", "+00:00"))


def decode_entry(doc: Mapping[str, Any]) -> dict[str, Any]:
    entry = json.loads(doc["v"])
    entry["_id"] = doc["_id"]
    entry["at"] = datetime.fromisoformat(entry["at"])
    entry["moments"] = [datetime.fromisoformat(m) for m in entry["moments"]]
    entry["timer"]["due_at"] = datetime.fromisoformat(entry["timer"]["due_at"])
    return entry


def due_entries(timer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The due-index entries of the timer's current generation."""
    return [due_entry(timer, m) for m in moments(timer)]


def breach_id(timer: Mapping[str, Any]) -> str:
    return f"{timer['_id']}|{timer['generation']}"


class TimerStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.timers = db[TIMERS]
        self.due_index = db[DUE]
        self.breaches = db[BREACHES]
        self.tallies = db[TALLIES]
        self.pending = db[PENDING_ACTIONS]
        self.parked_appeals = db[PARKED_APPEALS]
        # Appeals handled at once (the routed subscriber runs up to 64 handlers) share one
        # command per collection and kind: FerretDB spends most of a single-document command
        # on per-command overhead. A read queued after a write of the same caller goes out
        # after it (one command in flight per lane), so reads still see the caller's writes.
        self.batcher = StoreBatcher()
        self._markers_complete = False
        self._marking = asyncio.Lock()

    # --- timers -------------------------------------------------------------------------------

    async def insert(self, timer: dict[str, Any]) -> bool:
        """Insert a new timer: its due-index entries first, so a crash in between leaves at
        most entries without a timer (dropped when they come due), never a timer that
        cannot fire. True if this call created the timer."""
        # Each entry an insert-once of its own (a redelivered arm finds them there), queued
        # together: with the other appeals' entries they make one `insert_many`.
        await all_of(
            self.batcher.insert_once(self.due_index, encode_entry(e)) for e in due_entries(timer)
        )
        return await self.batcher.insert_once(self.timers, timer)

    async def get(self, timer_id: str) -> dict[str, Any] | None:
        return await self.batcher.find_by_id(self.timers, timer_id)

    async def get_many(self, timer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = sorted(set(timer_ids))
        if not ids:
            return {}
        docs = await self.timers.find({"_id": {"$in": ids}}).to_list(None)
        return {d["_id"]: d for d in docs}

    async def of_appeal(self, appeal_id: str) -> list[dict[str, Any]]:
        return await self.timers.find({"_id": prefix_range(f"{appeal_id}:")}).to_list(None)

    async def update(
        self, timer_id: str, mutate: Mutation, current: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, bool]:
        """Apply `mutate` (fresh document → fields to set, or None for "nothing to do") with
        compare-and-set on `rev`; re-read and re-decide on a conflict. `current` is a copy
        the caller just read (saves the first read).

        Returns the document as last seen (after the change, if one was made) and whether this
        call changed it. The write carries a unique token that is read back: on a store whose
        single-document update is not atomic across callers (FerretDB v1 on SQLite) a write
        that another writer overwrote in the same instant is detected and decided again.
        """
        for attempt in range(20):
            try:
                timer = current if current is not None else await self.get(timer_id)
                current = None
                if timer is None:
                    return None, False
                changes = mutate(timer)
                if changes is None:
                    return timer, False
                token = uuid.uuid4().hex
                result = await self.timers.update_one(
                    {"_id": timer_id, "rev": timer["rev"]},
                    {"$set": {**changes, "write_token": token}, "$inc": {"rev": 1}},
                )
                if result.matched_count == 1:
                    written = await self.get(timer_id)
                    if written is not None and written.get("write_token") == token:
                        return written, True
            except OperationFailure as exc:
                # e.g. FerretDB/SQLite "database is locked" under concurrent writers; the
                # compare-and-set makes a retry safe.
                if attempt >= 5:
                    raise
                log.warning("timer %s update failed (%s), retrying", timer_id, exc.code)
                await asyncio.sleep(0.05 * 2**attempt)
        raise ConcurrentUpdate(f"timer {timer_id} kept changing; giving up for now")

    # --- the due index ------------------------------------------------------------------------

    async def add_due(self, entries: list[dict[str, Any]]) -> None:
        """Insert entries; ones already there (a redelivered input) are fine."""
        if not entries:
            return
        try:
            await self.due_index.insert_many([encode_entry(e) for e in entries], ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if others:
                raise

    async def due(
        self, shards: Iterable[int], until: datetime, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Due-index entries of `shards` whose moment is at or before `until`, soonest first,
        about `limit` in all (one `_id` range per shard, read concurrently, an equal share
        each); and whether some shard may have more.

        No server-side sort: FerretDB sorts in memory after reading the whole range (a
        million overdue entries after an outage), while an unsorted range read with a limit
        stops after `limit` rows; both stores scan an `_id` index range in index order,
        i.e. soonest first. The entries are sorted here again all the same."""
        owned = sorted(shards)
        if not owned:
            return [], False
        share = max(1, -(-limit // len(owned)))
        end = iso_ms(until) + RANGE_END

        async def of_shard(shard: int) -> list[dict[str, Any]]:
            prefix = shard_prefix(shard)
            query = {"_id": {"$gte": prefix, "$lt": prefix + end}}
            page = await self.due_index.find(query).limit(share).to_list(share)
            return [decode_entry(doc) for doc in page]

        found = await asyncio.gather(*(of_shard(s) for s in owned))
        entries = sorted((e for page in found for e in page), key=lambda e: (e["at"], e["_id"]))
        return entries, any(len(page) >= share for page in found)

    async def next_moment(
        self, shards: Iterable[int], after: datetime, until: datetime
    ) -> datetime | None:
        """The soonest entry moment of `shards` later than `after` and at most `until`."""
        start = iso_ms(after + timedelta(milliseconds=1))
        end = iso_ms(until) + RANGE_END

        async def first_of(shard: int) -> datetime | None:
            prefix = shard_prefix(shard)
            query = {"_id": {"$gte": prefix + start, "$lt": prefix + end}}
            page = await self.due_index.find(query, {"_id": 1}).limit(1).to_list(1)
            return _moment_of(page[0]["_id"]) if page else None

        found = [m for m in await asyncio.gather(*(first_of(s) for s in shards)) if m]
        return min(found, default=None)

    async def set_due_agency(self, timer: Mapping[str, Any]) -> None:
        """Point the timer's entries at its (new) responsible body after a redirect (only
        those still there: a fired one must not come back)."""
        await self.due_index.bulk_write(
            [
                ReplaceOne({"_id": entry["_id"]}, encode_entry(entry))
                for entry in due_entries(timer)
            ],
            ordered=False,
        )

    async def entries_of(self, timer: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The stored entries of the timer's current generation (for checks and tests)."""
        ids = [e["_id"] for e in due_entries(timer)]
        docs = await self.due_index.find({"_id": {"$in": ids}}).to_list(None)
        return sorted((decode_entry(d) for d in docs), key=lambda e: e["at"])

    async def drop_due(self, entry_ids: Iterable[str]) -> None:
        ids = sorted(set(entry_ids))
        for start in range(0, len(ids), 1000):
            await self.due_index.delete_many({"_id": {"$in": ids[start : start + 1000]}})

    # --- breaches -----------------------------------------------------------------------------

    async def record_breaches(self, records: list[dict[str, Any]]) -> set[str]:
        """Insert breach records (`_id` = `<timer id>|<generation>`); returns the ids this call
        inserted (a re-fire after a crash finds its records there already)."""
        if not records:
            return set()
        try:
            await self.breaches.insert_many(records, ordered=False)
            return {r["_id"] for r in records}
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            failed = {records[e["index"]]["_id"] for e in errors}
            return {r["_id"] for r in records} - failed

    async def breached(self, timer: Mapping[str, Any]) -> bool:
        record = await self.batcher.find_by_id(self.breaches, breach_id(timer))
        return record is not None

    # --- actions that arrived before the timer they concern ---------------------------------

    async def park(self, action_event_id: str, appeal_id: str, action_json: str, at: datetime):
        # The marker first: "no marker" then proves "nothing parked" (see may_have_parked).
        await self.batcher.insert_once(self.parked_appeals, {"_id": appeal_id})
        await insert_once(
            self.pending,
            {
                "_id": f"{appeal_id}:{action_event_id}",
                "appeal_id": appeal_id,
                "action": action_json,
                "at": at,
            },
        )

    async def parked(self, appeal_id: str) -> list[dict[str, Any]]:
        docs = await self.pending.find({"_id": prefix_range(f"{appeal_id}:")}).to_list(None)
        return sorted(docs, key=lambda d: d["at"])

    async def may_have_parked(self, appeal_id: str) -> bool:
        """False only if no action of the appeal had begun parking when this read was served:
        `park` writes the appeal's marker before the action and markers are never deleted.
        A marker read by `_id` is coalesced with the other appeals' (a range read of
        `pending_actions` is not), and almost every appeal has none."""
        await self._ensure_markers()
        return await self.batcher.find_by_id(self.parked_appeals, appeal_id) is not None

    async def forget_parked(self, appeal_id: str) -> None:
        # The marker stays: deleting it could race with an action being parked right now
        # (marker written, action not yet), leaving an action without a marker; a stale
        # marker costs only a range read when the appeal is routed again.
        await self.pending.delete_many({"_id": prefix_range(f"{appeal_id}:")})

    async def _ensure_markers(self) -> None:
        """Give every parked action its appeal's marker: actions parked by a version that
        wrote no markers get theirs here, once per database (one full read of
        `pending_actions`, which holds parked actions only), then once per process a read
        of the `MARKERS_COMPLETE` document."""
        if self._markers_complete:
            return
        async with self._marking:
            if self._markers_complete:
                return
            if await self.batcher.find_by_id(self.parked_appeals, MARKERS_COMPLETE) is None:
                appeals = {
                    doc["appeal_id"]
                    async for doc in self.pending.find({}, {"appeal_id": 1})
                    if "appeal_id" in doc
                }
                await all_of(
                    self.batcher.insert_once(self.parked_appeals, {"_id": appeal})
                    for appeal in appeals
                )
                await insert_once(self.parked_appeals, {"_id": MARKERS_COMPLETE})
            self._markers_complete = True


TallyKey = tuple[int, str, str, str]  # shard, kind, agency code, state


class Tallies:
    """Open and breached timers per shard, kind and body, without counting documents.

    Counting a million timer documents takes minutes on FerretDB (measured: 16.5 s per
    100,000), so every change of a timer's state adds a delta here; deltas are flushed with
    `$inc` to this instance's own document per shard (`<shard>|<instance>`: one writer per
    document, so no increments are lost on a store without atomic updates), and the gauge
    is the sum of every instance's document of the owned shards.

    Known drift: deltas not yet flushed when a process dies are lost (at most one flush
    interval of changes); a redelivered input does not count again. The tally documents of
    dead instances stay and keep counting for their shards, as they should.
    """

    def __init__(self, store: TimerStore, instance: str | None = None) -> None:
        self.collection = store.tallies
        self.instance = instance or uuid.uuid4().hex[:12]
        self.pending: Counter[TallyKey] = Counter()
        self._flushing = asyncio.Lock()

    def add(self, shard: int, kind: str, agency: str, state: str, delta: int) -> None:
        self.pending[(shard, kind, agency, state)] += delta

    async def flush(self) -> None:
        async with self._flushing:
            deltas, self.pending = self.pending, Counter()
            by_shard: dict[int, dict[str, int]] = {}
            for (shard, kind, agency, state), n in deltas.items():
                if n:
                    by_shard.setdefault(shard, {})[_field(kind, agency, state)] = n
            if not by_shard:
                return
            ops = [
                UpdateOne({"_id": f"{shard_prefix(s)}{self.instance}"}, {"$inc": inc}, upsert=True)
                for s, inc in by_shard.items()
            ]
            try:
                await self.collection.bulk_write(ops, ordered=True)
            except Exception:
                self.pending.update(deltas)  # try again at the next flush
                raise

    async def counts(self, shards: Iterable[int]) -> dict[tuple[str, str, str], int]:
        """(kind, agency, state) → count over the given shards, every instance's share."""
        total: Counter[tuple[str, str, str]] = Counter()
        for shard in sorted(shards):
            async for doc in self.collection.find({"_id": prefix_range(shard_prefix(shard))}):
                for name, n in doc.items():
                    if name != "_id":
                        total[_unfield(name)] += n
        return dict(total)


def _field(kind: str, agency: str, state: str) -> str:
    # Field names may not hold "." (a path) or start with "$"; body codes never do, but the
    # registry is data, so escape rather than trust.
    return "|".join(
        part.replace("%", "%25").replace(".", "%2E").replace("$", "%24")
        for part in (kind, agency, state)
    )


def _unfield(name: str) -> tuple[str, str, str]:
    kind, agency, state = (
        p.replace("%2E", ".").replace("%24", "$").replace("%25", "%") for p in name.split("|")
    )
    return kind, agency, state
