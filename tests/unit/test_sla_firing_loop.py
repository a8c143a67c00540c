"""The firing loop without a broker or a store: it fires only the shards it owns, oldest
first, nothing beyond "now", and giving up a shard waits for the pass in flight."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.clock import ManualClock
from services.sla.firing import FiringLoop, FiringSettings

NOW = datetime(2026, 3, 27, 4, tzinfo=UTC)


class FakeStore:
    """The due index as a list of entries."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.timers = entries

    async def due(
        self, shards: Any, until: datetime, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        mine = [e for e in self.timers if e["shard"] in shards and e["at"] <= until]
        return sorted(mine, key=lambda e: e["at"])[:limit], len(mine) > limit

    async def next_moment(self, shards: Any, after: datetime, until: datetime):
        mine = [e["at"] for e in self.timers if e["shard"] in shards and after < e["at"] <= until]
        return min(mine, default=None)


def timer(name: str, shard: int, minutes_from_now: float) -> dict[str, Any]:
    """A due-index entry (the loop reads only its moment and hands it to `fire`)."""
    return {"_id": name, "shard": shard, "at": NOW + timedelta(minutes=minutes_from_now)}


def loop_over(timers: list[dict[str, Any]], fired: list[str], **settings: Any) -> FiringLoop:
    async def fire(batch: list[dict[str, Any]]) -> int:
        fired.extend(t["_id"] for t in batch)
        return len(batch)

    return FiringLoop(
        FakeStore(timers),  # type: ignore[arg-type]
        fire,
        ManualClock(NOW),
        FiringSettings(lookahead=timedelta(seconds=30), **settings),
    )


async def test_only_owned_shards_fire_oldest_first_and_nothing_before_its_moment() -> None:
    fired: list[str] = []
    loop = loop_over(
        [
            timer("s0-late", 0, -1),
            timer("s1-oldest", 1, -60),
            timer("s0-oldest-but-one", 0, -30),
            timer("s2-not-mine", 2, -90),
            timer("s1-in-ten-seconds", 1, 10 / 60),
            timer("s0-tomorrow", 0, 24 * 60),
        ],
        fired,
    )
    await loop.acquire({0, 1})

    count, next_moment = await loop.run_once()

    assert fired == ["s1-oldest", "s0-oldest-but-one", "s0-late"]
    assert count == 3
    # Seen in the look-ahead window, so the loop wakes for it; tomorrow's is not even read.
    assert next_moment == NOW + timedelta(seconds=10)


async def test_a_full_batch_sends_the_loop_straight_back_for_more() -> None:
    fired: list[str] = []
    loop = loop_over([timer(f"t{i}", 0, -i) for i in range(5)], fired, batch_size=2)
    await loop.acquire({0})
    _, next_moment = await loop.run_once()
    assert fired == ["t4", "t3"] and next_moment == NOW


async def test_without_shards_nothing_fires() -> None:
    fired: list[str] = []
    loop = loop_over([timer("t", 0, -1)], fired)
    await loop.acquire({0})
    await loop.release({0})
    assert await loop.run_once() == (0, None)
    assert fired == []


async def test_giving_up_a_shard_waits_for_the_pass_in_flight() -> None:
    publishing = asyncio.Event()
    may_finish = asyncio.Event()

    async def slow_fire(batch: list[dict[str, Any]]) -> int:
        publishing.set()
        await may_finish.wait()
        return len(batch)

    loop = FiringLoop(
        FakeStore([timer("t", 0, -1)]),  # type: ignore[arg-type]
        slow_fire,
        ManualClock(NOW),
        FiringSettings(),
    )
    await loop.acquire({0})
    in_flight = asyncio.create_task(loop.run_once())
    await publishing.wait()

    revoke = asyncio.create_task(loop.release({0}))
    await asyncio.sleep(0.05)
    assert not revoke.done(), "the partition must not move while its timers are being fired"

    may_finish.set()
    await asyncio.wait_for(revoke, 1)
    assert await in_flight == (1, None)
    assert loop.owned == frozenset()


async def test_the_running_loop_fires_when_the_clock_moves_and_stops_cleanly() -> None:
    fired: list[str] = []
    clock = ManualClock(NOW)
    store = FakeStore([timer("t", 3, 60)])

    async def fire(batch: list[dict[str, Any]]) -> int:
        fired.extend(t["_id"] for t in batch)
        store.timers.clear()
        return len(batch)

    loop = FiringLoop(store, fire, clock, FiringSettings(poll_interval=0.02))  # type: ignore[arg-type]
    loop.start()
    await loop.acquire({3})
    await asyncio.sleep(0.1)
    assert fired == []
    clock.advance(timedelta(hours=1))
    loop.wake()
    for _ in range(50):
        if fired:
            break
        await asyncio.sleep(0.02)
    await asyncio.wait_for(loop.stop(), 1)
    assert fired == ["t"] and loop.fired_total == 1
