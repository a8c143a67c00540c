"""Intake's store: the `IntakeStore` port the service and the number sequence use, and its
MongoDB implementation — the `appeals`, `rejections`, `applicant_matters`, `timelines` and
`registration_numbers` collections of the `intake` database. (`memory.MemoryIntakeStore`
keeps the same in dicts, for unit tests and the in-memory scenario suite.)

What every implementation promises:
- a registration and a rejection are stored once (`add_registered`/`add_rejection` return
  False when one exists under that key), and a stored registration comes back as the very
  event published for it;
- a registration number's claim is unique per (day, sequence): two claimants of one number
  cannot both win;
- an applicant's matter only grows, and adding an entry it holds adds nothing;
- a timeline entry is stored once per (appeal, event), and an appeal's timeline comes back
  in the order the entries were recorded.

MongoDB layout — every read and write on the registration path is by `_id` (FerretDB v1
answers nothing else from an index; any other filter scans the whole collection):
- `appeals`          `_id` = appeal id; the registered event, its number, channel and times;
- `rejections`       `_id` = the rejected event's id;
- `applicant_matters` `_id` = a digest of (IIN, category, KATO); the matter's appeals,
                     grown with `$addToSet` of deterministic entries (so a redelivery adds
                     nothing; on MongoDB atomic, on FerretDB two instances updating the same
                     matter in the same instant may lose one entry — a local-store limit);
- `registration_numbers` `_id` = `<day>-<sequence:06d>`: a number is claimed by inserting
                     it; the claim names the appeal (the number → appeal index);
- `open311_requests` `_id` = `<received UTC ISO ms>|<registration number>`: the appeals
                     filed through Open311, for its public listing by date range;
- `timelines`        one document per entry, `_id` = `<appeal id>|<event key>` (the event id,
                     or a digest of it when it holds characters outside [A-Za-z0-9._:-]),
                     read as one `_id` range per appeal. Inserts of concurrent handlers go
                     out together in one `insert_many`; no two writers ever update one
                     document. The range also returns the document of the earlier layout,
                     `_id` = appeal id with an `entries` list: its entries come first, merged
                     and de-duplicated by event id.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import AppealRegistered, AppealRejected
from services.common.batching import StoreBatcher
from services.common.keys import RANGE_END, iso_ms

APPEALS = "appeals"
REJECTIONS = "rejections"
MATTERS = "applicant_matters"
TIMELINES = "timelines"
REGISTRATION_NUMBERS = "registration_numbers"
OPEN311 = "open311_requests"

# Ids that may be part of a timeline entry's `_id` as they are: no character JSON escapes (the
# `_id` range is ordered by JSON text) and all below "~", so `<appeal id>|<event key>` lies
# within the appeal's range `[<appeal id>, <appeal id>|~)`.
PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_ENTRY_SEPARATOR = "|"
_RANGE_END = _ENTRY_SEPARATOR + RANGE_END  # above "|" followed by any plain character


@dataclass(frozen=True)
class Open311Entry:
    """An appeal filed through Open311, as its public listing finds it (`GET requests`)."""

    registration_number: str
    received_at: datetime
    category: str
    region_kato: str | None

    @property
    def key(self) -> str:
        """`<received UTC ISO ms>|<number>`: a date range is one `_id` range."""
        return f"{iso_ms(self.received_at)}|{self.registration_number}"


@dataclass(frozen=True)
class MatterEntry:
    """One appeal of an applicant's matter (same IIN, category and place)."""

    appeal_id: str
    received_at: datetime


class IntakeStore(Protocol):
    # registrations and rejections
    async def registered(self, appeal_id: str) -> AppealRegistered | None: ...
    async def add_registered(self, event: AppealRegistered) -> bool: ...
    async def add_rejection(self, event: AppealRejected) -> bool: ...

    # applicants' matters (repeat detection)
    async def matter(self, key: str) -> tuple[MatterEntry, ...] | None: ...
    async def open_matter(self, key: str, entry: MatterEntry) -> bool:
        """Create the matter with its first entry; False if it exists."""
        ...

    async def add_to_matter(self, key: str, entry: MatterEntry) -> None: ...

    # registration number claims
    async def claim_number(self, day: str, sequence: int, appeal_id: str) -> bool: ...
    async def highest_number(self, day: str) -> int: ...
    async def claimant(self, day: str, sequence: int) -> str | None: ...

    # status timelines
    async def add_timeline_entry(self, appeal_id: str, event_id: str, entry: dict) -> bool: ...
    async def timeline(self, appeal_id: str) -> list[dict]: ...

    # the Open311 listing
    async def add_open311_entry(self, entry: Open311Entry) -> None:
        """Stored once; adding it again changes nothing."""
        ...

    async def open311_entries(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Open311Entry]:
        """Entries received in [start, end), oldest first, at most `limit`."""
        ...


def claim_key(day: str, sequence: int) -> str:
    return f"{day}-{sequence:06d}"


def timeline_entry_id(appeal_id: str, event_id: str) -> str:
    """`_id` of an appeal's timeline entry for an event: within the appeal's `_id` range, the
    same for every delivery of the event. An event id with other characters than
    [A-Za-z0-9._:-] (or very long: agencies choose theirs) is replaced by its digest."""
    key = event_id
    if not PLAIN_ID.fullmatch(event_id):
        key = "sha256-" + hashlib.sha256(event_id.encode()).hexdigest()
    return f"{appeal_id}{_ENTRY_SEPARATOR}{key}"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[APPEALS].create_index([("registration_number", ASCENDING)], unique=True)
    await db[APPEALS].create_index([("channel", ASCENDING), ("channel_appeal_id", ASCENDING)])
    await db[REGISTRATION_NUMBERS].create_index([("day", ASCENDING), ("sequence", DESCENDING)])


