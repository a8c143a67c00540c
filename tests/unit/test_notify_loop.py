"""The delivery loop's own schedule (services/notify/delivery_loop.py, DeliveryLoop): the entries
of records stored without one are backfilled before its first pass, once, and a failed
backfill is tried again without holding up delivery."""

from __future__ import annotations

import asyncio

from services.notify.delivery_loop import PASS_BATCH, DeliveryLoop


class StubService:
    def __init__(self, backfill_failures: int, passes: int) -> None:
        self.calls: list[str] = []
        self.backfill_failures = backfill_failures
        self.passes = passes
        self.done = asyncio.Event()

    async def backfill_index(self) -> int:
        self.calls.append("backfill")
        if self.backfill_failures:
            self.backfill_failures -= 1
            raise RuntimeError("store not answering")
        return 0

    async def deliver_due(self) -> int:
        self.calls.append("deliver")
        if self.calls.count("deliver") >= self.passes:
            self.done.set()
        return 0


async def run(service: StubService) -> None:
    loop = DeliveryLoop(service, interval=0.001)  # type: ignore[arg-type]
    loop.start()
    try:
        await asyncio.wait_for(service.done.wait(), timeout=5)
    finally:
        await loop.stop()


async def test_the_loop_backfills_once_before_its_first_pass() -> None:
    service = StubService(backfill_failures=0, passes=4)
    await run(service)
    assert service.calls[:2] == ["backfill", "deliver"]
    assert service.calls.count("backfill") == 1


async def test_a_failed_backfill_is_tried_again_and_delivery_goes_on_meanwhile() -> None:
    service = StubService(backfill_failures=2, passes=5)
    await run(service)
    assert service.calls[:6] == ["backfill", "deliver"] * 3
    assert service.calls.count("backfill") == 3


class BacklogService(StubService):
    """Each pass advances a full batch until the backlog is gone."""

    def __init__(self, full_passes: int) -> None:
        super().__init__(backfill_failures=0, passes=full_passes + 1)
        self.full_passes = full_passes

    async def deliver_due(self) -> int:
        await super().deliver_due()
        return PASS_BATCH if self.calls.count("deliver") <= self.full_passes else 3


async def test_a_full_pass_is_followed_by_the_next_at_once() -> None:
    service = BacklogService(full_passes=5)
    loop = DeliveryLoop(service, interval=3600)  # type: ignore[arg-type]
    loop.start()
    try:
        # Six passes within seconds although the interval is an hour: only the last, which
        # found less than a full batch, waits.
        await asyncio.wait_for(service.done.wait(), timeout=5)
    finally:
        await loop.stop()
    assert service.calls.count("deliver") == 6
