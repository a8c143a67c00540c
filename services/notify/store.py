"""Notify's store: the `NotifyStore` port the service, the delivery and the delivery loop use,
and its MongoDB implementation in notify's own database. (`memory.MemoryNotifyStore` keeps
the same in dicts, for unit tests and the in-memory scenario suite.)

What every implementation promises:
- a notification, its key (cause event + recipient → notification id), an attempt claim, a
  parked event, an appeal's projection and a work-list entry are each stored once: adding one
  that exists returns False and changes nothing (that is how a redelivery becomes a no-op,
  and how two workers never make the same attempt);
- `update` of a notification with `expect` changes it only if it still has that attempt
  count (and status): a worker that lost the race changes nothing;
- the work list (`work`) comes back soonest first, at most `limit` entries.

MongoDB layout (collections of the `notify` database):
- `appeals` — the projection of registered appeals (number, language, contacts, urgency), so
  a later event that carries no contact can still be addressed;
- `notifications` — one record per (cause event, recipient, channel), stored before anything
  is sent: the rendered text, the status, the attempts, when the next is due, the last
  outcome and whether it was published;
- `notification_keys` — `<appeal id>|<key>` → the notification id, so one cause tells one
  recipient once even if the chosen channel would differ on a redelivery, and an appeal's
  notifications are one `_id` range (`GET /v1/notifications?appeal_id=`). Keys written by
  the version before (`_id` = the key alone) are still found, and given their appeal-prefixed
  copy by `backfill_keys` once per database;
- `delivery_attempts` — one document per attempt (`<notification id>#<n>`): inserting it is
  how an attempt is claimed; a failed attempt and the last one record their result in it
  (an accepted attempt's result is the notification's own update);
- `parked_events` — events that arrived before their appeal's registration;
- `preferences` — citizens' channel preference, opt-out and quiet hours;
- `notify_due` — the delivery loop's work list, read by `_id` range only:
  `due|<UTC ISO ms>|<notification id>` (the record may be due then) and
  `pub|<UTC ISO ms>|<notification id>` (an outcome stored then may be unpublished);
- `notify_meta` — the marker of the work list's one-time backfill; `outbox` — what the outbox
  provider "sent".

On FerretDB v1 only `_id` conditions (equality, `$in`, string ranges) use an index, so every
hot read is by `_id`; the two scans that remain run once per database (the backfills).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import (
    ANY_EVENT_ADAPTER,
    DeliveryChannel,
    Event,
    Language,
    NotificationOutcome,
    RecipientRole,
)
from services.common.batching import StoreBatcher, all_of
from services.common.indexes import drop_index_if_present
from services.common.keys import iso_ms, prefix_range, until_range
from services.notify.lifecycle import DUE_STATUSES, Notification, NotificationStatus
from services.notify.policy import CitizenPreferences
from services.notify.rules import AppealView
from services.notify.workers import ClaimHolder, Worker

NOTIFICATIONS = "notifications"
ATTEMPTS = "delivery_attempts"
WORKERS = "notify_workers"
KEYS = "notification_keys"
APPEALS = "appeals"
PARKED = "parked_events"
PREFERENCES = "preferences"
WORK = "notify_due"
OUTBOX = "outbox"
# One document per database and backfill: it ran to its end (see the backfills).
META = "notify_meta"
BACKFILLED = "due-index-backfilled"
# In `notification_keys` (outside every appeal's range): present once every bare key of the
# version before has its appeal-prefixed copy.
KEYS_BACKFILLED = "~appeal-prefixed-keys"

DUE = "due|"
"""Work-list key prefix: `due|<moment>|<notification id>`, the record may be due then."""
UNPUBLISHED = "pub|"
"""Work-list key prefix: `pub|<moment>|<notification id>`, an outcome stored then may not
have been published."""


def due_key(moment: datetime, notification_id: str) -> str:
    return f"{DUE}{iso_ms(moment)}|{notification_id}"


def unpublished_key(moment: datetime, notification_id: str) -> str:
    return f"{UNPUBLISHED}{iso_ms(moment)}|{notification_id}"


def notification_of(key: str) -> str:
    """The notification id of a work-list key."""
    return key.split("|", 2)[2]


def appeal_key(appeal_id: str, key: str) -> str:
    """A notification key within its appeal's `_id` range."""
    return f"{appeal_id}|{key}"


