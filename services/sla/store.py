"""The SLA's store: the `TimerStore` port the service and the firing loop use, and its MongoDB
implementation — the `timers`, `due`, `breaches`, `tallies`, `pending_actions` and
`parked_appeals` collections of the `sla` database. (`memory.MemoryTimerStore` keeps the
same in dicts, for unit tests and the in-memory scenario suite.)

What every implementation promises:
- a timer is inserted once (`insert` is False when it exists), after its first due entry,
  so a crash in between leaves at most an entry without a timer (dropped when it comes
  due), never a timer that cannot fire;
- the one way a timer changes is `update`: compare-and-set on its revision, the decision
  re-made on the fresh timer when another writer got there first;
- `due` returns the entries of the given shards whose moment has come, soonest first, an
  equal share per shard; inserting an entry that exists, or dropping one that does not, is
  fine (redeliveries do both);
- a breach is recorded once per timer generation (`record_breaches` returns the keys this
  call recorded);
- "no marker" proves "nothing parked" (`may_have_parked`), because `park` writes the
  appeal's marker before the action and markers are never deleted.

MongoDB layout — every read is by `_id`: equality, `$in`, or a string range. FerretDB v1 on
SQLite serves only those from an index (our build pushes ranges and `$in` down to the `_id`
index, see deploy/local/ferretdb.sh); any other filter reads the whole collection, which at
a million timers would be minutes per query. MongoDB serves the same queries from its `_id`
index. So the ids carry what is looked up:

- timers        `<appeal>:answer`, `<appeal>:forwarding:<hop>` — an appeal's timers are the
                range `<appeal>:` … `<appeal>:~`.
- due           `<shard:04d>|<moment, UTC ISO ms>|<timer id>|<generation>` — the next
                moment (warning or deadline) of a timer generation, one entry at a time:
                firing it puts in the next (`DueEntry.successor`); "shard p, due by t,
                soonest first" is the range `<p>|` … `<p>|<t>~`. (Entries written before
                entries rolled, one per moment, still fire as they did.) Stored as `{_id, v}` with
                the entry as one JSON text: FerretDB converts documents field by field.
- tallies       `<shard:04d>|<instance>` — open/breached counts per shard written by one
                instance each (see `services.sla.tallies`).
- breaches      `<timer id>|<generation>` — one record per breach, with its escalation.
- pending       `<appeal>:<action event id>` — actions that overtook their routing decision.
- parked_appeals `<appeal>` — "this appeal may have parked actions"; plus one
                `MARKERS_COMPLETE` document once parked actions stored before markers
                existed have theirs.

Single-document operations by `_id` (reading a timer, inserting a new timer and its due
entries, the parked-actions marker) go through a `StoreBatcher`, so the appeals armed at once
share their commands; the compare-and-set of a timer update and the `_id` range reads are
commands of their own. Nothing here decides anything; `schedule` and `service` do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

from contracts import (
    AGENCY_ACTION_ADAPTER,
    SLA_EVENT_ADAPTER,
    AgencyActionEvent,
    DeadlineKind,
    SlaTimerStarted,
)
from services.common.batching import StoreBatcher, all_of
from services.common.keys import RANGE_END, iso_ms, prefix_range
from services.common.messaging import insert_once
from services.sla.timers import (
    FIRST_GENERATION,
    Breach,
    DueEntry,
    Timer,
    TimerHead,
    TimerRef,
    TimerState,
    Warning,
    breach_key,
    shard_prefix,
)

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

Mutation = Callable[[Timer], Timer | None]
"""The fresh timer → the timer it should become, or None for "nothing to do"."""

TallyKey = tuple[str, str, str]  # kind, agency code, state


class ConcurrentUpdate(RuntimeError):
    """A timer kept changing under us; the message is redelivered and tried again."""


class TimerStore(Protocol):
    # timers
    async def insert(self, timer: Timer) -> bool: ...
    async def get(self, timer_id: str) -> Timer | None: ...
    async def heads(self, timer_ids: Iterable[str]) -> dict[str, TimerHead]:
        """Generation, state and body of each timer there is (what firing checks of the
        timers whose next due entry it has just put in)."""
        ...

    async def of_appeal(self, appeal_id: str) -> list[Timer]: ...
    async def update(
        self, timer_id: str, mutate: Mutation, current: Timer | None = None
    ) -> tuple[Timer | None, bool]:
        """Apply `mutate` with compare-and-set; returns the timer as last seen (after the
        change, if one was made) and whether this call changed it. `current` is a copy the
        caller just read (saves the first read)."""
        ...

    # the due index
    async def add_due(self, entries: list[DueEntry]) -> None: ...
    async def due(
        self, shards: Iterable[int], until: datetime, limit: int
    ) -> tuple[list[DueEntry], bool]:
        """Entries of `shards` whose moment is at or before `until`, soonest first, about
        `limit` in all (an equal share per shard); and whether some shard may have more."""
        ...

    async def next_moment(
        self, shards: Iterable[int], after: datetime, until: datetime
    ) -> datetime | None: ...
    async def replace_due(self, entries: list[DueEntry]) -> None:
        """Store these over the entries of the same keys that are still there (and only
        those: a fired entry must not come back) — how entries follow a new body."""
        ...

    async def entries_of(self, timer: Timer) -> list[DueEntry]: ...
    async def pending_timer_ids(self, after: str, limit: int) -> tuple[list[str], str | None]:
        """The timers of the due index's next `limit` entries after the key `after`, and the
        last key read (None at the end). Every open timer has an entry, so paging through
        it visits each — a whole-index job (re-planning after a calendar change)."""
        ...

    async def drop_due(self, keys: Iterable[str]) -> None: ...

    # breaches
    async def record_breaches(self, breaches: list[Breach]) -> set[str]: ...
    async def breached(self, timer: Timer) -> bool: ...

    # actions that arrived before the timer they concern
    async def park(self, action: AgencyActionEvent) -> None: ...
    async def parked(self, appeal_id: str) -> list[AgencyActionEvent]: ...
    async def may_have_parked(self, appeal_id: str) -> bool: ...
    async def forget_parked(self, appeal_id: str) -> None: ...

    # open-timer tallies, one writer per (shard, instance)
    async def add_to_tallies(
        self, instance: str, deltas: Mapping[int, Mapping[TallyKey, int]]
    ) -> None: ...
    async def tally_counts(self, shards: Iterable[int]) -> dict[TallyKey, int]: ...


# --- documents ---------------------------------------------------------------------------------


def to_document(timer: Timer) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": timer.timer_id,
        "appeal_id": timer.appeal_id,
        "correlation_id": timer.correlation_id,
        "kind": timer.kind.value,
        "hop": timer.hop,
        "agency_code": timer.agency_code,
        "received_at": timer.received_at,
        "registered_at": timer.registered_at,
        "due_at": timer.due_at,
        "generation": timer.generation,
        "state": timer.state.value,
        "shard": timer.shard,
        "warnings": [{"days_left": w.days_left, "at": w.at} for w in timer.warnings],
        "escalate_to": list(timer.escalate_to),
        "created_at": timer.created_at,
        "rev": timer.rev,
        "started_event": timer.started_event.model_dump(mode="json"),
        "outcomes": {k: e.model_dump(mode="json") for k, e in timer.outcomes.items()},
    }
    if timer.state is TimerState.STOPPED:
        document |= {
            "stopped_at": timer.stopped_at,
            "on_time": timer.on_time,
            "working_days_used": timer.working_days_used,
        }
    if timer.superseded_due:
        document["superseded_due"] = list(timer.superseded_due)
    if timer.generation > FIRST_GENERATION:
        document["proposed"] = timer.proposed
    return document


def from_document(document: Mapping[str, Any]) -> Timer:
    return Timer(
        timer_id=document["_id"],
        appeal_id=document["appeal_id"],
        correlation_id=document["correlation_id"],
        kind=DeadlineKind(document["kind"]),
        hop=document.get("hop", 0),
        agency_code=document["agency_code"],
        received_at=document["received_at"],
        registered_at=document["registered_at"],
        due_at=document["due_at"],
        generation=document["generation"],
        state=TimerState(document["state"]),
        shard=document["shard"],
        warnings=tuple(Warning(w["days_left"], w["at"]) for w in document.get("warnings", ())),
        created_at=document["created_at"],
        started_event=SlaTimerStarted.model_validate(document["started_event"]),
        outcomes={
            k: SLA_EVENT_ADAPTER.validate_python(e) for k, e in document.get("outcomes", {}).items()
        },
        escalate_to=tuple(document.get("escalate_to", ())),
        rev=document.get("rev", 0),
        stopped_at=document.get("stopped_at"),
        on_time=document.get("on_time"),
        working_days_used=document.get("working_days_used"),
        superseded_due=tuple(document.get("superseded_due", ())),
        # Stored once a timer has a later generation; before re-planning existed, only an
        # accepted extension (a proposed deadline) made one.
        proposed=document.get("proposed", document["generation"] > FIRST_GENERATION),
    )


def encode_entry(entry: DueEntry) -> dict[str, Any]:
    """Stored as `{_id, v: <JSON text>}`: FerretDB converts each document field by field, so
    one string field reads and deletes several times faster than a nested entry — what lets
    the firing loop keep up at 1,000 firings/s (docs/measurements.md)."""
    timer = entry.timer
    payload = {
        "timer_id": timer.timer_id,
        "generation": timer.generation,
        "at": entry.at.isoformat(),
        "moments": [m.isoformat() for m in entry.moments],
        "days_left": entry.days_left,
        "days": list(entry.days) if entry.days is not None else None,
        "checked": entry.checked,
        "timer": {
            "_id": timer.timer_id,
            "appeal_id": timer.appeal_id,
            "correlation_id": timer.correlation_id,
            "kind": timer.kind.value,
            "agency_code": timer.agency_code,
            "shard": timer.shard,
            "due_at": timer.due_at.isoformat(),
            "generation": timer.generation,
            "started_event": {"event_id": timer.started_event_id},
        },
    }
    return {"_id": entry.key, "v": json.dumps(payload, separators=(",", ":"))}


def decode_entry(document: Mapping[str, Any]) -> DueEntry:
    payload = json.loads(document["v"])
    timer = payload["timer"]
    return DueEntry(
        key=document["_id"],
        timer=TimerRef(
            timer_id=timer["_id"],
            appeal_id=timer["appeal_id"],
            correlation_id=timer["correlation_id"],
            kind=DeadlineKind(timer["kind"]),
            agency_code=timer["agency_code"],
            shard=timer["shard"],
            due_at=datetime.fromisoformat(timer["due_at"]),
            generation=timer["generation"],
            started_event_id=timer["started_event"]["event_id"],
        ),
        at=datetime.fromisoformat(payload["at"]),
        moments=tuple(datetime.fromisoformat(m) for m in payload["moments"]),
        days_left=payload["days_left"],
        days=tuple(payload["days"]) if payload.get("days") is not None else None,
        checked=payload.get("checked", False),
    )


def breach_document(breach: Breach) -> dict[str, Any]:
    return {
        "_id": breach.key,
        "timer_id": breach.timer_id,
        "appeal_id": breach.appeal_id,
        "kind": breach.kind.value,
        "agency_code": breach.agency_code,
        "breached_at": breach.breached_at,
        "escalate_to": list(breach.escalate_to),
        "fired_at": breach.fired_at,
    }


def timer_of_key(entry_key: str) -> str:
    """The timer id of a due-index key (`<shard>|<moment>|<timer id>|<generation>`)."""
    return entry_key.split("|")[2]


def _moment_of(entry_key: str) -> datetime:
    return datetime.fromisoformat(entry_key.split("|", 2)[1].replace("Z", "+00:00"))


def _changed_fields(before: Timer, after: Timer) -> dict[str, Any]:
    old, new = to_document(before), to_document(after)
    return {k: v for k, v in new.items() if k not in ("_id", "rev") and old.get(k) != v}


# --- MongoDB -----------------------------------------------------------------------------------


class MongoTimerStore:
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

    async def insert(self, timer: Timer) -> bool:
        # The generation's first entry, then the timer: each an insert-once (a redelivered
        # arm finds them there) queued with the other appeals' into one `insert_many`.
        await self.batcher.insert_once(self.due_index, encode_entry(timer.first_due_entry()))
        return await self.batcher.insert_once(self.timers, to_document(timer))

    async def get(self, timer_id: str) -> Timer | None:
        found = await self.batcher.find_by_id(self.timers, timer_id)
        return from_document(found) if found else None

    async def heads(self, timer_ids: Iterable[str]) -> dict[str, TimerHead]:
        ids = sorted(set(timer_ids))
        if not ids:
            return {}
        found = await self.timers.find(
            {"_id": {"$in": ids}}, {"generation": 1, "state": 1, "agency_code": 1}
        ).to_list(None)
        return {
            d["_id"]: TimerHead(d["generation"], TimerState(d["state"]), d["agency_code"])
            for d in found
        }

    async def of_appeal(self, appeal_id: str) -> list[Timer]:
        found = await self.timers.find({"_id": prefix_range(f"{appeal_id}:")}).to_list(None)
        return [from_document(d) for d in found]

    async def update(
        self, timer_id: str, mutate: Mutation, current: Timer | None = None
    ) -> tuple[Timer | None, bool]:
        """The write carries a unique token that is read back: on a store whose single-
        document update is not atomic across callers (FerretDB v1 on SQLite) a write that
        another writer overwrote in the same instant is detected and decided again."""
        for attempt in range(20):
            try:
                timer = current if current is not None else await self.get(timer_id)
                current = None
                if timer is None:
                    return None, False
                changed = mutate(timer)
                if changed is None:
                    return timer, False
                token = uuid.uuid4().hex
                result = await self.timers.update_one(
                    {"_id": timer_id, "rev": timer.rev},
                    {
                        "$set": {**_changed_fields(timer, changed), "write_token": token},
                        "$inc": {"rev": 1},
                    },
                )
                if result.matched_count == 1:
                    written = await self.batcher.find_by_id(self.timers, timer_id)
                    if written is not None and written.get("write_token") == token:
                        return from_document(written), True
            except OperationFailure as exc:
                # e.g. FerretDB/SQLite "database is locked" under concurrent writers; the
                # compare-and-set makes a retry safe.
                if attempt >= 5:
                    raise
                log.warning("timer %s update failed (%s), retrying", timer_id, exc.code)
                await asyncio.sleep(0.05 * 2**attempt)
        raise ConcurrentUpdate(f"timer {timer_id} kept changing; giving up for now")

    # --- the due index ------------------------------------------------------------------------

    async def add_due(self, entries: list[DueEntry]) -> None:
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
    ) -> tuple[list[DueEntry], bool]:
        """No server-side sort: FerretDB sorts in memory after reading the whole range (a
        million overdue entries after an outage), while an unsorted range read with a limit
        stops after `limit` rows; both stores scan an `_id` index range in index order,
        i.e. soonest first. The entries are sorted here again all the same."""
        owned = sorted(shards)
        if not owned:
            return [], False
        share = max(1, -(-limit // len(owned)))
        end = iso_ms(until) + RANGE_END

        async def of_shard(shard: int) -> list[DueEntry]:
            prefix = shard_prefix(shard)
            query = {"_id": {"$gte": prefix, "$lt": prefix + end}}
            page = await self.due_index.find(query).limit(share).to_list(share)
            return [decode_entry(doc) for doc in page]

        found = await asyncio.gather(*(of_shard(s) for s in owned))
        entries = sorted((e for page in found for e in page), key=lambda e: (e.at, e.key))
        return entries, any(len(page) >= share for page in found)

    async def next_moment(
        self, shards: Iterable[int], after: datetime, until: datetime
    ) -> datetime | None:
        start = iso_ms(after + timedelta(milliseconds=1))
        end = iso_ms(until) + RANGE_END

        async def first_of(shard: int) -> datetime | None:
            prefix = shard_prefix(shard)
            query = {"_id": {"$gte": prefix + start, "$lt": prefix + end}}
            page = await self.due_index.find(query, {"_id": 1}).limit(1).to_list(1)
            return _moment_of(page[0]["_id"]) if page else None

        found = [m for m in await asyncio.gather(*(first_of(s) for s in shards)) if m]
        return min(found, default=None)

    async def replace_due(self, entries: list[DueEntry]) -> None:
        # ReplaceOne without upsert: only those still there.
        if entries:
            await self.due_index.bulk_write(
                [ReplaceOne({"_id": e.key}, encode_entry(e)) for e in entries], ordered=False
            )

    async def entries_of(self, timer: Timer) -> list[DueEntry]:
        keys = [e.key for e in timer.due_entries()]
        docs = await self.due_index.find({"_id": {"$in": keys}}).to_list(None)
        return sorted((decode_entry(d) for d in docs), key=lambda e: e.at)

    async def pending_timer_ids(self, after: str, limit: int) -> tuple[list[str], str | None]:
        # No server-side sort (see `due`): an `_id` range is read in index order.
        page = (
            await self.due_index.find({"_id": {"$gt": after}}, {"_id": 1})
            .limit(limit)
            .to_list(limit)
        )
        keys = sorted(doc["_id"] for doc in page)
        return [timer_of_key(key) for key in keys], (keys[-1] if len(keys) >= limit else None)

    async def drop_due(self, keys: Iterable[str]) -> None:
        ids = sorted(set(keys))
        for start in range(0, len(ids), 1000):
            await self.due_index.delete_many({"_id": {"$in": ids[start : start + 1000]}})

    # --- breaches -----------------------------------------------------------------------------

    async def record_breaches(self, breaches: list[Breach]) -> set[str]:
        if not breaches:
            return set()
        documents = [breach_document(b) for b in breaches]
        try:
            await self.breaches.insert_many(documents, ordered=False)
            return {d["_id"] for d in documents}
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            failed = {documents[e["index"]]["_id"] for e in errors}
            return {d["_id"] for d in documents} - failed

    async def breached(self, timer: Timer) -> bool:
        key = breach_key(timer.timer_id, timer.generation)
        return await self.batcher.find_by_id(self.breaches, key) is not None

    # --- actions that arrived before the timer they concern ---------------------------------

    async def park(self, action: AgencyActionEvent) -> None:
        # The marker first: "no marker" then proves "nothing parked" (see may_have_parked).
        await self.batcher.insert_once(self.parked_appeals, {"_id": action.appeal_id})
        await insert_once(
            self.pending,
            {
                "_id": f"{action.appeal_id}:{action.event_id}",
                "appeal_id": action.appeal_id,
                "action": action.model_dump_json(),
                "at": action.occurred_at,
            },
        )

    async def parked(self, appeal_id: str) -> list[AgencyActionEvent]:
        docs = await self.pending.find({"_id": prefix_range(f"{appeal_id}:")}).to_list(None)
        return [
            AGENCY_ACTION_ADAPTER.validate_json(d["action"])
            for d in sorted(docs, key=lambda d: d["at"])
        ]

    async def may_have_parked(self, appeal_id: str) -> bool:
        """A marker read by `_id` is coalesced with the other appeals' (a range read of
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

    # --- tallies ------------------------------------------------------------------------------

    async def add_to_tallies(
        self, instance: str, deltas: Mapping[int, Mapping[TallyKey, int]]
    ) -> None:
        """`$inc` into this instance's own document per shard (`<shard>|<instance>`): one
        writer per document, so no increment is lost on a store without atomic updates."""
        ops = [
            UpdateOne(
                {"_id": f"{shard_prefix(shard)}{instance}"},
                {"$inc": {_field(*key): n for key, n in counts.items()}},
                upsert=True,
            )
            for shard, counts in deltas.items()
            if counts
        ]
        if ops:
            await self.tallies.bulk_write(ops, ordered=True)

    async def tally_counts(self, shards: Iterable[int]) -> dict[TallyKey, int]:
        total: Counter[TallyKey] = Counter()
        for shard in sorted(shards):
            async for doc in self.tallies.find({"_id": prefix_range(shard_prefix(shard))}):
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


def _unfield(name: str) -> TallyKey:
    kind, agency, state = (
        p.replace("%2E", ".").replace("%24", "$").replace("%25", "%") for p in name.split("|")
    )
    return kind, agency, state
