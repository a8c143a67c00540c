"""Notify's use cases: a lifecycle event in, every notice it calls for created once and its
first step taken; a citizen's preferences; an operator's resend; an appeal's notifications.

Where each part lives:
- who is told what: the rule table (`rules.py`), rendered by `templates.py`;
- who the recipients are and where they are reached: `recipients.py` (+ `directory.py`);
- a notice's life (pending → sent / deferred / retried / failed / suppressed) as pure
  transitions of a typed record: `lifecycle.py`; the channel and quiet-hours policy:
  `policy.py`;
- attempts, claims and publishing outcomes: `delivery.py`; what comes due later:
  `delivery_loop.py`; storage: `store.py` (the port) behind everything.

Never twice: a notice's record is found before anything is sent (one per cause event and
recipient, `notification_keys`); a redelivered event republishes the record's last outcome
(same event id) and sends nothing. Never lost: a failed attempt is retried with bounded
exponential backoff and jitter by the delivery loop, which also picks up records a crash left
pending, attempts a crash interrupted and outcomes stored but not yet published; after the
last attempt the record stays `failed`, with its reason, for a resend.

Events that arrive before their appeal's registration (topics are not ordered against each
other) are parked and handled when it arrives; a parked event is handled first and taken off
the shelf after, so a crash in between (even kill -9) handles it again — idempotently —
instead of losing it. Expired ones (`NOTIFY_PARKED_EVENT_TTL_SECONDS`) are dropped, logged
and counted.
"""

from __future__ import annotations

import logging
from datetime import time, timedelta

from contracts import (
    AppealRegistered,
    DeadlineExtended,
    DeliveryChannel,
    Event,
    NotificationOutcome,
    RecipientRole,
    deterministic_id,
)
from services.common.clock import Clock
from services.notify import lifecycle
from services.notify.delivery import Delivery
from services.notify.directory import StaffDirectory
from services.notify.lifecycle import Notification, NotificationStatus
from services.notify.metrics import NotifyMetrics
from services.notify.policy import CitizenPreferences, RetryPolicy, choose_channel
from services.notify.recipients import Recipient, Recipients
from services.notify.rules import (
    AppealView,
    Rule,
    answer_date_moved,
    rules_for,
    template_variables,
)
from services.notify.settings import NotifySettings
from services.notify.store import NotifyStore, due_key
from services.notify.templates import render, render_subject

log = logging.getLogger("tyndau.notify")

PARKED_PAGE = 200
"""Parked events the delivery loop looks at per pass."""


