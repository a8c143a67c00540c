"""The firing loop and the shard ownership that feeds it.

An instance fires the timers of exactly the shards it owns: shard p is partition p of
`appeals.routed.v1`, owned while this instance's consumer-group assignment holds it
(`ShardOwnership` is that consumer's rebalance listener). Revocation waits for the batch in
flight, so by the time Kafka moves a partition to another instance this one has stopped
firing its timers. The loop reads the due index (`store.TimerStore.due`) of its shards a
short look-ahead ahead and holds at most one bounded batch of entries in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiokafka import ConsumerRebalanceListener, TopicPartition

from services.common.clock import Clock
from services.sla.store import TimerStore
from services.sla.timers import DueEntry

log = logging.getLogger("tyndau.sla.firing")

Fire = Callable[[list[DueEntry]], Awaitable[int]]


@dataclass(frozen=True)
class FiringSettings:
    # Timers due within this window are read in advance so the loop can wake exactly at
    # their moment; nothing further ahead is ever loaded.
    lookahead: timedelta = timedelta(seconds=2)
    # Longest sleep between two passes (new timers due sooner than the look-ahead, a moved
    # test clock) — bounds the firing lag when nothing wakes the loop.
    poll_interval: float = 0.5
    # Timers per pass: bounds memory and the size of one publish burst.
    batch_size: int = 500
    # How often tallies are flushed and the open-timer gauges re-read from the store.
    gauge_interval: float = 15.0


class FiringLoop:
    def __init__(
        self,
        store: TimerStore,
        fire: Fire,
        clock: Clock,
        settings: FiringSettings,
        on_gauge: Callable[[frozenset[int]], Awaitable[None]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.fire = fire
        self.clock = clock
        self.settings = settings
        self.on_gauge = on_gauge
        self.on_stop = on_stop
        self.owned: frozenset[int] = frozenset()
        # Held for each pass; revocation takes it, so it never overlaps a pass in flight.
        self._pass = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._gauge_task: asyncio.Task[None] | None = None
        self.fired_total = 0
        self._stopping = False

    # --- ownership ------------------------------------------------------------------------

    async def acquire(self, shards: Iterable[int]) -> None:
        async with self._pass:
            self.owned = self.owned | frozenset(shards)
        log.info("firing shards %s", sorted(self.owned))
        self.wake()

    async def release(self, shards: Iterable[int]) -> None:
        async with self._pass:
            self.owned = self.owned - frozenset(shards)
        log.info("firing shards %s", sorted(self.owned))

    # --- the loop -------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def wake_if_due_soon(self, moment: datetime) -> None:
        """Wake for a timer just armed whose moment falls inside the look-ahead window (a
        late-arriving appeal); otherwise the regular pass will find it in time."""
        if moment <= self.clock.now() + self.settings.lookahead:
            self.wake()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="sla-firing-loop")
            self._gauge_task = asyncio.create_task(self._gauges(), name="sla-gauges")

    async def stop(self) -> None:
        """Stop firing; returns once no pass is in flight (before the partitions move).

        The pass in flight is let finish rather than cancelled: cancelling it between
        publishing and recording would make the next owner publish those events again."""
        self._stopping = True
        self.wake()
        async with self._pass:
            self.owned = frozenset()
        if self._task is not None:
            await self._task
        if self._gauge_task is not None:
            self._gauge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gauge_task
        self._task = self._gauge_task = None
        if self.on_stop is not None:
            try:
                await self.on_stop()
            except Exception:  # noqa: BLE001 - shutting down; the loss is logged
                log.exception("could not flush on stop")

    async def run_once(self) -> tuple[int, datetime | None]:
        """One pass: fire the due-index entries of the owned shards whose moment has come,
        oldest first, at most a batch. Returns (events fired, the moment to come back: now
        if more may be waiting, else the next entry's moment within the look-ahead window,
        or None).

        Reads only entries that have come (each read is fired), then peeks at each shard's
        next entry — rather than reading the whole look-ahead window every pass and firing
        a part of it."""
        async with self._pass:
            if not self.owned:
                return 0, None
            now = self.clock.now()
            come, more = await self.store.due(self.owned, now, self.settings.batch_size)
            fired = await self.fire(come) if come else 0
            self.fired_total += fired
            if more:
                return fired, now  # a shard filled its share: come straight back
            return fired, await self.store.next_moment(
                self.owned, now, now + self.settings.lookahead
            )

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                _, next_moment = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive a broker or store hiccup
                log.exception("firing pass failed; retrying")
                next_moment = None
            delay = self.settings.poll_interval
            if next_moment is not None:
                until = (next_moment - self.clock.now()).total_seconds()
                delay = min(delay, max(0.0, until))
            if delay > 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()

    async def _gauges(self) -> None:
        while True:
            if self.on_gauge is not None:
                try:
                    await self.on_gauge(self.owned)
                except Exception:  # noqa: BLE001 - metrics must not stop the service
                    log.exception("could not recount open timers")
            await asyncio.sleep(self.settings.gauge_interval)


class ShardOwnership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rebalance listener of the `appeals.routed.v1` consumer: partitions → firing shards."""

    def __init__(self, topic: str, loop: FiringLoop) -> None:
        self.topic = topic
        self.loop = loop

    def _shards(self, partitions: Iterable[TopicPartition]) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == self.topic}

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.loop.release(self._shards(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.loop.acquire(self._shards(assigned))
