"""Notify's core: turns lifecycle events into notifications and delivers each exactly once.

Owns, in notify's own database:
- `appeals` — a projection of registered appeals (number, language, contacts, urgency), so a
  later event that carries no contact (an SLA warning, an extension) can still be addressed;
- `notifications` — one record per (cause event, recipient, channel), the idempotency key,
  stored before anything is sent; it holds the rendered text, the status (`pending`,
  `deferred`, `sent`, `failed`, `suppressed`), the attempt count, when the next attempt is
  due and the last outcome published;
- `notification_keys` — (cause event, recipient) → the notification id, so one cause tells one
  recipient once even if the chosen channel would differ on a redelivery;
- `delivery_attempts` — one document per attempt (`<notification id>#<n>`); inserting it is
  how an attempt is claimed, so two workers never make the same attempt;
- `parked_events` — events that arrived before their appeal's registration (topics are not
  ordered against each other); released when the registration arrives;
- `preferences` — citizens' channel preference, opt-out and quiet hours;
- `notify_due` — the delivery loop's work list, read by `_id` range only (see below).

Never twice: the record is found before anything is sent; a redelivered event republishes the
record's last outcome (same event id) and sends nothing. Never lost: a failed attempt is
retried with bounded exponential backoff and jitter by the delivery loop, which also picks up
records a crash left pending, attempts a crash interrupted (after `claim_timeout`) and
outcomes stored but not yet published. After the last attempt the record stays `failed`,
with its reason, for a resend (`POST /v1/notifications/{id}/resend`).

Throughput (issue 8): the consumer hands events of different appeals to `handle` at once
(services.common.batching); their reads, inserts and updates by `_id` share store commands
(`StoreBatcher`; compare-and-set updates stay single), and an outcome produced for the
consumer is stored already marked published (its cause is redelivered if the process dies
before the publish), sparing one update per notice.

The delivery loop's passes make no query over `notifications`: on FerretDB v1 only `_id`
conditions (equality, `$in`, string ranges) use an index, and any other filter converts every
record of the collection, growing with history (measured with 20,000 records on the 2-core
machine under test load: 20-37 s per pass for the two scans it made; an idle pass over the
index takes ~5 ms). It reads `notify_due` instead, whose ids carry what is looked up:

- `due|<UTC ISO ms>|<notification id>` — the record may be due at that moment;
- `pub|<UTC ISO ms>|<notification id>` — an outcome stored at that moment may be unpublished.

An entry is a hint, the record stays the truth: the loop reads the entries up to now, loads
their records by `_id` (`$in`), works on those still due or unpublished and deletes the rest.
Crash safety: an entry is written (and acknowledged) *before* the record change it
announces, so a crash leaves at most an entry without a reason, never a due or unpublished
record without an entry. The consumer's first attempt needs none: until `handle` returns
its event is redelivered, which finds the record (an entry is written only when a record is
deferred, retried, resent, found claimed by someone else, or created outside the consumer).
So a first attempt that succeeds costs no index write; one deferred or retried costs one
insert (coalesced by `StoreBatcher`). Records stored before the index existed get their
entries from `backfill_index`, one scan the first time a delivery loop starts on the
database.

Outcomes on `notifications.outcomes.v1`: `sent`, `failed` (final), `suppressed` (opt-out of
an optional notice) and `deferred` — for quiet hours *and* for a failed attempt that will be
retried (the reason says which and when); every attempt therefore publishes one outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import (
    ANY_EVENT_ADAPTER,
    AppealRegistered,
    AppealRejected,
    DeadlineExtended,
    DeliveryChannel,
    DeliveryStatus,
    Event,
    Language,
    NotificationOutcome,
    RecipientRole,
    deterministic_id,
    topics,
)
from services.common.batching import StoreBatcher, all_of
from services.common.clock import Clock, SystemClock
from services.common.indexes import drop_index_if_present
from services.common.keys import iso_ms, until_range
from services.common.masking import scrub
from services.common.messaging import publish_event
from services.common.runtime import ServiceRuntime
from services.notify.directory import StaffDirectory
from services.notify.metrics import NotifyMetrics
from services.notify.policy import CitizenPreferences, RetryPolicy, choose_channel, quiet_hours_end
from services.notify.providers import (
    DeliveryFailed,
    DeliveryProvider,
    OutgoingMessage,
    mask_address,
)
from services.notify.rules import AppealView, Rule, rules_for, staff_codes, template_variables
from services.notify.settings import NotifySettings
from services.notify.templates import local_time, render, render_subject

log = logging.getLogger("tyndau.notify")

NOTIFICATIONS = "notifications"
ATTEMPTS = "delivery_attempts"
KEYS = "notification_keys"
APPEALS = "appeals"
PARKED = "parked_events"
PREFERENCES = "preferences"
WORK = "notify_due"
# One document per database: the backfill of `notify_due` ran to its end (see backfill_index).
META = "notify_meta"
BACKFILLED = "due-index-backfilled"

DUE = "due|"
"""`notify_due` key prefix: `due|<moment>|<notification id>`, the record may be due then."""
UNPUBLISHED = "pub|"
"""`notify_due` key prefix: `pub|<moment>|<notification id>`, an outcome stored then may not
have been published."""
UNPUBLISHED_GRACE = timedelta(seconds=10)
"""An outcome stored this long ago and still unpublished was left by a crash (before that,
its writer may just be about to publish it)."""


PENDING = "pending"
"""Record status: waiting for its next attempt (the first, or a retry)."""
DUE_STATUSES = [PENDING, DeliveryStatus.DEFERRED.value]

# Records one loop pass advances at most; a full pass is followed by another at once, so a
# backlog (after an outage, a provider's downtime) drains at the store's pace, not 100 per
# interval.
PASS_BATCH = 100

# See NotifyService.handle. Released parked events and the delivery loop run without it:
# Kafka does not redeliver what they handle (a released parked event stays on the shelf until
# handled, so the shelf brings it back, but records it creates still get entries).
_REDELIVERED_UNTIL_DONE: ContextVar[bool] = ContextVar("redelivered_until_done", default=False)

LOOP_CONCURRENCY = 16
"""Records one pass of the delivery loop advances at once: their store operations share
commands (`StoreBatcher`) and their provider calls overlap, where one after the other each
record cost ~8 round trips (measured ~25 ms per record, 2.5 s per 100)."""
# When working on a due record failed unexpectedly (not a failed delivery: that is a retry
# with backoff), the loop looks at it again after this long.
FAILED_WORK_RETRY = timedelta(seconds=60)


def due_key(moment: datetime, notification_id: str) -> str:
    return f"{DUE}{iso_ms(moment)}|{notification_id}"


def unpublished_key(moment: datetime, notification_id: str) -> str:
    return f"{UNPUBLISHED}{iso_ms(moment)}|{notification_id}"


def notification_of(key: str) -> str:
    """The notification id of a `notify_due` entry id."""
    return key.split("|", 2)[2]


@dataclass
class Recipient:
    role: RecipientRole
    key: str
    """`citizen`, or `officer:<agency>` / `supervisor:<agency>`: part of the idempotency key."""
    language: Language
    addresses: dict[DeliveryChannel, str | None]
    preferences: CitizenPreferences = field(default_factory=CitizenPreferences)


async def ensure_indexes(db: AsyncDatabase) -> None:
    notifications = db[NOTIFICATIONS]
    # No (status, next_attempt_at) index any more: nothing queries those fields (the loop
    # reads `notify_due`), and every index is maintained on every record write.
    await drop_index_if_present(notifications, "status_1_next_attempt_at_1")
    await notifications.create_index([("appeal_id", ASCENDING)])
    # Nor one on attempts' notification_id: attempts are read by `_id` (`<notification>#<n>`).
    await drop_index_if_present(db[ATTEMPTS], "notification_id_1")
    await db[PARKED].create_index([("appeal_id", ASCENDING)])


class NotifyService:
    def __init__(
        self,
        runtime: ServiceRuntime,
        providers: dict[DeliveryChannel, DeliveryProvider],
        settings: NotifySettings,
        directory: StaffDirectory | None = None,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.runtime = runtime
        self.providers = providers
        self.settings = settings
        self.directory = directory or StaffDirectory({}, {})
        self.clock = clock or SystemClock()
        self.retry = retry or RetryPolicy(
            settings.max_attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        self.tz = settings.tz
        self.metrics = NotifyMetrics(runtime.registry)
        # Single-document operations of events handled at once share store commands.
        self.store = StoreBatcher()
        # Notification ids this process is working on: keeps the consumer and the delivery
        # loop of one process off each other's records (across processes, attempt claims do).
        self._inflight: set[str] = set()

    @property
    def db(self) -> AsyncDatabase:
        return self.runtime.db

    # --- events in ----------------------------------------------------------------------

    async def on_registered(self, appeal: AppealRegistered) -> NotificationOutcome | None:
        """The citizen's registration notice (kept for callers of the skeleton's API)."""
        outcomes = await self.handle(appeal)
        return outcomes[0] if outcomes else None

    async def handle(
        self, event: Event, *, redelivered_until_done: bool = False
    ) -> list[NotificationOutcome]:
        """Every notice `event` calls for, each created once and attempted once now.

        `redelivered_until_done`: the caller (the Kafka consumer) delivers `event` again
        unless this call returns, so an outcome stored here but not yet published when the
        process dies is published by the redelivery, which finds it (same event id); such
        outcomes are stored as published and spare the follow-up write."""
        token = _REDELIVERED_UNTIL_DONE.set(redelivered_until_done)
        try:
            return await self._handle(event)
        finally:
            _REDELIVERED_UNTIL_DONE.reset(token)

    async def _handle(self, event: Event) -> list[NotificationOutcome]:
        await self._project(event)
        rules = rules_for(event)
        if not rules:
            return []
        if isinstance(event, AppealRegistered):
            appeal: AppealView | None = AppealView.from_registered(event)
        else:
            appeal = await self.appeal(event.appeal_id)
        if appeal is None and any(rule.needs_appeal for rule in rules):
            await self._park(event)
            return []
        outcomes = []
        for rule in rules:
            for recipient in await self._recipients(rule, event, appeal):
                outcome = await self._notify(rule, recipient, event, appeal)
                if outcome is not None:
                    outcomes.append(outcome)
        if isinstance(event, AppealRegistered):
            await self.release_parked(event.appeal_id)
        return outcomes

    async def appeal(self, appeal_id: str) -> AppealView | None:
        doc = await self.store.find_by_id(self.db[APPEALS], appeal_id)
        return AppealView.from_document(doc) if doc else None

    async def _project(self, event: Event) -> None:
        # The routed body is not kept: every rule that names a body takes it from its own
        # event (rules.py), so storing it was one write per routing decision nobody read.
        appeals = self.db[APPEALS]
        if isinstance(event, AppealRegistered):
            await self.store.insert_once(appeals, AppealView.from_registered(event).document())
        elif isinstance(event, DeadlineExtended):
            await self.store.update_by_id(
                appeals, event.appeal_id, {"$set": {"answer_due_at": event.new_due_at}}
            )

    # --- parked events (arrived before their registration) -----------------------------

    async def _park(self, event: Event) -> None:
        now = self.clock.now()
        created = await self.store.insert_once(
            self.db[PARKED],
            {
                "_id": event.event_id,
                "appeal_id": event.appeal_id,
                "event_type": event.event_type,
                "payload": event.model_dump_json(),
                "parked_at": now,
                "expires_at": now + timedelta(seconds=self.settings.parked_event_ttl_seconds),
            },
        )
        if created:
            self.metrics.parked.labels("parked").inc()
            log.info(
                "parked %s %s until its appeal is registered", event.event_type, event.event_id
            )

    async def release_parked(self, appeal_id: str | None = None) -> int:
        """Handle parked events whose appeal is now known; drop expired ones (logged)."""
        released = 0
        if appeal_id:
            # On every registration: shared with the registrations handled at once.
            parked = await self.store.find_where(self.db[PARKED], "appeal_id", appeal_id)
        else:
            parked = await self.db[PARKED].find({}).limit(200).to_list()
        for doc in parked:
            if await self.store.find_by_id(self.db[APPEALS], doc["appeal_id"]):
                # Handled first, taken off the shelf after: a crash in between (even kill -9)
                # handles it again, which is idempotent (deterministic notification ids,
                # claimed attempts), instead of losing it. The consumer and the loop may both
                # release the same event; whoever deletes it counts it.
                await self.handle(ANY_EVENT_ADAPTER.validate_json(doc["payload"]))
                taken = await self.db[PARKED].delete_one({"_id": doc["_id"]})
                if taken.deleted_count == 1:
                    self.metrics.parked.labels("released").inc()
                    released += 1
            elif doc["expires_at"] <= self.clock.now():
                await self.db[PARKED].delete_one({"_id": doc["_id"]})
                self.metrics.parked.labels("expired").inc()
                log.error(
                    "gave up on %s %s: appeal %s was never registered here",
                    doc["event_type"],
                    doc["_id"],
                    doc["appeal_id"],
                )
        return released

    # --- recipients ---------------------------------------------------------------------

    async def _recipients(
        self, rule: Rule, event: Any, appeal: AppealView | None
    ) -> list[Recipient]:
        if rule.role is RecipientRole.CITIZEN:
            if isinstance(event, AppealRejected):
                contact = event.applicant_contact
                assert contact is not None  # the rule's condition
                phone, email, iin, language = contact.phone, contact.email, None, Language.KK
            else:
                assert appeal is not None
                phone, email, iin, language = (
                    appeal.phone,
                    appeal.email,
                    appeal.iin,
                    appeal.language,
                )
            return [
                Recipient(
                    role=rule.role,
                    key=RecipientRole.CITIZEN.value,
                    language=language,
                    addresses={
                        DeliveryChannel.SMS: phone,
                        DeliveryChannel.EMAIL: email,
                        DeliveryChannel.PUSH: iin,
                        DeliveryChannel.OUTBOX: phone or email,
                    },
                    preferences=await self.preferences_for(iin, phone, email),
                )
            ]
        recipients = []
        for code in staff_codes(rule, event):
            contact = self.directory.contact(code, rule.role)
            if contact is None or not (contact.email or contact.phone):
                self.metrics.unaddressed.labels(rule.role.value, rule.template).inc()
                log.info(
                    "no %s of %s in the directory: %s not sent", rule.role, code, rule.template
                )
                continue
            recipients.append(
                Recipient(
                    role=rule.role,
                    key=f"{rule.role.value}:{code}",
                    language=contact.language or (appeal.language if appeal else Language.KK),
                    addresses={
                        DeliveryChannel.EMAIL: contact.email,
                        DeliveryChannel.SMS: contact.phone,
                        DeliveryChannel.OUTBOX: contact.email or contact.phone,
                    },
                )
            )
        return recipients

    async def preferences_for(self, *keys: str | None) -> CitizenPreferences:
        """The preferences stored under the first of `keys` (IIN, phone, e-mail) that has any."""
        wanted = [key for key in keys if key]
        if not wanted:
            return CitizenPreferences()
        found = await asyncio.gather(
            *(self.store.find_by_id(self.db[PREFERENCES], key) for key in wanted)
        )
        for stored in found:
            if stored is not None:
                doc = {k: v for k, v in stored.items() if k in CitizenPreferences.model_fields}
                return CitizenPreferences.model_validate(doc)
        return CitizenPreferences()

    async def set_preferences(self, key: str, preferences: CitizenPreferences) -> None:
        await self.db[PREFERENCES].replace_one(
            {"_id": key},
            {"_id": key, **preferences.model_dump(mode="json"), "updated_at": self.clock.now()},
            upsert=True,
        )

    # --- one notification ---------------------------------------------------------------

    async def _notify(
        self, rule: Rule, recipient: Recipient, event: Event, appeal: AppealView | None
    ) -> NotificationOutcome | None:
        notifications = self.db[NOTIFICATIONS]
        # One notification per cause and recipient, whatever channel was chosen the first
        # time (a preference changed between two deliveries must not add a second one).
        key = deterministic_id("notification-key", event.event_id, recipient.key)
        # Looked up by `_id` (the notification-key document), not by a query on the records:
        # on FerretDB only `_id` lookups stay fast as the collection grows.
        known = await self.store.find_by_id(self.db[KEYS], key)
        record = (
            await self.store.find_by_id(notifications, known["notification_id"]) if known else None
        )
        if record is None:
            order = (
                self.settings.citizen_channel_order
                if recipient.role is RecipientRole.CITIZEN
                else self.settings.staff_channel_order
            )
            choice = choose_channel(
                recipient.addresses, self.providers, order, recipient.preferences.preferred_channel
            )
            if choice is None:
                self.metrics.unaddressed.labels(recipient.role.value, rule.template).inc()
                log.info("%s %s: no reachable address", recipient.key, rule.template)
                return None
            channel, address = choice
            notification_id = deterministic_id(
                "notification", event.event_id, recipient.key, channel.value
            )
            record = self._new_record(
                notification_id, rule, recipient, channel, address, event, appeal
            )
            key_document = {"_id": key, "notification_id": notification_id}
            if not await self.store.insert_once(self.db[KEYS], key_document):
                known = await self.store.find_by_id(self.db[KEYS], key)
                if known and known["notification_id"] != notification_id:
                    # Another worker chose a different channel first; theirs is the
                    # notification.
                    record = await self.store.find_by_id(notifications, known["notification_id"])
                    if record is None:
                        return None
                    return await self._replay_or_advance(record)
            if not _REDELIVERED_UNTIL_DONE.get():
                # Nothing redelivers this cause if the process dies before the first
                # attempt (a released parked event): the loop must be able to find it.
                await self._index(due_key(record["next_attempt_at"], notification_id))
            if await self.store.insert_once(notifications, record):
                with self._owning(notification_id) as owned:
                    if owned:
                        return await self._first_step(record, rule, recipient)
                    return None
            # Created meanwhile, or by a version that did not store `recipient`.
            record = await self.store.find_by_id(notifications, notification_id)
            assert record is not None
        return await self._replay_or_advance(record)

    async def _replay_or_advance(self, record: dict[str, Any]) -> NotificationOutcome | None:
        if record.get("last_outcome"):
            # A redelivered cause: tell the outcome again (same event id), send nothing.
            await self._publish(record)
            return NotificationOutcome.model_validate(record["last_outcome"])
        return await self.advance(record)

    def _new_record(
        self,
        notification_id: str,
        rule: Rule,
        recipient: Recipient,
        channel: DeliveryChannel,
        address: str,
        event: Event,
        appeal: AppealView | None,
    ) -> dict[str, Any]:
        language = recipient.language
        variables = template_variables(
            rule.template, event, appeal, language, self.directory.agency_name, self.tz
        )
        now = self.clock.now()
        number = (
            appeal.registration_number if appeal else getattr(event, "registration_number", None)
        )
        return {
            "_id": notification_id,
            "appeal_id": event.appeal_id,
            "correlation_id": event.correlation_id,
            "cause_event_id": event.event_id,
            "cause_event_type": event.event_type,
            "cause_occurred_at": event.occurred_at,
            "recipient_role": recipient.role.value,
            "recipient": recipient.key,
            "channel": channel.value,
            "address": address,
            "template": rule.template,
            "language": language.value,
            "mandatory": rule.mandatory,
            "urgent": rule.urgent or bool(appeal and appeal.urgent),
            "registration_number": number,
            "subject": render_subject(rule.template, language, variables),
            "text": render(rule.template, language, variables),
            "status": PENDING,
            "attempts": 0,
            "max_attempts": self.retry.max_attempts,
            "next_attempt_at": now,
            "reason": None,
            "created_at": now,
            "updated_at": now,
            "quiet_hours": [
                (
                    recipient.preferences.quiet_hours_start or self.settings.quiet_hours_start
                ).isoformat(),
                (
                    recipient.preferences.quiet_hours_end or self.settings.quiet_hours_end
                ).isoformat(),
            ],
        }

    async def _first_step(
        self, record: dict[str, Any], rule: Rule, recipient: Recipient
    ) -> NotificationOutcome | None:
        if not rule.mandatory and recipient.preferences.opt_out:
            return await self._transition(
                record,
                DeliveryStatus.SUPPRESSED,
                DeliveryStatus.SUPPRESSED.value,
                "opted_out",
                {"next_attempt_at": None},
                expect={"attempts": 0},
            )
        return await self._advance_owned(record)

    # --- attempts -------------------------------------------------------------------------

    async def advance(self, record: dict[str, Any]) -> NotificationOutcome | None:
        """Make the record's next attempt now (or defer it for quiet hours), unless another
        worker of this process already does."""
        with self._owning(record["_id"]) as owned:
            if not owned:
                return None
            return await self._advance_owned(record)

    @contextmanager
    def _owning(self, notification_id: str) -> Iterator[bool]:
        if notification_id in self._inflight:
            yield False
            return
        self._inflight.add(notification_id)
        try:
            yield True
        finally:
            self._inflight.discard(notification_id)

    async def _advance_owned(self, record: dict[str, Any]) -> NotificationOutcome | None:
        now = self.clock.now()
        if record["channel"] == DeliveryChannel.SMS.value and not record.get("urgent"):
            start, end = self.settings.quiet_hours_start, self.settings.quiet_hours_end
            if record.get("quiet_hours"):
                start, end = (time.fromisoformat(t) for t in record["quiet_hours"])
            until = quiet_hours_end(now, start, end, self.tz)
            if until is not None:
                return await self._transition(
                    record,
                    DeliveryStatus.DEFERRED,
                    DeliveryStatus.DEFERRED.value,
                    f"quiet_hours: SMS deferred until {local_time(until, self.tz)}",
                    {"next_attempt_at": until},
                    expect={"attempts": record["attempts"], "status": record["status"]},
                    step=f"quiet:{until.isoformat()}",
                )
        return await self._attempt(record, now)

    async def _attempt(self, record: dict[str, Any], now: datetime) -> NotificationOutcome | None:
        nid, attempt = record["_id"], record["attempts"] + 1
        attempts = self.db[ATTEMPTS]
        claimed = await self.store.insert_once(
            attempts,
            {
                "_id": f"{nid}#{attempt}",
                "notification_id": nid,
                "attempt": attempt,
                "channel": record["channel"],
                "state": "started",
                "started_at": now,
            },
        )
        if not claimed:
            return await self._recover_claim(record, attempt, now)

        message = OutgoingMessage(
            notification_id=nid,
            address=record["address"],
            text=record["text"],
            subject=record.get("subject", ""),
            appeal_id=record["appeal_id"],
            template=record["template"],
        )
        provider = self.providers.get(DeliveryChannel(record["channel"]))
        reference: str | None = None
        failure: DeliveryFailed | None = None
        try:
            if provider is None:
                raise DeliveryFailed(f"no {record['channel']} provider configured", permanent=True)
            reference = await asyncio.wait_for(
                provider.deliver(message), timeout=self.settings.provider_timeout_seconds + 5
            )
        except DeliveryFailed as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - any provider error is a failed attempt
            failure = DeliveryFailed(f"{type(exc).__name__}: {exc}")
        finished = self.clock.now()
        result = "failed" if failure else "accepted"
        self.metrics.attempts.labels(record["channel"], result).inc()
        await self.store.update_by_id(
            attempts,
            f"{nid}#{attempt}",
            {
                "$set": {
                    "state": result,
                    "finished_at": finished,
                    "reason": failure.reason if failure else None,
                    "permanent": failure.permanent if failure else None,
                    "provider_ref": reference,
                }
            },
        )
        log.info(
            "notification %s attempt %d via %s to %s: %s",
            nid,
            attempt,
            record["channel"],
            mask_address(record["address"]),
            failure.reason if failure else "accepted",
        )
        return await self._apply_result(record, attempt, finished, failure, reference)

    async def _recover_claim(
        self, record: dict[str, Any], attempt: int, now: datetime
    ) -> NotificationOutcome | None:
        """Attempt `attempt` was claimed before: by a worker that is on it, that finished it
        but died before recording the result, or that died during it."""
        attempts = self.db[ATTEMPTS]
        claim = await attempts.find_one({"_id": f"{record['_id']}#{attempt}"})
        if claim is None:
            return None
        if claim["state"] in ("accepted", "failed"):
            failure = (
                DeliveryFailed(claim.get("reason") or "failed", permanent=bool(claim["permanent"]))
                if claim["state"] == "failed"
                else None
            )
            return await self._apply_result(
                record,
                attempt,
                claim.get("finished_at") or now,
                failure,
                claim.get("provider_ref"),
                replay=True,
            )
        timeout = timedelta(seconds=self.settings.claim_timeout_seconds)
        if claim["started_at"] > now - timeout:
            # Someone is on it, or died on it: look again when the claim would have timed
            # out. (The record itself stays due; its redelivered cause or the loop's entry,
            # whichever brought us here, is done with once we return.)
            await self._index(due_key(claim["started_at"] + timeout, record["_id"]))
            return None
        # Interrupted: the provider may or may not have it. Count the attempt and go on; the
        # provider sees the same idempotency key again.
        await attempts.update_one(
            {"_id": claim["_id"], "state": "started"},
            {"$set": {"state": "interrupted", "finished_at": now}},
        )
        log.warning("notification %s attempt %d was interrupted", record["_id"], attempt)
        if attempt >= record["max_attempts"]:
            failure = DeliveryFailed(f"attempt {attempt} was interrupted", permanent=True)
            return await self._apply_result(record, attempt, now, failure, None, replay=True)
        updated = await self.db[NOTIFICATIONS].update_one(
            {"_id": record["_id"], "attempts": attempt - 1}, {"$set": {"attempts": attempt}}
        )
        if updated.matched_count == 0:
            return None
        return await self._attempt({**record, "attempts": attempt}, now)

    async def _apply_result(
        self,
        record: dict[str, Any],
        attempt: int,
        now: datetime,
        failure: DeliveryFailed | None,
        reference: str | None,
        *,
        replay: bool = False,
    ) -> NotificationOutcome | None:
        # Whoever inserted attempt n's claim is the only one to record its result, so the
        # plain path updates by `_id` alone (the only filter FerretDB serves fast). Replaying
        # a result found in a claim document may race with its owner: that one is guarded.
        expect = {"attempts": attempt - 1} if replay else {}
        if failure is None:
            return await self._transition(
                record,
                DeliveryStatus.SENT,
                DeliveryStatus.SENT.value,
                None,
                {
                    "attempts": attempt,
                    "sent_at": now,
                    "provider_ref": reference,
                    "next_attempt_at": None,
                },
                expect=expect,
            )
        if failure.permanent or attempt >= record["max_attempts"]:
            kind = "permanent failure" if failure.permanent else "attempts exhausted"
            return await self._transition(
                record,
                DeliveryStatus.FAILED,
                DeliveryStatus.FAILED.value,
                f"{kind} after attempt {attempt}: {failure.reason}",
                {"attempts": attempt, "failed_at": now, "next_attempt_at": None},
                expect=expect,
            )
        retry_at = now + self.retry.delay_after(attempt)
        return await self._transition(
            record,
            DeliveryStatus.DEFERRED,
            PENDING,
            f"retry: attempt {attempt} failed ({failure.reason}); "
            f"next attempt at {local_time(retry_at, self.tz)}",
            {"attempts": attempt, "next_attempt_at": retry_at},
            expect=expect,
            step="retry",
        )

    # --- outcomes -------------------------------------------------------------------------

    async def _transition(
        self,
        record: dict[str, Any],
        outcome_status: DeliveryStatus,
        record_status: str,
        reason: str | None,
        changes: dict[str, Any],
        *,
        expect: dict[str, Any],
        step: str = "",
    ) -> NotificationOutcome | None:
        """Store the new state with its outcome, then publish the outcome. Nothing happens
        when the record is no longer as `expect`ed (someone else moved it on)."""
        attempts = changes.get("attempts", record["attempts"])
        now = self.clock.now()
        outcome = NotificationOutcome(
            event_id=deterministic_id(
                "notification.outcome", record["_id"], outcome_status.value, str(attempts), step
            ),
            appeal_id=record["appeal_id"],
            occurred_at=now,
            correlation_id=record["correlation_id"],
            causation_id=record["cause_event_id"],
            notification_id=record["_id"],
            cause_event_id=record["cause_event_id"],
            recipient_role=RecipientRole(record["recipient_role"]),
            delivery_channel=DeliveryChannel(record["channel"]),
            template=record["template"],
            language=Language(record["language"]),
            status=outcome_status,
            attempts=attempts,
            reason=scrub(reason) if reason else None,
            registration_number=record.get("registration_number"),
        )
        published = _REDELIVERED_UNTIL_DONE.get()
        fields = {
            **changes,
            "status": record_status,
            "reason": outcome.reason,
            "updated_at": now,
            "last_outcome": outcome.model_dump(mode="json"),
            # Otherwise the delivery loop publishes it if this process dies first.
            "outcome_published": published,
        }
        # The loop's entries, before the change they announce (see the module docstring):
        # a deferral or retry is due at its next attempt; an outcome not stored as published
        # is looked for once its grace has passed. Written in one command (gathered).
        entries = []
        if record_status in DUE_STATUSES:
            entries.append(due_key(changes["next_attempt_at"], record["_id"]))
        if not published:
            entries.append(unpublished_key(now, record["_id"]))
        await self._index(*entries)
        if expect:
            updated = await self.db[NOTIFICATIONS].update_one(
                {"_id": record["_id"], **expect}, {"$set": fields}
            )
            matched = updated.matched_count > 0
        else:  # by `_id` alone: shared with the transitions of notices handled at once
            matched = await self.store.update_by_id(
                self.db[NOTIFICATIONS], record["_id"], {"$set": fields}
            )
        if not matched:
            return None
        record.update(fields)
        self.metrics.outcomes.labels(
            record["channel"], record["template"], record["language"], outcome_status.value
        ).inc()
        if outcome_status is DeliveryStatus.SENT:
            latency = changes["sent_at"] - record["cause_occurred_at"]
            self.metrics.latency.labels(record["channel"], record["template"]).observe(
                max(0.0, latency.total_seconds())
            )
        await self._publish(record)
        if not published:
            # Published now: the entry has no reason left (if this is lost, the loop finds
            # the record published and drops the entry then).
            # (Coalesced with the other transitions' deletes: the loop makes many at once.)
            await self.store.delete_by_id(self.db[WORK], unpublished_key(now, record["_id"]))
        return outcome

    async def _publish(self, record: dict[str, Any]) -> None:
        outcome = NotificationOutcome.model_validate(record["last_outcome"])
        await publish_event(self.runtime, topics.NOTIFICATION_OUTCOMES, outcome)
        if not record.get("outcome_published"):
            # By `_id` alone (fast on FerretDB): a newer outcome of the same record can only
            # come from the next attempt's claim holder, which publishes its own.
            await self.store.update_by_id(
                self.db[NOTIFICATIONS], record["_id"], {"$set": {"outcome_published": True}}
            )
            record["outcome_published"] = True

    # --- the delivery loop's work -------------------------------------------------------

    async def _index(self, *keys: str) -> None:
        """Write `notify_due` entries (an existing one is fine) and wait for the store to
        have them: the callers change the record only afterwards."""
        if keys:
            work = self.db[WORK]
            await all_of(self.store.insert_once(work, {"_id": key}) for key in keys)

    async def _entries(self, prefix: str, until: datetime, batch: int) -> dict[str, list[str]]:
        """Entry ids under `prefix` whose moment is at or before `until`, soonest first, at
        most `batch`, by notification id. An unsorted `_id` range read with a limit stops
        after `batch` rows and comes in index order (FerretDB sorts a sorted read in memory
        after reading the whole range)."""
        query = {"_id": until_range(prefix, until)}
        docs = await self.db[WORK].find(query, {"_id": 1}).limit(batch).to_list(batch)
        by_notification: dict[str, list[str]] = {}
        for doc in docs:
            by_notification.setdefault(notification_of(doc["_id"]), []).append(doc["_id"])
        return by_notification

    async def _records(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        docs = await self.db[NOTIFICATIONS].find({"_id": {"$in": ids}}).to_list(None)
        return {doc["_id"]: doc for doc in docs}

    async def deliver_due(self, batch: int = PASS_BATCH) -> int:
        """One pass of the delivery loop: attempt due records, publish outcomes a crash left
        unpublished, release parked events. Returns how many records it advanced.

        Reads `notify_due` by `_id` range and records by `_id` only (module docstring). An
        entry is deleted once its record was worked on, or found not to need it; it is kept
        when its record is busy in this process or working on it failed."""
        now = self.clock.now()
        entries = await self._entries(DUE, now, batch)
        records = await self._records(list(entries))
        done: list[str] = []
        due: list[tuple[dict[str, Any], list[str]]] = []
        for notification_id, keys in entries.items():
            record = records.get(notification_id)
            if (
                record is not None
                and record["status"] in DUE_STATUSES
                and record["next_attempt_at"] is not None
                and record["next_attempt_at"] <= now
            ):
                due.append((record, keys))
            else:
                # Stale: gone, final, or due later, and whoever set that later moment wrote
                # its entry first.
                done.extend(keys)

        limit = asyncio.Semaphore(LOOP_CONCURRENCY)

        async def work(record: dict[str, Any], keys: list[str]) -> bool:
            async with limit:
                if record["_id"] in self._inflight:
                    return False  # its worker here goes on with it; look again next pass
                try:
                    await self.advance(record)
                except Exception:  # noqa: BLE001 - one record must not hold up the others
                    log.exception(
                        "notification %s: delivery failed; looked at again in %s",
                        record["_id"],
                        FAILED_WORK_RETRY,
                    )
                    # Its entry moves out of the way: left in place, the oldest entries are
                    # read first on every pass, and a page of records that keep failing would
                    # stop delivery for everything behind them. (New entry first, old one
                    # deleted after, as everywhere.)
                    try:
                        await self._index(due_key(now + FAILED_WORK_RETRY, record["_id"]))
                    except Exception:  # noqa: BLE001 - the old entry stays; next pass
                        return False
                    done.extend(keys)
                    return False
            done.extend(keys)
            return True

        advanced = sum(await asyncio.gather(*(work(r, keys) for r, keys in due)))

        stale = now - UNPUBLISHED_GRACE
        entries = await self._entries(UNPUBLISHED, stale, batch)
        records = await self._records(list(entries))
        for notification_id, keys in entries.items():
            record = records.get(notification_id)
            if record is not None and record.get("outcome_published") is False:
                if notification_id in self._inflight or record["updated_at"] > stale:
                    continue  # its writer may be about to publish it; look again later
                try:
                    await self._publish(record)
                except Exception:  # noqa: BLE001 - retried next pass
                    log.exception("notification %s: outcome not published", notification_id)
                    continue
            done.extend(keys)

        await self._forget(done)
        await self.release_parked()
        return advanced

    async def _forget(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            await self.db[WORK].delete_many({"_id": {"$in": keys[start : start + 1000]}})

    async def backfill_index(self) -> int:
        """Entries for records that are due or hold an unpublished outcome, whatever wrote
        them: records stored by a version without `notify_due`. One scan of `notifications`
        (the only one notify makes), once per database: when it has run to its end a
        `notify_meta` marker says so, and later starts skip it (on FerretDB a scan costs
        ~0.15 ms per record: minutes at millions of records). An entry already there is
        kept. Returns how many entries were added.

        After a rolling upgrade from a version without `notify_due` (old instances may have
        deferred records meanwhile), delete the marker (`{_id: "due-index-backfilled"}` in
        `notify_meta`) once the last old instance is gone; the next start runs it again."""
        if await self.store.find_by_id(self.db[META], BACKFILLED) is not None:
            return 0
        records = await (
            self.db[NOTIFICATIONS]
            .find(
                {"$or": [{"status": {"$in": DUE_STATUSES}}, {"outcome_published": False}]},
                {"status": 1, "next_attempt_at": 1, "updated_at": 1, "outcome_published": 1},
            )
            .to_list(None)
        )
        keys = []
        for record in records:
            if record.get("status") in DUE_STATUSES and record.get("next_attempt_at"):
                keys.append(due_key(record["next_attempt_at"], record["_id"]))
            if record.get("outcome_published") is False and record.get("updated_at"):
                keys.append(unpublished_key(record["updated_at"], record["_id"]))
        added = 0
        for start in range(0, len(keys), 1000):  # (a thousand waiting calls at a time)
            chunk = keys[start : start + 1000]
            created = await all_of(self.store.insert_once(self.db[WORK], {"_id": k}) for k in chunk)
            added += sum(created)
        if added:
            log.info("delivery loop: %d entries added for records found without one", added)
        await self.store.insert_once(
            self.db[META], {"_id": BACKFILLED, "at": self.clock.now(), "entries_added": added}
        )
        return added

    async def resend(self, notification_id: str) -> dict[str, Any] | None:
        """Give a failed notification a fresh round of attempts (an operator's decision)."""
        now = self.clock.now()
        record = await self.db[NOTIFICATIONS].find_one({"_id": notification_id})
        if record is None or record["status"] != DeliveryStatus.FAILED.value:
            return record
        await self._index(due_key(now, notification_id))  # before the record is due again
        await self.db[NOTIFICATIONS].update_one(
            {"_id": notification_id, "status": DeliveryStatus.FAILED.value},
            {
                "$set": {
                    "status": PENDING,
                    "next_attempt_at": now,
                    "max_attempts": record["attempts"] + self.retry.max_attempts,
                    "updated_at": now,
                }
            },
        )
        return await self.db[NOTIFICATIONS].find_one({"_id": notification_id})


class DeliveryLoop:
    """Runs `NotifyService.deliver_due` every `interval` seconds (or when woken) until
    stopped. One per process; several processes may run it (attempt claims keep them apart)."""

    def __init__(self, service: NotifyService, interval: float) -> None:
        self.service = service
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify-delivery-loop")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        backfilled = False
        while True:
            try:
                if not backfilled:
                    await self.service.backfill_index()
                    backfilled = True
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - retried next pass; entries written since serve
                log.exception("delivery loop: backfill of its entries failed; trying again")
            try:
                if await self.service.deliver_due() >= PASS_BATCH:
                    continue  # more are due: no pause
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                log.exception("delivery loop pass failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
