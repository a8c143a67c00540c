"""Arming timers for many appeals at once against the real store: the store operations of
concurrently armed appeals share commands (StoreBatcher), every timer gets exactly its due
entries, a redelivered batch duplicates nothing (and brings back no entry a stop dropped),
and parked actions are found through their marker, including an action parked while its
routing decision was being armed and one parked before markers existed."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient, monitoring

from contracts import AppealAnswered, SlaTimerEvent, topics
from reference.calendar import WorkingCalendar
from services.common.clock import ManualClock
from services.sla.store import MARKERS_COMPLETE, PARKED_APPEALS, MongoTimerStore, from_document
from tests.conftest import Infra
from tests.support.scenarios.sla import Sla as ServiceOnAStore
from tests.support.sla import (
    SlaHarness,
    action,
    of,
    owned_shards,
    routed_event,
    sla_harness,
)
from tests.support.system import TopicWatcher, eventually

ALMATY = ZoneInfo("Asia/Almaty")
CAL = WorkingCalendar.default()
NOW = datetime(2026, 1, 12, 10, tzinfo=ALMATY)


class CommandCounter(monitoring.CommandListener):
    """Counts the commands sent, by (command name, collection)."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        if isinstance(collection, str):
            self.sent[(event.command_name, collection)] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Sla(ServiceOnAStore):
    """The scenarios' TimerService on its own database, publishing into a list."""

    def __init__(self, db: Any) -> None:
        super().__init__(MongoTimerStore(db))
        self.db = db

    def started_count(self, kind: str) -> float:
        return self.metrics.started.labels(kind)._value.get()

    async def stored_due_ids(self) -> list[str]:
        return sorted(d["_id"] for d in await self.db["due"].find({}, {"_id": 1}).to_list(None))


@pytest.fixture
async def counted() -> CommandCounter:
    return CommandCounter()


@pytest.fixture
async def sla(infra: Infra, run_prefix: str, unique_id: str, counted) -> AsyncIterator[Sla]:
    client: AsyncMongoClient = AsyncMongoClient(
        infra.mongodb_url, tz_aware=True, event_listeners=[counted]
    )
    database = client[f"{run_prefix}sla-arming-{unique_id}"]
    try:
        yield Sla(database)
    finally:
        await client.drop_database(database.name)
        await client.close()


def decisions(n: int) -> list:
    """n first routing decisions; every third carries a forwarding term as well."""
    forward_due = CAL.deadline(CAL.registration_time(NOW), 3)
    return [
        routed_event(str(uuid.uuid4()), NOW, forward_due_at=forward_due if i % 3 == 0 else None)
        for i in range(n)
    ]


def expected_timers(routed: list) -> int:
    return len(routed) + sum(1 for r in routed if r.forward_due_at is not None)


async def arm_at_once(sla: Sla, routed: list) -> list[list[SlaTimerEvent]]:
    """As the keyed batch subscriber does: different appeals handled concurrently."""
    return await asyncio.gather(
        *(sla.service.start_timers(r, shard=i % 6) for i, r in enumerate(routed))
    )


async def test_appeals_armed_at_once_share_commands_and_each_timer_gets_exactly_its_entries(
    sla: Sla, counted: CommandCounter
) -> None:
    routed = decisions(60)
    results = await arm_at_once(sla, routed)

    timers = await sla.db["timers"].find({}).to_list(None)
    assert len(timers) == expected_timers(routed)
    by_id = {t["_id"]: t for t in timers}
    for i, (decision, started) in enumerate(zip(routed, results, strict=True)):
        answer = by_id[f"{decision.appeal_id}:answer"]
        assert answer["shard"] == i % 6 and answer["due_at"] == decision.answer_due_at
        kinds = [e.deadline_kind.value for e in started]
        assert kinds == (["answer", "forwarding"] if decision.forward_due_at else ["answer"])
    # Every timer has its first moment's entry, and there is nothing else in the index.
    wanted = sorted(from_document(t).first_due_entry().key for t in timers)
    assert await sla.stored_due_ids() == wanted
    assert len(sla.published) == len(timers)
    assert sla.started_count("answer") == len(routed)

    # Coalesced: a handful of commands per collection, not one (or more) per appeal.
    assert counted.sent[("insert", "timers")] <= 5, counted.sent
    assert counted.sent[("insert", "due")] <= 5, counted.sent
    assert counted.sent[("find", "timers")] <= 5, counted.sent
    # No parked actions anywhere: no appeal read the parked-actions range.
    assert counted.sent[("find", "pending_actions")] <= 1, counted.sent  # the marker backfill