@dataclass(frozen=True)
class ParkedEvent:
    event: Event
    parked_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AttemptClaim:
    notification_id: str
    attempt: int
    state: str
    """started, accepted, failed or interrupted."""
    started_at: datetime
    finished_at: datetime | None = None
    reason: str | None = None
    permanent: bool | None = None
    provider_ref: str | None = None
    # Who made the attempt (workers.py); None on claims made before owners were kept.
    incarnation: str | None = None
    instance: str | None = None

    @property
    def holder(self) -> ClaimHolder:
        return ClaimHolder(self.started_at, self.incarnation, self.instance)


@dataclass(frozen=True)
class WorkState:
    """What the work-list backfill needs of a record."""

    notification_id: str
    status: str | None
    next_attempt_at: datetime | None
    updated_at: datetime | None
    outcome_published: bool | None


class NotifyStore(Protocol):
    # the appeals projection
    async def appeal(self, appeal_id: str) -> AppealView | None: ...
    async def add_appeal(self, appeal: AppealView) -> bool: ...
    async def set_answer_due(self, appeal_id: str, due_at: datetime) -> None: ...

    # parked events
    async def park(self, event: Event, parked_at: datetime, expires_at: datetime) -> bool: ...
    async def parked_of(self, appeal_id: str) -> list[ParkedEvent]: ...
    async def parked_page(self, limit: int) -> list[ParkedEvent]: ...
    async def unpark(self, event_id: str) -> bool: ...

    # preferences
    async def preferences(self, key: str) -> CitizenPreferences | None: ...
    async def set_preferences(self, key: str, preferences: CitizenPreferences, at: datetime): ...

    # notifications and their keys
    async def notification_id_for(self, appeal_id: str, key: str) -> str | None: ...
    async def add_key(self, appeal_id: str, key: str, notification_id: str) -> bool: ...
    async def notification(self, notification_id: str) -> Notification | None: ...
    async def notifications(self, ids: Iterable[str]) -> dict[str, Notification]: ...
    async def notifications_of_appeal(self, appeal_id: str) -> list[Notification]: ...
    async def add_notification(self, notification: Notification) -> bool: ...
    async def update(
        self, before: Notification, after: Notification, expect: dict[str, Any] | None = None
    ) -> bool:
        """Store `after` over `before`; with `expect` (`attempts`, `status`) only if the
        stored record still has those values. True if it matched."""
        ...

    async def mark_published(self, notification_id: str) -> None: ...

    # attempt claims, and the heartbeats of the workers that make them
    async def claim_attempt(
        self, notification_id: str, attempt: int, channel: str, at: datetime, worker: Worker
    ) -> bool: ...
    async def finish_attempt(self, claim: AttemptClaim) -> None: ...
    async def attempt(self, notification_id: str, attempt: int) -> AttemptClaim | None: ...
    async def interrupt_attempt(self, notification_id: str, attempt: int, at: datetime): ...
    async def beat(self, worker: Worker, at: datetime) -> None: ...
    async def last_beat(self, incarnation: str) -> datetime | None: ...

    # the delivery loop's work list
    async def add_work(self, keys: Iterable[str]) -> int:
        """Add work-list entries (one there already is fine); how many were new."""
        ...

    async def work(self, prefix: str, until: datetime, limit: int) -> list[str]: ...
    async def drop_work(self, keys: Iterable[str]) -> None: ...
    async def backfilled(self, marker: str) -> bool: ...
    async def mark_backfilled(self, marker: str, at: datetime, added: int) -> None: ...
    async def records_needing_work(self) -> list[WorkState]: ...
    async def backfill_keys(self) -> int: ...

    # the outbox provider
    async def add_to_outbox(self, document: dict[str, Any]) -> None: ...


