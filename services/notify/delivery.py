"""Making attempts: one notification's next step — quiet hours, a claimed attempt through its
provider, the result recorded and its outcome published — exactly once across workers.

- **An attempt is claimed before it is made**: inserting `<notification>#<n>` (the store's
  attempt claim) is what lets one worker, and only one, make attempt n. A claim found
  already there was made by a worker that is on it, that finished but died before recording
  the result (a failure's or the last attempt's result is in the claim: it is replayed; an
  accepted earlier attempt's is not written there, see `_attempt`), or that died during or
  right after it (then it
  counts as interrupted and the next attempt goes ahead, the provider seeing the same
  idempotency key again) — at once when the claim's worker is known to be gone (workers.py:
  an earlier life of this instance, or no heartbeat), at the latest after `claim_timeout`.
- **The record changes only after its work-list entry exists**: a deferral or retry is
  due at its next attempt, an outcome not stored as published is looked for once its grace
  has passed; the entry is written (and acknowledged) first, so a crash leaves at most an
  entry without a reason, never a due or unpublished record without an entry.
- **`redelivered`**: the caller (the Kafka consumer) delivers the cause again unless this
  call returns, so an outcome stored here but not yet published when the process dies is
  published by the redelivery, which finds it (same event id); such outcomes are stored as
  published, sparing the follow-up write and the work-list entry. The delivery loop and
  released parked events are not redelivered by Kafka and pass False.

Within one process, `owning` keeps the consumer and the delivery loop off each other's
records; across processes, attempt claims do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from contracts import DeliveryChannel, NotificationOutcome
from services.common.clock import Clock
from services.notify import lifecycle
from services.notify.lifecycle import AttemptFailure, Notification, NotificationStatus
from services.notify.metrics import NotifyMetrics
from services.notify.policy import RetryPolicy, quiet_hours_end
from services.notify.providers import (
    DeliveryFailed,
    DeliveryProvider,
    OutgoingMessage,
    mask_address,
)
from services.notify.settings import NotifySettings
from services.notify.store import AttemptClaim, NotifyStore, due_key, unpublished_key
from services.notify.workers import Worker, abandoned_or_recheck, liveness

log = logging.getLogger("tyndau.notify.delivery")

PublishOutcome = Callable[[NotificationOutcome], Awaitable[None]]


class Delivery:
    def __init__(
        self,
        store: NotifyStore,
        providers: dict[DeliveryChannel, DeliveryProvider],
        publish: PublishOutcome,
        settings: NotifySettings,
        retry: RetryPolicy,
        metrics: NotifyMetrics,
        clock: Clock,
        worker: Worker | None = None,
    ) -> None:
        self.store = store
        self.worker = worker or Worker.start(settings.instance_id)
        self.providers = providers
        self.publish = publish
        self.settings = settings
        self.retry = retry
        self.metrics = metrics
        self.clock = clock
        self.tz: tzinfo = settings.tz
        self._inflight: set[str] = set()

    # --- steps ------------------------------------------------------------------------------

    async def first_step(
        self, notification: Notification, opted_out: bool, *, redelivered: bool
    ) -> NotificationOutcome | None:
        """A new record's first step: suppressed (an optional notice the recipient opted out
        of) or its first attempt."""
        with self.owning(notification.notification_id) as owned:
            if not owned:
                return None
            if not notification.mandatory and opted_out:
                after = lifecycle.suppressed(notification, self.clock.now(), published=redelivered)
                return await self.transition(notification, after, expect={"attempts": 0})
            return await self._advance_owned(notification, redelivered)

    async def advance(
        self, notification: Notification, *, redelivered: bool = False
    ) -> NotificationOutcome | None:
        """Make the record's next attempt now (or defer it for quiet hours), unless another
        worker of this process already does."""
        with self.owning(notification.notification_id) as owned:
            if not owned:
                return None
            return await self._advance_owned(notification, redelivered)

    async def replay_or_advance(
        self, notification: Notification, *, redelivered: bool
    ) -> NotificationOutcome | None:
        if notification.last_outcome is not None:
            # A redelivered cause: tell the outcome again (same event id), send nothing.
            await self.publish_outcome(notification)
            return notification.last_outcome
        return await self.advance(notification, redelivered=redelivered)

    def busy(self, notification_id: str) -> bool:
        return notification_id in self._inflight

    @contextmanager
    def owning(self, notification_id: str) -> Iterator[bool]:
        if notification_id in self._inflight:
            yield False
            return
        self._inflight.add(notification_id)
        try:
            yield True
        finally:
            self._inflight.discard(notification_id)

    async def _advance_owned(
        self, notification: Notification, redelivered: bool
    ) -> NotificationOutcome | None:
        now = self.clock.now()
        if notification.channel is DeliveryChannel.SMS and not notification.urgent:
            start, end = notification.quiet_hours or (
                self.settings.quiet_hours_start,
                self.settings.quiet_hours_end,
            )
            until = quiet_hours_end(now, start, end, self.tz)
            if until is not None:
                after = lifecycle.deferred_for_quiet_hours(
                    notification, until, now, self.tz, published=redelivered
                )
                expect = {"attempts": notification.attempts, "status": notification.status}
                return await self.transition(notification, after, expect=expect)
        return await self._attempt(notification, now, redelivered)

    async def _attempt(
        self, notification: Notification, now: datetime, redelivered: bool
    ) -> NotificationOutcome | None:
        nid, attempt = notification.notification_id, notification.attempts + 1
        channel = notification.channel
        if not await self.store.claim_attempt(nid, attempt, channel.value, now, self.worker):
            return await self._recover_claim(notification, attempt, now, redelivered)

        message = OutgoingMessage(
            notification_id=nid,
            address=notification.address,
            text=notification.text,
            subject=notification.subject,
            appeal_id=notification.appeal_id,
            template=notification.template,
        )
        provider = self.providers.get(channel)
        reference: str | None = None
        failure: AttemptFailure | None = None
        try:
            if provider is None:
                raise DeliveryFailed(f"no {channel.value} provider configured", permanent=True)
            reference = await asyncio.wait_for(
                provider.deliver(message), timeout=self.settings.provider_timeout_seconds + 5
            )
        except DeliveryFailed as exc:
            failure = AttemptFailure(exc.reason, exc.permanent)
        except Exception as exc:  # noqa: BLE001 - any provider error is a failed attempt
            failure = AttemptFailure(DeliveryFailed(f"{type(exc).__name__}: {exc}").reason)
        finished = self.clock.now()
        result = "failed" if failure else "accepted"
        self.metrics.attempts.labels(channel.value, result).inc()
        if failure is not None or attempt >= notification.max_attempts:
            # The claim keeps a failure (its reason is the attempt's history) and the last
            # attempt's result (no later attempt could recover it). An accepted attempt
            # before the last writes nothing here — the record's update below is its result,
            # one store update fewer on every notice (an update costs FerretDB ~10 inserts).
            # Lost in a crash before that update, the claim reads "started" and the attempt
            # counts as interrupted: the next goes out under the same idempotency key.
            await self.store.finish_attempt(
                AttemptClaim(
                    notification_id=nid,
                    attempt=attempt,
                    state=result,
                    started_at=now,
                    finished_at=finished,
                    reason=failure.reason if failure else None,
                    permanent=failure.permanent if failure else None,
                    provider_ref=reference,
                    incarnation=self.worker.incarnation,
                    instance=self.worker.instance,
                )
            )
        log.info(
            "notification %s attempt %d via %s to %s: %s",
            nid,
            attempt,
            channel.value,
            mask_address(notification.address),
            failure.reason if failure else "accepted",
        )
        return await self._record_result(
            notification,
            attempt,
            finished,
            failure,
            reference,
            replay=False,
            redelivered=redelivered,
        )

    async def _recover_claim(
        self, notification: Notification, attempt: int, now: datetime, redelivered: bool
    ) -> NotificationOutcome | None:
        """Attempt `attempt` was claimed before: by a worker that is on it, that finished it
        but died before recording the result, or that died during it."""
        nid = notification.notification_id
        claim = await self.store.attempt(nid, attempt)
        if claim is None:
            return None
        if claim.state in ("accepted", "failed"):
            failure = (
                AttemptFailure(claim.reason or "failed", bool(claim.permanent))
                if claim.state == "failed"
                else None
            )
            return await self._record_result(
                notification,
                attempt,
                claim.finished_at or now,
                failure,
                claim.provider_ref,
                replay=True,
                redelivered=redelivered,
            )
        last_beat = await self.store.last_beat(claim.incarnation) if claim.incarnation else None
        recheck = abandoned_or_recheck(
            claim.holder,
            self.worker,
            last_beat,
            now,
            claim_timeout=timedelta(seconds=self.settings.claim_timeout_seconds),
            alive_for=liveness(),
        )
        if recheck is not None:
            # Its worker is alive and on it: look again when it could have died. (The record
            # itself stays due; its redelivered cause or the loop's entry, whichever brought
            # us here, is done with once we return.)
            await self.store.add_work([due_key(recheck, nid)])
            return None
        # Interrupted: the provider may or may not have it. Count the attempt and go on; the
        # provider sees the same idempotency key again.
        await self.store.interrupt_attempt(nid, attempt, now)
        log.warning("notification %s attempt %d was interrupted", nid, attempt)
        if attempt >= notification.max_attempts:
            failure = AttemptFailure(f"attempt {attempt} was interrupted", permanent=True)
            return await self._record_result(
                notification, attempt, now, failure, None, replay=True, redelivered=redelivered
            )
        counted = replace(notification, attempts=attempt)
        if not await self.store.update(notification, counted, expect={"attempts": attempt - 1}):
            return None
        return await self._attempt(counted, now, redelivered)

    async def _record_result(
        self,
        notification: Notification,
        attempt: int,
        finished_at: datetime,
        failure: AttemptFailure | None,
        reference: str | None,
        *,
        replay: bool,
        redelivered: bool,
    ) -> NotificationOutcome | None:
        # Whoever inserted attempt n's claim is the only one to record its result, so the
        # plain path updates by `_id` alone (the only filter FerretDB serves fast). Replaying
        # a result found in a claim document may race with its owner: that one is guarded.
        after = lifecycle.attempted(
            notification,
            attempt,
            finished_at,
            failure,
            reference,
            self.retry,
            self.clock.now(),
            self.tz,
            published=redelivered,
        )
        expect = {"attempts": attempt - 1} if replay else None
        return await self.transition(notification, after, expect=expect)

    # --- outcomes ---------------------------------------------------------------------------

    async def transition(
        self, before: Notification, after: Notification, *, expect: dict[str, Any] | None
    ) -> NotificationOutcome | None:
        """Store the new state with its outcome, then publish the outcome. Nothing happens
        when the record is no longer as `expect`ed (someone else moved it on)."""
        assert after.last_outcome is not None
        # The loop's entries, before the change they announce (see the module docstring).
        entries = []
        if after.status in lifecycle.DUE_STATUSES:
            assert after.next_attempt_at is not None
            entries.append(due_key(after.next_attempt_at, after.notification_id))
        unpublished = unpublished_key(after.updated_at, after.notification_id)
        if not after.outcome_published:
            entries.append(unpublished)
        if entries:
            await self.store.add_work(entries)
        if not await self.store.update(before, after, expect):
            return None
        outcome = after.last_outcome
        self.metrics.outcomes.labels(
            after.channel.value, after.template, after.language.value, outcome.status.value
        ).inc()
        if after.status is NotificationStatus.SENT and after.sent_at is not None:
            latency = after.sent_at - after.cause_occurred_at
            self.metrics.latency.labels(after.channel.value, after.template).observe(
                max(0.0, latency.total_seconds())
            )
        await self.publish_outcome(after)
        if not after.outcome_published:
            # Published now: the entry has no reason left (if this is lost, the loop finds
            # the record published and drops the entry then).
            await self.store.drop_work([unpublished])
        return outcome

    async def publish_outcome(self, notification: Notification) -> None:
        assert notification.last_outcome is not None
        await self.publish(notification.last_outcome)
        if not notification.outcome_published:
            # By `_id` alone (fast on FerretDB): a newer outcome of the same record can only
            # come from the next attempt's claim holder, which publishes its own.
            await self.store.mark_published(notification.notification_id)
