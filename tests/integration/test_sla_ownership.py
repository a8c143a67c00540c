"""Durability and single ownership of SLA timers against the real broker and store: a restart
fires every timer that fell due while the service was down, once; two instances in one
consumer group split the shards and never fire the same timer; a crash between publishing and
recording re-fires with the same event id."""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.applications import Starlette

from contracts import topics
from reference.calendar import WorkingCalendar
from services.common.clock import ManualClock
from services.sla.store import from_document
from tests.conftest import Infra
from tests.support.sla import (
    PARTITIONS,
    SlaHarness,
    of,
    owned_shards,
    routed_event,
    sla_harness,
)
from tests.support.system import TopicWatcher, eventually

ALMATY = ZoneInfo("Asia/Almaty")
CAL = WorkingCalendar.default()


def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}-sla-"


async def _true(value: object) -> object:
    return value


async def owns(app: Starlette, count: int) -> None:
    await eventually(lambda: _true(len(owned_shards(app)) == count), timeout=30)


async def arm(harness: SlaHarness, events: TopicWatcher, appeals: list[str], received: datetime):
    for appeal in appeals:
        await harness.send(topics.APPEALS_ROUTED, routed_event(appeal, received))
    # One started event per appeal (a redelivered decision republishes its own, same id).
    await events.wait_for_distinct(
        lambda e: e.get("appeal_id") in appeals and e.get("event_type") == "sla.started",
        count=len(appeals),
        key="appeal_id",
    )


def fired_ids(events: TopicWatcher, appeals: list[str]) -> Counter[str]:
    return Counter(
        e["event_id"]
        for e in events.events(
            lambda e: (
                e.get("appeal_id") in appeals
                and e.get("event_type") in ("sla.warning", "sla.breached")
            )
        )
    )


async def test_after_a_restart_every_timer_that_fell_due_while_down_fires_once(
    infra: Infra,
) -> None:
    clock = ManualClock(datetime(2026, 2, 2, 10, tzinfo=ALMATY))
    appeals = [str(uuid.uuid4()) for _ in range(12)]
    # Staggered receipts, so the deadlines fall on different days.
    receipts = {a: clock.now() - timedelta(days=i) for i, a in enumerate(appeals)}
    async with (
        sla_harness(infra, prefix()) as harness,
        TopicWatcher(infra.kafka_bootstrap_servers, harness.topic(topics.SLA_EVENTS)) as events,
    ):
        async with harness.instance(clock) as first:
            await owns(first, PARTITIONS)
            for appeal in appeals:
                await arm(harness, events, [appeal], receipts[appeal])
        # Down for two months: every deadline passes with nobody watching.
        clock.set(clock.now() + timedelta(days=60))

        async with harness.instance(clock) as second:
            await owns(second, PARTITIONS)
            breaches = await events.wait_for(
                lambda e: e.get("appeal_id") in appeals and e.get("event_type") == "sla.breached",
                count=len(appeals),
            )
            await events.drain(1.0)

    assert {b["appeal_id"] for b in breaches} == set(appeals)
    counts = fired_ids(events, appeals)
    assert len(counts) == len(appeals) and set(counts.values()) == {1}, counts
    # The deadlines had passed: warnings are moot and were not sent late.
    assert not events.events(
        lambda e: e.get("appeal_id") in appeals and e.get("event_type") == "sla.warning"
    )