# --- documents ---------------------------------------------------------------------------------


def appeal_document(appeal: AppealView) -> dict[str, Any]:
    return {
        "_id": appeal.appeal_id,
        **{k: v for k, v in appeal.__dict__.items() if k != "appeal_id"},
    }


def appeal_from_document(doc: dict[str, Any]) -> AppealView:
    fields = {
        k: v for k, v in doc.items() if k in AppealView.__dataclass_fields__ and k != "language"
    }
    return AppealView(**fields, appeal_id=doc["_id"], language=Language(doc["language"]))


def to_document(notification: Notification) -> dict[str, Any]:
    n = notification
    document: dict[str, Any] = {
        "_id": n.notification_id,
        "appeal_id": n.appeal_id,
        "correlation_id": n.correlation_id,
        "cause_event_id": n.cause_event_id,
        "cause_event_type": n.cause_event_type,
        "cause_occurred_at": n.cause_occurred_at,
        "recipient_role": n.recipient_role.value,
        "recipient": n.recipient,
        "channel": n.channel.value,
        "address": n.address,
        "template": n.template,
        "language": n.language.value,
        "mandatory": n.mandatory,
        "urgent": n.urgent,
        "registration_number": n.registration_number,
        "subject": n.subject,
        "text": n.text,
        "status": n.status.value,
        "attempts": n.attempts,
        "max_attempts": n.max_attempts,
        "next_attempt_at": n.next_attempt_at,
        "reason": n.reason,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
    }
    if n.quiet_hours is not None:
        document["quiet_hours"] = [t.isoformat() for t in n.quiet_hours]
    optional = {
        "sent_at": n.sent_at,
        "failed_at": n.failed_at,
        "provider_ref": n.provider_ref,
        "outcome_published": n.outcome_published,
        "last_outcome": n.last_outcome.model_dump(mode="json") if n.last_outcome else None,
    }
    return document | {k: v for k, v in optional.items() if v is not None}


