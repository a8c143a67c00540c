"""The delivery loop: what is due comes due without scanning the notifications.

Each pass (every `NOTIFY_SCHEDULER_INTERVAL_SECONDS`, at once after a full one, or when
woken) reads the work list (`notify_due`, store.py) up to now by `_id` range, loads the
records it names by `_id`, and
- advances records still due (deferred by quiet hours, retries, resends, records a crash
  left pending, attempts a crash interrupted after their claim timed out);
- publishes outcomes a crash left unpublished (stored more than `UNPUBLISHED_GRACE` ago);
- deletes entries whose record no longer needs them (gone, final, due later — whoever set
  that later moment wrote its entry first);
- releases parked events whose registration has arrived and drops expired ones.

An entry is a hint, the record stays the truth. Records stored before the work list existed
get their entries from `backfill_index`, one scan the first time a loop starts on the
database (a `notify_meta` marker says it ran; delete it after a rolling upgrade from a
version without the work list, once the last old instance is gone, and the next start runs
it again); keys of the version before get their appeal-prefixed copies the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from services.common.clock import Clock
from services.notify.delivery import Delivery
from services.notify.lifecycle import DUE_STATUSES, Notification
from services.notify.store import (
    BACKFILLED,
    DUE,
    UNPUBLISHED,
    NotifyStore,
    due_key,
    notification_of,
    unpublished_key,
)

log = logging.getLogger("tyndau.notify.loop")

# Records one pass advances at most; a full pass is followed by another at once, so a
# backlog (after an outage, a provider's downtime) drains at the store's pace, not 100 per
# interval.
PASS_BATCH = 100

LOOP_CONCURRENCY = 16
"""Records one pass of the delivery loop advances at once: their store operations share
commands and their provider calls overlap."""

FAILED_WORK_RETRY = timedelta(seconds=60)
"""When working on a due record failed unexpectedly (not a failed delivery: that is a retry
with backoff), the loop looks at it again after this long."""

UNPUBLISHED_GRACE = timedelta(seconds=10)
"""An outcome stored this long ago and still unpublished was left by a crash (before that,
its writer may just be about to publish it)."""


class DueWork:
    """One pass of the delivery loop's work, and the backfill before the first."""

    def __init__(
        self,
        store: NotifyStore,
        delivery: Delivery,
        clock: Clock,
        release_parked: Callable[[], Awaitable[int]],
    ) -> None:
        self.store = store
        self.delivery = delivery
        self.clock = clock
        self.release_parked = release_parked

    async def _entries(self, prefix: str, until, batch: int) -> dict[str, list[str]]:
        """Entry keys under `prefix` whose moment is at or before `until`, soonest first, at
        most `batch`, by notification id."""
        by_notification: dict[str, list[str]] = {}
        for key in await self.store.work(prefix, until, batch):
            by_notification.setdefault(notification_of(key), []).append(key)
        return by_notification

    async def deliver_due(self, batch: int = PASS_BATCH) -> int:
        """One pass: attempt due records, publish outcomes a crash left unpublished, release
        parked events. Returns how many records it advanced. An entry is deleted once its
        record was worked on, or found not to need it; it is kept when its record is busy
        in this process or working on it failed."""
        now = self.clock.now()
        entries = await self._entries(DUE, now, batch)
        records = await self.store.notifications(entries)
        done: list[str] = []
        due: list[tuple[Notification, list[str]]] = []
        for notification_id, keys in entries.items():
            record = records.get(notification_id)
            if record is not None and record.is_due(now):
                due.append((record, keys))
            else:
                done.extend(keys)  # stale: gone, final, or due later (its entry exists)

        limit = asyncio.Semaphore(LOOP_CONCURRENCY)

        async def work(record: Notification, keys: list[str]) -> bool:
            async with limit:
                if self.delivery.busy(record.notification_id):
                    return False  # its worker here goes on with it; look again next pass
                try:
                    await self.delivery.advance(record)
                except Exception:  # noqa: BLE001 - one record must not hold up the others
                    log.exception(
                        "notification %s: delivery failed; looked at again in %s",
                        record.notification_id,
                        FAILED_WORK_RETRY,
                    )
                    # Its entry moves out of the way: left in place, the oldest entries are
                    # read first on every pass, and a page of records that keep failing would
                    # stop delivery for everything behind them. (New entry first, old one
                    # deleted after, as everywhere.)
                    try:
                        retry_at = now + FAILED_WORK_RETRY
                        await self.store.add_work([due_key(retry_at, record.notification_id)])
                    except Exception:  # noqa: BLE001 - the old entry stays; next pass
                        return False
                    done.extend(keys)
                    return False
            done.extend(keys)
            return True

        advanced = sum(await asyncio.gather(*(work(r, keys) for r, keys in due)))

        stale = now - UNPUBLISHED_GRACE
        entries = await self._entries(UNPUBLISHED, stale, batch)
        records = await self.store.notifications(entries)
        for notification_id, keys in entries.items():
            record = records.get(notification_id)
            if record is not None and record.outcome_published is False:
                if self.delivery.busy(notification_id) or record.updated_at > stale:
                    continue  # its writer may be about to publish it; look again later
                try:
                    await self.delivery.publish_outcome(record)
                except Exception:  # noqa: BLE001 - retried next pass
                    log.exception("notification %s: outcome not published", notification_id)
                    continue
            done.extend(keys)

        await self.store.drop_work(done)
        await self.release_parked()
        return advanced

    async def backfill_index(self) -> int:
        """Entries for records that are due or hold an unpublished outcome, whatever wrote
        them (a version without the work list); once per database. Returns how many
        entries were added."""
        await self.store.backfill_keys()
        if await self.store.backfilled(BACKFILLED):
            return 0
        keys = []
        for record in await self.store.records_needing_work():
            if record.status in DUE_STATUSES and record.next_attempt_at:
                keys.append(due_key(record.next_attempt_at, record.notification_id))
            if record.outcome_published is False and record.updated_at:
                keys.append(unpublished_key(record.updated_at, record.notification_id))
        added = 0
        for start in range(0, len(keys), 1000):  # (a thousand waiting calls at a time)
            added += await self.store.add_work(keys[start : start + 1000])
        if added:
            log.info("delivery loop: %d entries added for records found without one", added)
        await self.store.mark_backfilled(BACKFILLED, self.clock.now(), added)
        return added


class DeliveryLoop:
    """Runs `DueWork.deliver_due` every `interval` seconds (or when woken) until stopped, after
    the one-time backfill. One per process; several processes may run it (attempt claims keep
    them apart)."""

    def __init__(self, work: DueWork, interval: float) -> None:
        self.work = work
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
                    await self.work.backfill_index()
                    backfilled = True
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - retried next pass; entries written since serve
                log.exception("delivery loop: backfill of its entries failed; trying again")
            try:
                if await self.work.deliver_due() >= PASS_BATCH:
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
