"""Intake's core: register or reject an adapted appeal, durably and exactly once in effect,
and keep each appeal's status timeline.

Order of effects for one channel message: store → publish → (caller commits the offset).
A crash anywhere before the commit redelivers the message; the stored appeal is found and its
stored event republished unchanged (same event_id), so downstream sees one registration.
The first registration of a (channel, channel id) wins: a later message under the same id —
redelivered or resent, valid or not — republishes that registration and changes nothing.

Repeat appeals: the same IIN on the same category and KATO code, received within the repeat
window (default 90 days) before this one, makes this appeal a repeat; `repeat_of` names the
most recent such earlier appeal, so a chain of repeats links each to its predecessor and
"repeated complaints" is a count of registrations with `repeat_of` set. Appeals without an IIN
cannot be matched. Detection sees the appeals intake registered before this one: if a later
appeal overtakes an earlier one (different partitions), neither is marked.

Store access: every read and write on the registration path is by `_id` (FerretDB v1 answers
nothing else from an index; any other filter scans the whole collection). So the "matter" of
an applicant (IIN, category, KATO) is a document of its own, keyed by a hash of the three, that
lists the matter's appeals; and a registration number is found through its sequence claim.
A matter's list grows with `$addToSet` of deterministic entries, so a redelivery adds
nothing. On MongoDB `$addToSet` is atomic; FerretDB v1 may lose one of two updates of the
*same* document racing from two intake instances (the same applicant filing twice at the same
moment) — a known limit of the local store, not of production.

Status timelines (`timelines`): one document per entry, `_id` = `<appeal id>|<event key>`
(the event id, or a digest of it if it has characters outside [A-Za-z0-9._:-]), holding the
entry exactly as `timeline_entry` made it, the appeal id, and when it was recorded. Why:
lifecycle events are several per appeal and arrive at the pipeline's full rate; on FerretDB an
update costs a query and a write per document, while inserts of concurrent handlers go out
together in one `insert_many` (StoreBatcher) at a fraction of the cost. An insert is
idempotent by its `_id` (a redelivered event is a duplicate key: nothing added, not counted
again), and no two writers ever update one document, so nothing can be lost in a race. An
appeal's timeline is read with one `_id` range, `[appeal id, appeal id + "|~")` — the only
kind of range FerretDB answers from the index (it orders the JSON text of string ids, so the
ids must avoid characters JSON escapes; appeal ids are deterministic UUIDs, event ids are
checked). The range also returns the document written before this layout, `_id` = appeal id
with an `entries` list: its entries are shown first, merged with the per-entry documents and
de-duplicated by event id.

Concurrency: channel messages and lifecycle events are handled in batches, different appeals
at once (services.common.batching; one appeal's messages in order). Within one process an
applicant's matter is read and updated under a lock of its own (two appeals of the same
applicant are different Kafka keys), and registration numbers are taken from a per-day
counter without racing (numbers.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import REGION_KATO, AppealRegistered, AppealRejected, Event, deterministic_id, topics
from reference.calendar import WorkingCalendar
from services.common.batching import KeyedLock, StoreBatcher
from services.common.clock import Clock, SystemClock
from services.common.keys import RANGE_END
from services.common.masking import scrub as mask_personal_data
from services.common.messaging import publish_event
from services.common.runtime import ServiceRuntime
from services.intake.adapters import AppealDraft, Rejection
from services.intake.metrics import IntakeMetrics
from services.intake.numbers import REGISTRATION_NUMBERS, DailySequence, ensure_number_indexes
from services.intake.registration import (
    appeal_id_for,
    register,
    registration_time,
    rejected_event,
)
from services.intake.settings import IntakeSettings
from services.intake.timeline import appeal_status, timeline_entry

log = logging.getLogger("tyndau.intake")

APPEALS = "appeals"
REJECTIONS = "rejections"
MATTERS = "applicant_matters"
TIMELINES = "timelines"

# Ids that may be part of a timeline entry's `_id` as they are: no character JSON escapes (the
# `_id` range is ordered by JSON text) and all below "~", so `<appeal id>|<event key>` lies
# within the appeal's range `[<appeal id>, <appeal id>|~)`.
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_ENTRY_SEPARATOR = "|"
_RANGE_END = _ENTRY_SEPARATOR + RANGE_END  # above "|" followed by any plain character


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[APPEALS].create_index([("registration_number", ASCENDING)], unique=True)
    await db[APPEALS].create_index([("channel", ASCENDING), ("channel_appeal_id", ASCENDING)])
    await ensure_number_indexes(db)


def region_label(kato: str | None) -> str:
    """Low-cardinality region label: the 2-digit KATO region prefix, or `unknown`."""
    return kato[:2] if kato and kato[:2] in REGION_KATO else "unknown"


@dataclass(frozen=True)
class Accepted:
    """What became of one adapted appeal: its event, and whether this call created it."""

    event: AppealRegistered | AppealRejected
    created: bool


class IntakeService:
    def __init__(
        self,
        runtime: ServiceRuntime,
        calendar: WorkingCalendar,
        settings: IntakeSettings,
        clock: Clock | None = None,
    ) -> None:
        self.runtime = runtime
        self.calendar = calendar
        self.settings = settings
        self.clock = clock or SystemClock()
        self.metrics = IntakeMetrics(runtime.registry)
        # Concurrent registrations share store round trips (services.common.batching).
        self.store = StoreBatcher()
        self.numbers = DailySequence(runtime.db[REGISTRATION_NUMBERS], self.store)
        self._matter_locks = KeyedLock()

    @property
    def earliest_received_at(self) -> datetime:
        """Appeals received before the calendar's first year cannot be registered (no
        working days to count with): older timestamps are refused as too old."""
        start = self.calendar.covered_years.start
        return datetime(start, 1, 1, tzinfo=self.calendar.tz)

    async def accept(
        self, outcome: AppealDraft | Rejection, correlation_id: str | None
    ) -> Accepted:
        self.metrics.received.labels(
            outcome.channel.value, _kind(outcome), region_label(outcome.region_kato)
        ).inc()
        appeal_id = appeal_id_for(outcome.channel, outcome.channel_appeal_id)
        stored = await self.store.find_by_id(self.runtime.db[APPEALS], appeal_id)
        if stored is not None:
            event = AppealRegistered.model_validate(stored["event"])
            await publish_event(self.runtime, topics.APPEALS_REGISTERED, event)
            return Accepted(event, created=False)
        if isinstance(outcome, Rejection):
            return await self._reject(outcome, correlation_id)
        return await self._register(outcome, appeal_id, correlation_id)

    async def _register(
        self, draft: AppealDraft, appeal_id: str, correlation_id: str | None
    ) -> Accepted:
        appeals = self.runtime.db[APPEALS]
        registered_at = registration_time(draft, self.calendar)
        # Independent writes: one round trip of latency instead of two.
        sequence, repeat_of = await asyncio.gather(
            self.numbers.claim(appeal_id, registered_at.date()),
            self._note_matter(draft, appeal_id),
        )
        event = register(
            draft,
            self.calendar,
            self.clock.now(),
            correlation_id,
            sequence=sequence,
            repeat_of=repeat_of,
        )
        created = await self.store.insert_once(appeals, _appeal_document(event))
        if created:
            self._count_registration(event)
        else:  # a concurrent delivery won the insert (our number stays unused); use its
            stored = await self.store.find_by_id(appeals, event.appeal_id)
            assert stored is not None
            event = AppealRegistered.model_validate(stored["event"])
        await publish_event(self.runtime, topics.APPEALS_REGISTERED, event)
        return Accepted(event, created)

    async def _note_matter(self, draft: AppealDraft, appeal_id: str) -> str | None:
        """Record this appeal under its applicant's matter and return the most recent
        earlier appeal of that matter within the repeat window, if any.

        Recorded before the appeal is stored: after a crash in between, the redelivery finds
        its own entry (excluded) and adds nothing, so `repeat_of` stays the same."""
        iin = draft.applicant.iin
        if not iin or draft.applicant.anonymous:
            return None
        matters = self.runtime.db[MATTERS]
        key = deterministic_id("matter", iin, draft.category.value, draft.region_kato or "")
        # Appeals of one applicant arrive under different keys and may be handled at once:
        # read and update their matter one at a time within this process.
        entry = {"appeal_id": appeal_id, "received_at": draft.received_at}
        async with self._matter_locks(key):
            matter = await self.store.find_by_id(matters, key)
            # A new matter is one insert (cheap on FerretDB, and batched with other
            # appeals'); an update only when it exists or another instance just made it.
            if matter is None:
                recorded = await self.store.insert_once(matters, {"_id": key, "appeals": [entry]})
            else:
                recorded = entry in matter["appeals"]  # a redelivery: nothing to add
            if not recorded:
                await self.store.update_by_id(
                    matters, key, {"$addToSet": {"appeals": entry}}, upsert=True
                )
        matter = matter or {"appeals": []}
        since = draft.received_at - self.settings.repeat_window
        earlier = [
            entry
            for entry in matter["appeals"]
            if entry["appeal_id"] != appeal_id
            and since <= entry["received_at"] <= draft.received_at
        ]
        if not earlier:
            return None
        return max(earlier, key=lambda e: (e["received_at"], e["appeal_id"]))["appeal_id"]

    def _count_registration(self, event: AppealRegistered) -> None:
        labels = (event.channel.value, event.kind.value, region_label(event.region_kato))
        self.metrics.registered.labels(*labels).inc()
        if event.repeat_of:
            self.metrics.repeats.labels(*labels).inc()
        if event.urgent:
            self.metrics.urgent_anonymous.labels(*labels).inc()
        # Names cannot be masked by pattern, so they are never logged; IIN and phone are
        # masked here and again by the JSON log formatter.
        log.info(
            "registered %s (%s %s, %s, applicant %s%s%s)",
            event.registration_number,
            event.channel.value,
            event.channel_appeal_id,
            event.category.value,
            mask_personal_data(f"{event.applicant.iin or '-'} {event.applicant.phone or '-'}"),
            ", urgent" if event.urgent else "",
            f", repeat of {event.repeat_of}" if event.repeat_of else "",
        )

    async def _reject(self, rejection: Rejection, correlation_id: str | None) -> Accepted:
        event = rejected_event(rejection, self.clock.now(), correlation_id)
        document = {
            "_id": event.event_id,
            "appeal_id": event.appeal_id,
            "channel": event.channel.value,
            "channel_appeal_id": event.channel_appeal_id,
            "reason_code": event.reason_code,
            "event": event.model_dump(mode="json"),
        }
        created = await self.store.insert_once(self.runtime.db[REJECTIONS], document)
        if created:
            kind, region = _kind(rejection), region_label(rejection.region_kato)
            channel = event.channel.value
            self.metrics.rejected.labels(channel, event.reason_code, kind, region).inc()
            for error in event.errors:
                self.metrics.rejection_errors.labels(channel, error.code).inc()
            if event.reason_code == "anonymous_not_considered":
                self.metrics.anonymous_refused.labels(channel, kind, region).inc()
            log.info(
                "rejected %s %s (%s): %s",
                channel,
                event.channel_appeal_id,
                event.reason_code,
                ", ".join(f"{e.field}:{e.code}" for e in event.errors),
            )
        await publish_event(self.runtime, topics.APPEALS_REJECTED, event)
        return Accepted(event, created)

    # --- status timeline ----------------------------------------------------------------

    async def record_lifecycle_event(self, event: Event) -> bool:
        """Add `event` to its appeal's timeline; False if it was already there (or if its
        appeal id is not one intake issues, so no status page could show it)."""
        if not _PLAIN_ID.fullmatch(event.appeal_id):
            log.warning(
                "timeline: %s %s has an appeal id intake never issues; not recorded",
                event.event_type,
                event.event_id,
            )
            return False
        document = {
            "_id": timeline_entry_id(event.appeal_id, event.event_id),
            "appeal_id": event.appeal_id,
            # Breaks ties between entries of the same occurred_at, in the order they came.
            "recorded_ns": time.time_ns(),
            "entry": timeline_entry(event),
        }
        # One insert_many with the other handlers' entries; a duplicate key is a redelivery.
        added = await self.store.insert_once(self.runtime.db[TIMELINES], document)
        if added:
            self.metrics.timeline_events.labels(event.event_type).inc()
        return added

    async def timeline_of(self, appeal_id: str) -> list[dict]:
        """The timeline entries of an appeal, in the order they were recorded: one `_id`
        range read of its entry documents and of its document of the earlier layout."""
        found = await (
            self.runtime.db[TIMELINES]
            .find({"_id": {"$gte": appeal_id, "$lt": appeal_id + _RANGE_END}})
            .to_list(None)
        )
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

    async def find_by_registration_number(self, registration_number: str) -> dict | None:
        appeal_id = await self.numbers.appeal_of(registration_number)
        stored = await self.find_by_appeal_id(appeal_id) if appeal_id else None
        if stored is None or stored["registration_number"] != registration_number:
            return None  # unknown, or the number of a claim that was never used (a gap)
        return stored

    async def find_by_appeal_id(self, appeal_id: str) -> dict | None:
        return await self.runtime.db[APPEALS].find_one({"_id": appeal_id})

    async def status_of(self, registration_number: str) -> dict | None:
        """The public status of an appeal (no personal data), or None if unknown."""
        stored = await self.find_by_registration_number(registration_number)
        if stored is None:
            return None
        registered = AppealRegistered.model_validate(stored["event"])
        return appeal_status(registered, await self.timeline_of(registered.appeal_id))


def timeline_entry_id(appeal_id: str, event_id: str) -> str:
    """`_id` of an appeal's timeline entry for an event: within the appeal's `_id` range, the
    same for every delivery of the event. An event id with other characters than
    [A-Za-z0-9._:-] (or very long: agencies choose theirs) is replaced by its digest."""
    key = event_id
    if not _PLAIN_ID.fullmatch(event_id):
        key = "sha256-" + hashlib.sha256(event_id.encode()).hexdigest()
    return f"{appeal_id}{_ENTRY_SEPARATOR}{key}"


def _kind(outcome: AppealDraft | Rejection) -> str:
    return outcome.kind.value if outcome.kind is not None else "unknown"


def _appeal_document(event: AppealRegistered) -> dict:
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