class NotifyService:
    def __init__(
        self,
        store: NotifyStore,
        delivery: Delivery,
        settings: NotifySettings,
        directory: StaffDirectory,
        metrics: NotifyMetrics,
        clock: Clock,
        retry: RetryPolicy,
    ) -> None:
        self.store = store
        self.delivery = delivery
        self.settings = settings
        self.directory = directory
        self.metrics = metrics
        self.clock = clock
        self.retry = retry
        self.tz = settings.tz
        self.recipients = Recipients(store, directory, metrics)

    # --- events in ----------------------------------------------------------------------

    async def handle(
        self, event: Event, *, redelivered_until_done: bool = False
    ) -> list[NotificationOutcome]:
        """Every notice `event` calls for, each created once and attempted once now.

        `redelivered_until_done`: the caller (the Kafka consumer) delivers `event` again
        unless this call returns (see delivery.py)."""
        await self._project(event)
        rules = rules_for(event)
        if not rules:
            return []
        if isinstance(event, AppealRegistered):
            appeal: AppealView | None = AppealView.from_registered(event)
        else:
            appeal = await self.store.appeal(event.appeal_id)
        if appeal is None and any(rule.needs_appeal for rule in rules):
            await self._park(event)
            return []
        outcomes = []
        for rule in rules:
            for recipient in await self.recipients.of(rule, event, appeal):
                outcome = await self._notify(
                    rule, recipient, event, appeal, redelivered=redelivered_until_done
                )
                if outcome is not None:
                    outcomes.append(outcome)
        if isinstance(event, AppealRegistered):
            await self.release_parked(event.appeal_id)
        return outcomes

    async def _project(self, event: Event) -> None:
        # The routed body is not kept: every rule that names a body takes it from its own
        # event (rules.py), so storing it was one write per routing decision nobody read.
        if isinstance(event, AppealRegistered):
            await self.store.add_appeal(AppealView.from_registered(event))
        elif isinstance(event, DeadlineExtended):
            await self.store.set_answer_due(event.appeal_id, event.new_due_at)
        elif answer_date_moved(event):
            await self.store.set_answer_due(event.appeal_id, event.due_at)

    # --- parked events (arrived before their registration) -----------------------------

    async def _park(self, event: Event) -> None:
        now = self.clock.now()
        expires = now + timedelta(seconds=self.settings.parked_event_ttl_seconds)
        if await self.store.park(event, now, expires):
            self.metrics.parked.labels("parked").inc()
            log.info(
                "parked %s %s until its appeal is registered", event.event_type, event.event_id
            )

    async def release_parked(self, appeal_id: str | None = None) -> int:
        """Handle parked events whose appeal is now known; drop expired ones (logged)."""
        released = 0
        if appeal_id:
            parked = await self.store.parked_of(appeal_id)
        else:
            parked = await self.store.parked_page(PARKED_PAGE)
        for shelved in parked:
            event = shelved.event
            if await self.store.appeal(event.appeal_id) is not None:
                # Handled first, taken off the shelf after. The consumer and the loop may both
                # release the same event; whoever takes it off counts it.
                await self.handle(event)
                if await self.store.unpark(event.event_id):
                    self.metrics.parked.labels("released").inc()
                    released += 1
            elif shelved.expires_at <= self.clock.now():
                await self.store.unpark(event.event_id)
                self.metrics.parked.labels("expired").inc()
                log.error(
                    "gave up on %s %s: appeal %s was never registered here",
                    event.event_type,
                    event.event_id,
                    event.appeal_id,
                )
        return released

    # --- one notification ---------------------------------------------------------------

    async def _notify(
        self,
        rule: Rule,
        recipient: Recipient,
        event: Event,
        appeal: AppealView | None,
        *,
        redelivered: bool,
    ) -> NotificationOutcome | None:
        # One notification per cause and recipient, whatever channel was chosen the first
        # time (a preference changed between two deliveries must not add a second one).
        key = deterministic_id("notification-key", event.event_id, recipient.key)
        known = await self.store.notification_id_for(event.appeal_id, key)
        record = await self.store.notification(known) if known else None
        if record is None:
            order = (
                self.settings.citizen_channel_order
                if recipient.role is RecipientRole.CITIZEN
                else self.settings.staff_channel_order
            )
            choice = choose_channel(
                recipient.addresses,
                self.delivery.providers,
                order,
                recipient.preferences.preferred_channel,
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
            if not await self.store.add_key(event.appeal_id, key, notification_id):
                known = await self.store.notification_id_for(event.appeal_id, key)
                if known and known != notification_id:
                    # Another worker chose a different channel first; theirs is the notice.
                    theirs = await self.store.notification(known)
                    if theirs is None:
                        return None
                    return await self.delivery.replay_or_advance(theirs, redelivered=redelivered)
            if not redelivered:
                # Nothing redelivers this cause if the process dies before the first
                # attempt (a released parked event): the loop must be able to find it.
                assert record.next_attempt_at is not None
                await self.store.add_work([due_key(record.next_attempt_at, notification_id)])
            if await self.store.add_notification(record):
                return await self.delivery.first_step(
                    record, recipient.preferences.opt_out, redelivered=redelivered
                )
            # Created meanwhile (a concurrent delivery of the same cause).
            record = await self.store.notification(notification_id)
            assert record is not None
        return await self.delivery.replay_or_advance(record, redelivered=redelivered)

    def _new_record(
        self,
        notification_id: str,
        rule: Rule,
        recipient: Recipient,
        channel: DeliveryChannel,
        address: str,
        event: Event,
        appeal: AppealView | None,
    ) -> Notification:
        language = recipient.language
        variables = template_variables(
            rule.template,
            event,
            appeal,
            language,
            self.directory.agency_name,
            self.tz,
            self.directory.supervising_body,
        )
        now = self.clock.now()
        number = (
            appeal.registration_number if appeal else getattr(event, "registration_number", None)
        )
        preferences = recipient.preferences
        quiet: tuple[time, time] = (
            preferences.quiet_hours_start or self.settings.quiet_hours_start,
            preferences.quiet_hours_end or self.settings.quiet_hours_end,
        )
        return Notification(
            notification_id=notification_id,
            appeal_id=event.appeal_id,
            correlation_id=event.correlation_id,
            cause_event_id=event.event_id,
            cause_event_type=event.event_type,
            cause_occurred_at=event.occurred_at,
            recipient_role=recipient.role,
            recipient=recipient.key,
            channel=channel,
            address=address,
            template=rule.template,
            language=language,
            mandatory=rule.mandatory,
            urgent=rule.urgent or bool(appeal and appeal.urgent),
            registration_number=number,
            subject=render_subject(rule.template, language, variables),
            text=render(rule.template, language, variables),
            status=NotificationStatus.PENDING,
            attempts=0,
            max_attempts=self.retry.max_attempts,
            next_attempt_at=now,
            reason=None,
            created_at=now,
            updated_at=now,
            quiet_hours=quiet,
        )

    # --- what people ask for ------------------------------------------------------------

    async def preferences_for(self, *keys: str | None) -> CitizenPreferences:
        return await self.recipients.preferences_for(*keys)

    async def set_preferences(self, key: str, preferences: CitizenPreferences) -> None:
        await self.store.set_preferences(key, preferences, self.clock.now())

    async def notifications_of(self, appeal_id: str) -> list[Notification]:
        return await self.store.notifications_of_appeal(appeal_id)

    async def resend(self, notification_id: str) -> Notification | None:
        """Give a failed notification a fresh round of attempts (an operator's decision).
        Returns the record as it stands (unchanged unless it had failed); None if unknown."""
        record = await self.store.notification(notification_id)
        if record is None or record.status is not NotificationStatus.FAILED:
            return record
        again = lifecycle.resent(record, self.clock.now(), self.retry.max_attempts)
        assert again.next_attempt_at is not None
        await self.store.add_work([due_key(again.next_attempt_at, notification_id)])
        await self.store.update(record, again, expect={"status": NotificationStatus.FAILED})
        return await self.store.notification(notification_id)