async def test_two_instances_split_the_shards_and_never_fire_the_same_timer(infra: Infra) -> None:
    clock = ManualClock(datetime(2026, 2, 2, 10, tzinfo=ALMATY))
    received = clock.now()
    appeals = [str(uuid.uuid4()) for _ in range(24)]
    routed = routed_event(appeals[0], received)
    three_left = CAL.deadline(CAL.registration_time(received), 12).replace(hour=9)

    async with (
        sla_harness(infra, prefix()) as harness,
        TopicWatcher(infra.kafka_bootstrap_servers, harness.topic(topics.SLA_EVENTS)) as events,
    ):
        async with harness.instance(clock) as a:
            await owns(a, PARTITIONS)
            await arm(harness, events, appeals, received)

            async with harness.instance(clock) as b:
                await eventually(
                    lambda: _true(
                        owned_shards(a)
                        and owned_shards(b)
                        and not owned_shards(a) & owned_shards(b)
                        and len(owned_shards(a) | owned_shards(b)) == PARTITIONS
                    ),
                    timeout=30,
                )
                clock.set(three_left)
                a.state.firing.wake()
                b.state.firing.wake()
                await events.wait_for(
                    lambda e: (
                        e.get("appeal_id") in appeals and e.get("event_type") == "sla.warning"
                    ),
                    count=len(appeals),
                )
            # Read once b has stopped: its last pass is complete by then.
            fired_by_b = b.state.firing.fired_total
            # b left the group: a takes its shards back and fires the breaches alone.
            await owns(a, PARTITIONS)
            clock.set(routed.answer_due_at + timedelta(seconds=1))
            a.state.firing.wake()
            await events.wait_for(
                lambda e: e.get("appeal_id") in appeals and e.get("event_type") == "sla.breached",
                count=len(appeals),
            )
            await events.drain(1.0)
        fired_by_a = a.state.firing.fired_total

    counts = fired_ids(events, appeals)
    assert len(counts) == 2 * len(appeals), "one 3-day warning and one breach per appeal"
    assert set(counts.values()) == {1}, [k for k, n in counts.items() if n > 1]
    assert fired_by_a > 0 and fired_by_b > 0
    assert fired_by_a + fired_by_b == 2 * len(appeals)


@asynccontextmanager
async def one_armed_appeal(infra: Infra, clock: ManualClock):
    """One sla instance owning every shard, with one appeal's timers armed."""
    appeal = str(uuid.uuid4())
    async with (
        sla_harness(infra, prefix()) as harness,
        TopicWatcher(infra.kafka_bootstrap_servers, harness.topic(topics.SLA_EVENTS)) as events,
        harness.instance(clock) as app,
    ):
        await owns(app, PARTITIONS)
        await arm(harness, events, [appeal], clock.now())
        yield harness, events, app, appeal


def failing_once(call, message: str):
    """`call`, except that its first invocation raises (a crash at that point)."""
    crashes: list = []

    async def wrapper(*args, **kwargs):
        if not crashes:
            crashes.append(args)
            raise ConnectionError(message)
        return await call(*args, **kwargs)

    return wrapper, crashes


async def test_a_crash_between_publishing_and_recording_refires_with_the_same_event_id(
    infra: Infra,
) -> None:
    clock = ManualClock(datetime(2026, 2, 2, 10, tzinfo=ALMATY))
    async with one_armed_appeal(infra, clock) as (harness, events, app, appeal):
        routed = routed_event(appeal, clock.now())
        store = app.state.sla.store
        store.record_breaches, crashes = failing_once(
            store.record_breaches, "store went away after the event was published"
        )
        clock.set(routed.answer_due_at + timedelta(seconds=1))
        app.state.firing.wake()
        breaches = await events.wait_for(of(appeal, "sla.breached"), count=2)
        record = await eventually(
            lambda: harness.db["breaches"].find_one({"_id": f"{appeal}:answer|1"})
        )
        await events.drain(0.5)

    assert crashes
    assert len({b["event_id"] for b in breaches}) == 1
    # The forced crash made it fire again; a store hiccup on that pass may add another copy.
    assert len(events.events(of(appeal, "sla.breached"))) >= 2
    assert record["escalate_to"] == ["astana-energy:head", "akimat-astana"]


async def test_a_warning_whose_entry_was_not_dropped_refires_with_the_same_event_id(
    infra: Infra,
) -> None:
    clock = ManualClock(datetime(2026, 2, 2, 10, tzinfo=ALMATY))
    async with one_armed_appeal(infra, clock) as (harness, events, app, appeal):
        answer = from_document(await harness.db["timers"].find_one({"_id": f"{appeal}:answer"}))
        first_warning = min(w.at for w in answer.warnings)
        store = app.state.sla.store
        store.drop_due, crashes = failing_once(
            store.drop_due, "store went away after the warning was published"
        )
        assert first_warning in [e.at for e in await store.entries_of(answer)]
        clock.set(first_warning + timedelta(seconds=1))
        app.state.firing.wake()
        warnings = await events.wait_for(of(appeal, "sla.warning"), count=2)
        await eventually(lambda: _none_left(store, answer, first_warning))

    assert crashes
    assert len({w["event_id"] for w in warnings}) == 1
    assert {w["working_days_left"] for w in warnings} == {3}


async def _none_left(store, timer, moment: datetime) -> bool:
    return all(e.at != moment for e in await store.entries_of(timer))