async def test_a_redelivered_batch_duplicates_nothing_and_brings_back_no_dropped_entry(
    sla: Sla,
) -> None:
    routed = decisions(30)
    first = await arm_at_once(sla, routed)
    entries_before = await sla.stored_due_ids()
    timers_before = await sla.db["timers"].find({}).to_list(None)

    # One appeal is answered meanwhile: its timers' entries are dropped.
    answered = routed[0]
    await sla.service.apply_action(
        action(AppealAnswered, answered.appeal_id, NOW + timedelta(hours=1))
    )
    dropped = [e for e in entries_before if answered.appeal_id in e]
    assert dropped and not set(dropped) & set(await sla.stored_due_ids())
    published_before = len(sla.published)

    again = await arm_at_once(sla, routed)  # the whole batch comes again

    after = {t["_id"]: t for t in await sla.db["timers"].find({}).to_list(None)}
    assert set(after) == {t["_id"] for t in timers_before}
    # Untouched: no timer written again (the stopped one changed only by its stop).
    assert [after[t["_id"]] for t in timers_before if answered.appeal_id not in t["_id"]] == [
        t for t in timers_before if answered.appeal_id not in t["_id"]
    ]
    assert await sla.stored_due_ids() == sorted(set(entries_before) - set(dropped))
    # The same started events (same ids) are told again; nothing counted twice.
    assert [[e.event_id for e in r] for r in again] == [[e.event_id for e in r] for r in first]
    assert len(sla.published) == published_before + sum(len(r) for r in again)
    assert sla.started_count("answer") == len(routed)
    answer = await sla.store.get(f"{answered.appeal_id}:answer")
    assert answer.state == "stopped"


async def test_parked_actions_are_read_only_for_appeals_with_a_marker_and_then_applied(
    sla: Sla, counted: CommandCounter
) -> None:
    parked, plain = decisions(2)
    answered = action(AppealAnswered, parked.appeal_id, NOW + timedelta(hours=2))
    assert await sla.service.apply_action(answered) == []  # no timer yet: parked
    assert await sla.db[PARKED_APPEALS].find_one({"_id": parked.appeal_id})

    reads: list[str] = []
    real_parked = sla.store.parked

    async def spying(appeal_id: str) -> list:
        reads.append(appeal_id)
        return await real_parked(appeal_id)

    sla.store.parked = spying
    await arm_at_once(sla, [parked, plain])

    assert reads == [parked.appeal_id]
    stops = [e for e in sla.published if e.event_type == "sla.stopped"]
    # `parked` carries a forwarding term: the answer stops both of its timers.
    assert sorted((e.appeal_id, e.deadline_kind.value) for e in stops) == [
        (parked.appeal_id, "answer"),
        (parked.appeal_id, "forwarding"),
    ]
    assert {e.stopped_by_event_id for e in stops} == {answered.event_id}
    assert (await sla.store.get(f"{parked.appeal_id}:answer")).state == "stopped"
    assert await sla.db["pending_actions"].count_documents({}) == 0


async def test_an_action_parked_while_its_routing_decision_was_armed_still_applies(
    sla: Sla,
) -> None:
    """The interleaving: the action finds no timer; the routing decision is armed entirely
    (and finds nothing parked); only then is the action parked. It must not stay parked."""
    [routed] = decisions(1)
    answered = action(AppealAnswered, routed.appeal_id, NOW + timedelta(hours=2))
    real_park = sla.store.park
    armed: list[list[SlaTimerEvent]] = []

    async def park_after_arming(*args: Any) -> None:
        armed.append(await sla.service.start_timers(routed, shard=0))
        await real_park(*args)

    sla.store.park = park_after_arming
    events = await sla.service.apply_action(answered)

    assert armed and [e.deadline_kind.value for e in armed[0]] == ["answer", "forwarding"]
    assert sorted((e.event_type, e.deadline_kind.value) for e in events) == [
        ("sla.stopped", "answer"),
        ("sla.stopped", "forwarding"),
    ]
    assert (await sla.store.get(f"{routed.appeal_id}:answer")).state == "stopped"
    assert await sla.stored_due_ids() == []
    # Answered: the parked copy is gone too.
    assert await sla.db["pending_actions"].count_documents({}) == 0