def from_document(doc: dict[str, Any]) -> Notification:
    quiet = doc.get("quiet_hours")
    last = doc.get("last_outcome")
    return Notification(
        notification_id=doc["_id"],
        appeal_id=doc["appeal_id"],
        correlation_id=doc["correlation_id"],
        cause_event_id=doc["cause_event_id"],
        cause_event_type=doc.get("cause_event_type", ""),
        cause_occurred_at=doc["cause_occurred_at"],
        recipient_role=RecipientRole(doc["recipient_role"]),
        recipient=doc.get("recipient", doc["recipient_role"]),
        channel=DeliveryChannel(doc["channel"]),
        address=doc["address"],
        template=doc["template"],
        language=Language(doc["language"]),
        mandatory=bool(doc.get("mandatory", True)),
        urgent=bool(doc.get("urgent", False)),
        registration_number=doc.get("registration_number"),
        subject=doc.get("subject", ""),
        text=doc["text"],
        status=NotificationStatus(doc["status"]),
        attempts=doc["attempts"],
        max_attempts=doc["max_attempts"],
        next_attempt_at=doc.get("next_attempt_at"),
        reason=doc.get("reason"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        quiet_hours=(time.fromisoformat(quiet[0]), time.fromisoformat(quiet[1])) if quiet else None,
        sent_at=doc.get("sent_at"),
        failed_at=doc.get("failed_at"),
        provider_ref=doc.get("provider_ref"),
        last_outcome=NotificationOutcome.model_validate(last) if last else None,
        outcome_published=doc.get("outcome_published"),
    )


def changed_fields(before: Notification, after: Notification) -> dict[str, Any]:
    old, new = to_document(before), to_document(after)
    return {k: v for k, v in new.items() if k != "_id" and old.get(k) != v}


def _parked(doc: dict[str, Any]) -> ParkedEvent:
    return ParkedEvent(
        event=ANY_EVENT_ADAPTER.validate_json(doc["payload"]),
        parked_at=doc["parked_at"],
        expires_at=doc["expires_at"],
    )


def _claim(doc: dict[str, Any]) -> AttemptClaim:
    return AttemptClaim(
        notification_id=doc["notification_id"],
        attempt=doc["attempt"],
        state=doc["state"],
        started_at=doc["started_at"],
        finished_at=doc.get("finished_at"),
        reason=doc.get("reason"),
        permanent=doc.get("permanent"),
        provider_ref=doc.get("provider_ref"),
        incarnation=doc.get("incarnation"),
        instance=doc.get("instance"),
    )


async def ensure_indexes(db: AsyncDatabase) -> None:
    notifications = db[NOTIFICATIONS]
    # No (status, next_attempt_at) index any more: nothing queries those fields (the loop
    # reads `notify_due`), and every index is maintained on every record write.
    await drop_index_if_present(notifications, "status_1_next_attempt_at_1")
    # Serves MongoDB for the listing of records stored before appeal-prefixed keys existed.
    await notifications.create_index([("appeal_id", ASCENDING)])
    # Nor one on attempts' notification_id: attempts are read by `_id` (`<notification>#<n>`).
    await drop_index_if_present(db[ATTEMPTS], "notification_id_1")
    await db[PARKED].create_index([("appeal_id", ASCENDING)])


# --- MongoDB -----------------------------------------------------------------------------------


class MongoNotifyStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        # Single-document operations of events handled at once share store commands.
        self.batcher = StoreBatcher()

    # --- the appeals projection -----------------------------------------------------------

    async def appeal(self, appeal_id: str) -> AppealView | None:
        doc = await self.batcher.find_by_id(self.db[APPEALS], appeal_id)
        return appeal_from_document(doc) if doc else None

    async def add_appeal(self, appeal: AppealView) -> bool:
        return await self.batcher.insert_once(self.db[APPEALS], appeal_document(appeal))

    async def set_answer_due(self, appeal_id: str, due_at: datetime) -> None:
        await self.batcher.update_by_id(
            self.db[APPEALS], appeal_id, {"$set": {"answer_due_at": due_at}}
        )

    # --- parked events --------------------------------------------------------------------

    async def park(self, event: Event, parked_at: datetime, expires_at: datetime) -> bool:
        return await self.batcher.insert_once(
            self.db[PARKED],
            {
                "_id": event.event_id,
                "appeal_id": event.appeal_id,
                "event_type": event.event_type,
                "payload": event.model_dump_json(),
                "parked_at": parked_at,
                "expires_at": expires_at,
            },
        )

    async def parked_of(self, appeal_id: str) -> list[ParkedEvent]:
        # On every registration: shared with the registrations handled at once.
        found = await self.batcher.find_where(self.db[PARKED], "appeal_id", appeal_id)
        return [_parked(doc) for doc in found]

    async def parked_page(self, limit: int) -> list[ParkedEvent]:
        return [_parked(doc) for doc in await self.db[PARKED].find({}).limit(limit).to_list()]

    async def unpark(self, event_id: str) -> bool:
        taken = await self.db[PARKED].delete_one({"_id": event_id})
        return taken.deleted_count == 1

    # --- preferences ----------------------------------------------------------------------

    async def preferences(self, key: str) -> CitizenPreferences | None:
        stored = await self.batcher.find_by_id(self.db[PREFERENCES], key)
        if stored is None:
            return None
        fields = {k: v for k, v in stored.items() if k in CitizenPreferences.model_fields}
        return CitizenPreferences.model_validate(fields)

    async def set_preferences(
        self, key: str, preferences: CitizenPreferences, at: datetime
    ) -> None:
        await self.db[PREFERENCES].replace_one(
            {"_id": key},
            {"_id": key, **preferences.model_dump(mode="json"), "updated_at": at},
            upsert=True,
        )

    # --- notifications and their keys -----------------------------------------------------

    async def notification_id_for(self, appeal_id: str, key: str) -> str | None:
        # The appeal-prefixed key and, for records of the version before, the bare key: both
        # in the same `$in` command (the batcher coalesces them).
        found, legacy = await all_of(
            [
                self.batcher.find_by_id(self.db[KEYS], appeal_key(appeal_id, key)),
                self.batcher.find_by_id(self.db[KEYS], key),
            ]
        )
        known = found or legacy
        return known["notification_id"] if known else None

    async def add_key(self, appeal_id: str, key: str, notification_id: str) -> bool:
        document = {"_id": appeal_key(appeal_id, key), "notification_id": notification_id}
        return await self.batcher.insert_once(self.db[KEYS], document)

    async def notification(self, notification_id: str) -> Notification | None:
        doc = await self.batcher.find_by_id(self.db[NOTIFICATIONS], notification_id)
        return from_document(doc) if doc else None

    async def notifications(self, ids: Iterable[str]) -> dict[str, Notification]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        docs = await self.db[NOTIFICATIONS].find({"_id": {"$in": wanted}}).to_list(None)
        return {doc["_id"]: from_document(doc) for doc in docs}

    async def notifications_of_appeal(self, appeal_id: str) -> list[Notification]:
        keys = await self.db[KEYS].find({"_id": prefix_range(f"{appeal_id}|")}).to_list(None)
        found = await self.notifications(k["notification_id"] for k in keys)
        if await self.batcher.find_by_id(self.db[KEYS], KEYS_BACKFILLED) is None:
            # Records of the version before have bare keys until the backfill has run.
            legacy = await self.db[NOTIFICATIONS].find({"appeal_id": appeal_id}).to_list(None)
            found |= {doc["_id"]: from_document(doc) for doc in legacy}
        return sorted(found.values(), key=lambda n: (n.created_at, n.notification_id))

    async def add_notification(self, notification: Notification) -> bool:
        return await self.batcher.insert_once(self.db[NOTIFICATIONS], to_document(notification))

    async def update(
        self, before: Notification, after: Notification, expect: dict[str, Any] | None = None
    ) -> bool:
        changes = {"$set": changed_fields(before, after)}
        if expect:
            guard = {k: v.value if hasattr(v, "value") else v for k, v in expect.items()}
            updated = await self.db[NOTIFICATIONS].update_one(
                {"_id": before.notification_id, **guard}, changes
            )
            return updated.matched_count > 0
        # By `_id` alone: shared with the transitions of notices handled at once.
        return await self.batcher.update_by_id(
            self.db[NOTIFICATIONS], before.notification_id, changes
        )

    async def mark_published(self, notification_id: str) -> None:
        await self.batcher.update_by_id(
            self.db[NOTIFICATIONS], notification_id, {"$set": {"outcome_published": True}}
        )

    # --- attempt claims -------------------------------------------------------------------

    async def claim_attempt(
        self, notification_id: str, attempt: int, channel: str, at: datetime, worker: Worker
    ) -> bool:
        return await self.batcher.insert_once(
            self.db[ATTEMPTS],
            {
                "_id": f"{notification_id}#{attempt}",
                "notification_id": notification_id,
                "attempt": attempt,
                "channel": channel,
                "state": "started",
                "started_at": at,
                "incarnation": worker.incarnation,
                "instance": worker.instance,
            },
        )

    async def finish_attempt(self, claim: AttemptClaim) -> None:
        await self.batcher.update_by_id(
            self.db[ATTEMPTS],
            f"{claim.notification_id}#{claim.attempt}",
            {
                "$set": {
                    "state": claim.state,
                    "finished_at": claim.finished_at,
                    "reason": claim.reason,
                    "permanent": claim.permanent,
                    "provider_ref": claim.provider_ref,
                }
            },
        )

    async def attempt(self, notification_id: str, attempt: int) -> AttemptClaim | None:
        doc = await self.db[ATTEMPTS].find_one({"_id": f"{notification_id}#{attempt}"})
        return _claim(doc) if doc else None

    async def interrupt_attempt(self, notification_id: str, attempt: int, at: datetime) -> None:
        await self.db[ATTEMPTS].update_one(
            {"_id": f"{notification_id}#{attempt}", "state": "started"},
            {"$set": {"state": "interrupted", "finished_at": at}},
        )

    async def beat(self, worker: Worker, at: datetime) -> None:
        await self.db[WORKERS].update_one(
            {"_id": worker.incarnation},
            {"$set": {"instance": worker.instance, "seen_at": at}},
            upsert=True,
        )

    async def last_beat(self, incarnation: str) -> datetime | None:
        doc = await self.db[WORKERS].find_one({"_id": incarnation})
        return doc["seen_at"] if doc else None

    # --- the delivery loop's work list ----------------------------------------------------

    async def add_work(self, keys: Iterable[str]) -> int:
        work = self.db[WORK]
        return sum(await all_of(self.batcher.insert_once(work, {"_id": key}) for key in keys))

    async def work(self, prefix: str, until: datetime, limit: int) -> list[str]:
        # An unsorted `_id` range read with a limit stops after `limit` rows and comes in
        # index order (FerretDB sorts a sorted read in memory after reading the whole range).
        query = {"_id": until_range(prefix, until)}
        docs = await self.db[WORK].find(query, {"_id": 1}).limit(limit).to_list(limit)
        return [doc["_id"] for doc in docs]

    async def drop_work(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if len(keys) == 1:
            # Coalesced with the other transitions' deletes: many run at once.
            await self.batcher.delete_by_id(self.db[WORK], keys[0])
            return
        for start in range(0, len(keys), 1000):
            await self.db[WORK].delete_many({"_id": {"$in": keys[start : start + 1000]}})

    async def backfilled(self, marker: str) -> bool:
        return await self.batcher.find_by_id(self.db[META], marker) is not None

    async def mark_backfilled(self, marker: str, at: datetime, added: int) -> None:
        await self.batcher.insert_once(
            self.db[META], {"_id": marker, "at": at, "entries_added": added}
        )

    async def records_needing_work(self) -> list[WorkState]:
        """One scan of `notifications` (the only regular one notify makes, once per
        database): records due or holding an unpublished outcome."""
        records = await (
            self.db[NOTIFICATIONS]
            .find(
                {
                    "$or": [
                        {"status": {"$in": [s.value for s in DUE_STATUSES]}},
                        {"outcome_published": False},
                    ]
                },
                {"status": 1, "next_attempt_at": 1, "updated_at": 1, "outcome_published": 1},
            )
            .to_list(None)
        )
        return [
            WorkState(
                r["_id"],
                r.get("status"),
                r.get("next_attempt_at"),
                r.get("updated_at"),
                r.get("outcome_published"),
            )
            for r in records
        ]

    async def backfill_keys(self) -> int:
        """Give every bare key (written by the version before) its appeal-prefixed copy,
        once per database (a `notify_meta` marker); returns how many it added."""
        if await self.batcher.find_by_id(self.db[KEYS], KEYS_BACKFILLED) is not None:
            return 0
        bare = [
            k
            for k in await self.db[KEYS].find({}).to_list(None)
            if "|" not in str(k["_id"]) and "notification_id" in k
        ]
        records = await self.notifications(k["notification_id"] for k in bare)
        added = 0
        for key in bare:
            record = records.get(key["notification_id"])
            if record is not None and await self.add_key(
                record.appeal_id, key["_id"], key["notification_id"]
            ):
                added += 1
        await self.batcher.insert_once(self.db[KEYS], {"_id": KEYS_BACKFILLED, "added": added})
        return added

    # --- the outbox provider --------------------------------------------------------------

    async def add_to_outbox(self, document: dict[str, Any]) -> None:
        await self.batcher.insert_once(self.db[OUTBOX], document)
