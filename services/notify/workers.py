"""Who holds an attempt: each notify process is a *worker* with an incarnation id (new at
every start) and, when configured, its instance id (TYNDAU_INSTANCE_ID, stable across
restarts). An attempt's claim records both, and every worker beats a heartbeat into the
store (`notify_workers`) while it runs.

A claim found in the state `started` (its attempt made, no result recorded) was abandoned —
its worker died during the provider call, or gave up on it — when:
- it is this process's own: a process steps a notification only while it owns it
  (`Delivery.owning`, one step at a time), so its own claim found by a later step was left by
  an attempt that failed before its result could be recorded (e.g. the store went away after
  the provider took the message; the redelivered cause finds the claim); or
- it was made by an earlier life of this very instance (same instance id, another
  incarnation: only one process runs under an instance id at a time); or
- its worker has not beaten for `liveness` (3 heartbeats, at least 15 s); or
- it is older than the claim timeout (NOTIFY_CLAIM_TIMEOUT_SECONDS, the last resort, and
  the only rule for claims made before owners were recorded).
Otherwise its worker is alive and on it; look again when one of those would hold.

An abandoned attempt is counted and the next one made at once, with the same idempotency key
(the notification id), so a provider that received the first one can drop the second.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.common.clock import Clock

log = logging.getLogger("tyndau.notify.workers")

HEARTBEAT_SECONDS = 5.0
MISSED_BEATS = 3


@dataclass(frozen=True)
class Worker:
    incarnation: str
    instance: str | None = None

    @classmethod
    def start(cls, instance: str | None) -> Worker:
        return cls(uuid.uuid4().hex[:16], instance)


@dataclass(frozen=True)
class ClaimHolder:
    """What a claim says about who made it (None for claims made before owners were kept)."""

    started_at: datetime
    incarnation: str | None
    instance: str | None


def liveness(heartbeat_seconds: float = HEARTBEAT_SECONDS) -> timedelta:
    return timedelta(seconds=max(15.0, MISSED_BEATS * heartbeat_seconds))


def abandoned_or_recheck(
    claim: ClaimHolder,
    me: Worker,
    last_beat: datetime | None,
    now: datetime,
    *,
    claim_timeout: timedelta,
    alive_for: timedelta,
) -> datetime | None:
    """None if the claim's worker is gone (take the attempt over now); otherwise when to
    look again."""
    timed_out_at = claim.started_at + claim_timeout
    if now >= timed_out_at:
        return None
    if claim.incarnation == me.incarnation:
        return None  # ours, left by a failed attempt: we are not on it (module docstring)
    if claim.incarnation is None:
        return timed_out_at  # made before owners were kept: only its age tells
    if me.instance is not None and claim.instance == me.instance:
        return None  # an earlier life of this instance: it died mid-attempt
    if last_beat is None or now >= last_beat + alive_for:
        return None
    return min(timed_out_at, last_beat + alive_for)


class Heartbeats(Protocol):
    async def beat(self, worker: Worker, at: datetime) -> None: ...

    async def last_beat(self, incarnation: str) -> datetime | None: ...


class HeartbeatLoop:
    """Beats for this worker every `interval` seconds while the service runs (the first beat
    is written before the consumer starts: see app.py)."""

    def __init__(
        self, store: Heartbeats, worker: Worker, clock: Clock, interval: float = HEARTBEAT_SECONDS
    ) -> None:
        self.store, self.worker, self.clock, self.interval = store, worker, clock, interval
        self._task: asyncio.Task | None = None

    async def beat(self) -> None:
        await self.store.beat(self.worker, self.clock.now())

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except Exception as exc:  # noqa: BLE001 - the store may be away; beat again later
                log.warning("heartbeat not written: %s", exc)