async def test_an_action_parked_before_markers_existed_is_found_after_the_backfill(
    sla: Sla,
) -> None:
    [routed] = decisions(1)
    answered = action(AppealAnswered, routed.appeal_id, NOW + timedelta(hours=2))
    # As the previous version parked it: no marker, no "markers complete" document.
    await sla.db["pending_actions"].insert_one(
        {
            "_id": f"{routed.appeal_id}:{answered.event_id}",
            "appeal_id": routed.appeal_id,
            "action": answered.model_dump_json(),
            "at": answered.occurred_at,
        }
    )

    await sla.service.start_timers(routed, shard=0)

    assert (await sla.store.get(f"{routed.appeal_id}:answer")).state == "stopped"
    assert await sla.db[PARKED_APPEALS].find_one({"_id": routed.appeal_id})
    assert await sla.db[PARKED_APPEALS].find_one({"_id": MARKERS_COMPLETE})
    # A new store (another process) trusts the markers without reading them all again.
    assert await MongoTimerStore(sla.db).may_have_parked(str(uuid.uuid4())) is False


async def test_a_batch_of_routing_decisions_and_their_duplicates_arms_each_timer_once_on_kafka(
    infra: Infra,
) -> None:
    clock = ManualClock(NOW)
    routed = decisions(90)
    async with (
        sla_harness(infra, f"t{uuid.uuid4().hex[:8]}-sla-") as harness,
        TopicWatcher(infra.kafka_bootstrap_servers, harness.topic(topics.SLA_EVENTS)) as events,
    ):
        for decision in routed:  # all in before the service starts: big batches
            await harness.send(topics.APPEALS_ROUTED, decision)
        for decision in routed[::2]:  # redelivered (same key: handled after the first)
            await harness.send(topics.APPEALS_ROUTED, decision)
        async with harness.instance(clock) as app:

            def is_started(event: dict) -> bool:
                return event.get("event_type") == "sla.started"

            # Every copy the redeliveries call for, and every timer's own event. (At least
            # once: a handler retry or a rebalance may legitimately republish one more copy.)
            await events.wait_for(
                is_started, count=expected_timers(routed) + expected_timers(routed[::2])
            )
            await events.wait_for_distinct(is_started, count=expected_timers(routed))
            assert owned_shards(app)
        await _check_armed(harness, routed)

    started = events.events(is_started)
    ids = Counter(e["event_id"] for e in started)
    assert len(ids) == expected_timers(routed)  # one event id per timer, however often told
    assert all(ids[e["event_id"]] >= 2 for e in started if _is_in(e, routed[::2]))
    for decision in routed[1::2]:
        told = {e["event_id"] for e in events.events(of(decision.appeal_id, "sla.started"))}
        assert len(told) == (2 if decision.forward_due_at else 1)


def _is_in(event: dict, routed: list) -> bool:
    return event["appeal_id"] in {r.appeal_id for r in routed}


async def _check_armed(harness: SlaHarness, routed: list) -> None:
    timers = await eventually(lambda: _all_timers(harness, expected_timers(routed)))
    shards = {t["appeal_id"]: t["shard"] for t in timers}
    assert all(t["shard"] == shards[t["appeal_id"]] for t in timers)
    wanted = sorted(from_document(t).first_due_entry().key for t in timers)
    stored = await harness.db["due"].find({}, {"_id": 1}).to_list(None)
    assert sorted(d["_id"] for d in stored) == wanted


async def _all_timers(harness: SlaHarness, count: int) -> list[dict] | None:
    timers = await harness.db["timers"].find({}).to_list(None)
    return timers if len(timers) == count else None