def _appeal_document(event: AppealRegistered) -> dict[str, Any]:
    return {
        "_id": event.appeal_id,
        "registration_number": event.registration_number,
        "channel": event.channel.value,
        "channel_appeal_id": event.channel_appeal_id,
        "status": "registered",
        "registered_at": event.registered_at,
        "received_at": event.received_at,
        "event": event.model_dump(mode="json"),
    }


def _rejection_document(event: AppealRejected) -> dict[str, Any]:
    return {
        "_id": event.event_id,
        "appeal_id": event.appeal_id,
        "channel": event.channel.value,
        "channel_appeal_id": event.channel_appeal_id,
        "reason_code": event.reason_code,
        "event": event.model_dump(mode="json"),
    }


def _entry_document(entry: MatterEntry) -> dict[str, Any]:
    return {"appeal_id": entry.appeal_id, "received_at": entry.received_at}


class MongoIntakeStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.appeals = db[APPEALS]
        self.rejections = db[REJECTIONS]
        self.matters = db[MATTERS]
        self.timelines = db[TIMELINES]
        self.numbers = db[REGISTRATION_NUMBERS]
        self.open311 = db[OPEN311]
        # Concurrent registrations (and timeline entries) share store round trips.
        self.batcher = StoreBatcher()

    # --- registrations and rejections ---------------------------------------------------

    async def registered(self, appeal_id: str) -> AppealRegistered | None:
        stored = await self.batcher.find_by_id(self.appeals, appeal_id)
        return AppealRegistered.model_validate(stored["event"]) if stored else None

    async def add_registered(self, event: AppealRegistered) -> bool:
        return await self.batcher.insert_once(self.appeals, _appeal_document(event))

    async def add_rejection(self, event: AppealRejected) -> bool:
        return await self.batcher.insert_once(self.rejections, _rejection_document(event))

    # --- matters ------------------------------------------------------------------------

    async def matter(self, key: str) -> tuple[MatterEntry, ...] | None:
        found = await self.batcher.find_by_id(self.matters, key)
        if found is None:
            return None
        return tuple(MatterEntry(e["appeal_id"], e["received_at"]) for e in found["appeals"])

    async def open_matter(self, key: str, entry: MatterEntry) -> bool:
        # A new matter is one insert (cheap on FerretDB, and batched with other appeals').
        document = {"_id": key, "appeals": [_entry_document(entry)]}
        return await self.batcher.insert_once(self.matters, document)

    async def add_to_matter(self, key: str, entry: MatterEntry) -> None:
        await self.batcher.update_by_id(
            self.matters, key, {"$addToSet": {"appeals": _entry_document(entry)}}, upsert=True
        )

    # --- registration numbers -----------------------------------------------------------

    async def claim_number(self, day: str, sequence: int, appeal_id: str) -> bool:
        claim = {"_id": claim_key(day, sequence), "day": day, "sequence": sequence}
        return await self.batcher.insert_once(self.numbers, claim | {"appeal_id": appeal_id})

    async def highest_number(self, day: str) -> int:
        # A scan on FerretDB; run once per day per process and after many lost claims only.
        cursor = self.numbers.find({"day": day}).sort("sequence", DESCENDING).limit(1)
        latest = await cursor.to_list()
        return int(latest[0]["sequence"]) if latest else 0

    async def claimant(self, day: str, sequence: int) -> str | None:
        claim = await self.numbers.find_one({"_id": claim_key(day, sequence)})
        return None if claim is None else claim["appeal_id"]

    # --- timelines ----------------------------------------------------------------------

    async def add_timeline_entry(self, appeal_id: str, event_id: str, entry: dict) -> bool:
        document = {
            "_id": timeline_entry_id(appeal_id, event_id),
            "appeal_id": appeal_id,
            # Breaks ties between entries of the same occurred_at, in the order they came.
            "recorded_ns": time.time_ns(),
            "entry": entry,
        }
        # One insert_many with the other handlers' entries; a duplicate key is a redelivery.
        return await self.batcher.insert_once(self.timelines, document)

    async def timeline(self, appeal_id: str) -> list[dict]:
        found = await self.timelines.find(
            {"_id": {"$gte": appeal_id, "$lt": appeal_id + _RANGE_END}}
        ).to_list(None)
        legacy: list[dict] = []
        recorded = []
        for document in found:
            if document["_id"] == appeal_id:  # written before one document per entry
                legacy = document.get("entries", [])
            elif document.get("appeal_id") == appeal_id and "entry" in document:
                recorded.append(document)  # (the range also holds ids that merely begin so)
        recorded.sort(key=lambda document: (document.get("recorded_ns", 0), document["_id"]))
        entries: dict[str, dict] = {}
        for entry in [*legacy, *(document["entry"] for document in recorded)]:
            entries.setdefault(entry["event_id"], entry)
        return list(entries.values())

    # --- the Open311 listing -------------------------------------------------------------

    async def add_open311_entry(self, entry: Open311Entry) -> None:
        await self.batcher.insert_once(
            self.open311,
            {
                "_id": entry.key,
                "registration_number": entry.registration_number,
                "received_at": entry.received_at,
                "category": entry.category,
                "region_kato": entry.region_kato,
            },
        )

    async def open311_entries(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Open311Entry]:
        found = await (
            self.open311.find({"_id": {"$gte": iso_ms(start), "$lt": iso_ms(end)}})
            .limit(limit)
            .to_list(limit)
        )
        entries = [
            Open311Entry(
                d["registration_number"], d["received_at"], d["category"], d.get("region_kato")
            )
            for d in found
        ]
        return sorted(entries, key=lambda e: e.key)
