"""Keyed batch consumption against the real broker (and the coalescing of store operations
against the real store): a failing message holds the commit back and its batch is
redelivered until it succeeds, one appeal's messages stay in order across the redelivery,
a bad message goes to the dead-letter topic alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from faststream.kafka.message import KafkaMessage
from pymongo import AsyncMongoClient

from contracts import topics
from services.common.batching import StoreBatcher, keyed_batch_subscriber
from services.common.messaging import Undecodable
from services.common.runtime import ServiceRuntime, create_runtime
from services.common.settings import settings_for
from tests.support import kafka
from tests.support.kafka import prepare_broker
from tests.support.system import TopicWatcher, eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

INPUT = "batching.input.v1"
PARTITIONS = 3


@dataclass
class Recorder:
    """What the handler saw, and a switch that makes one message fail until it is off."""

    handled: list[tuple[str, int]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)

    async def handle(self, message: KafkaMessage) -> None:
        body = message.body.decode()
        if body == "not json":
            raise Undecodable("not the format")
        event = json.loads(body)
        self.attempts[event["id"]] = self.attempts.get(event["id"], 0) + 1
        if event["id"] in self.failing:
            raise RuntimeError(f"store down for {event['id']}")
        self.handled.append((event["appeal"], event["n"]))


@pytest.fixture
async def running(
    infra: Infra, run_prefix: str, unique_id: str
) -> AsyncIterator[tuple[ServiceRuntime, Recorder, AIOKafkaProducer]]:
    prefix = f"{run_prefix}{unique_id}-"
    bootstrap = infra.kafka_bootstrap_servers
    await prepare_broker(bootstrap, {INPUT: PARTITIONS, topics.APPEALS_DLQ: 1}, prefix)
    settings = settings_for(
        "batchtest",
        kafka_username="admin",  # a test-only service: no principal of its own in the plan
        kafka_bootstrap_servers=bootstrap,
        mongodb_url=infra.mongodb_url,
        topic_prefix=prefix,
        database_prefix=prefix,
    )
    runtime = create_runtime(settings)
    recorder = Recorder()
    keyed_batch_subscriber(
        runtime,
        runtime.topic(INPUT),
        group_id=settings.consumer_group,
        handle=recorder.handle,
        title="batchtest.input",
        description="Test input.",
        attempts=1,  # no retry in place: every failure is a redelivery
    )
    producer = kafka.producer(bootstrap, acks="all")
    await producer.start()
    await runtime.broker.start()
    try:
        yield runtime, recorder, producer
    finally:
        await runtime.broker.stop()
        await producer.stop()
        await runtime.mongo.close()  # never used: no database to drop
        admin = kafka.admin(bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([prefix + INPUT, prefix + topics.APPEALS_DLQ])
        finally:
            await admin.close()


async def committed(runtime: ServiceRuntime, partition: int) -> int:
    admin = kafka.admin(runtime.settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(runtime.settings.consumer_group)
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(runtime.topic(INPUT), partition))
    return found.offset if found is not None else -1


async def send(producer: AIOKafkaProducer, runtime: ServiceRuntime, appeal: str, n: int) -> int:
    """Publish message n of `appeal` to the appeal's partition; its offset."""
    partition = int(appeal.rsplit("-", 1)[1]) % PARTITIONS
    value = json.dumps({"id": f"{appeal}#{n}", "appeal": appeal, "n": n}).encode()
    sent = await producer.send_and_wait(
        runtime.topic(INPUT), value, key=appeal.encode(), partition=partition
    )
    return sent.offset


async def test_a_failing_message_is_redelivered_and_nothing_past_it_is_committed(
    running: tuple[ServiceRuntime, Recorder, AIOKafkaProducer],
) -> None:
    runtime, recorder, producer = running
    recorder.failing.add("appeal-0#2")
    offsets: dict[tuple[str, int], int] = {}
    for n in range(5):
        for appeal in ("appeal-0", "appeal-1", "appeal-2"):
            offsets[(appeal, n)] = await send(producer, runtime, appeal, n)

    # Redelivered again and again while it fails: its batch is never committed past it.
    await eventually(_true_when(lambda: recorder.attempts.get("appeal-0#2", 0) >= 3), 60)
    assert await committed(runtime, 0) <= offsets[("appeal-0", 2)]
    assert ("appeal-0", 3) not in recorder.handled  # its appeal's next never ran

    recorder.failing.clear()  # the store is back
    everything = {(appeal, n) for appeal, n in offsets}
    await eventually(_true_when(lambda: everything <= set(recorder.handled)), 60)
    for appeal in ("appeal-0", "appeal-1", "appeal-2"):
        first_time = list(dict.fromkeys(n for a, n in recorder.handled if a == appeal))
        assert first_time == [0, 1, 2, 3, 4]  # redeliveries repeat, never reorder
    last = offsets[("appeal-0", 4)]
    await eventually(lambda: _committed_past(runtime, 0, last), timeout=30)


async def test_an_undecodable_message_goes_to_the_dead_letter_topic_alone(
    running: tuple[ServiceRuntime, Recorder, AIOKafkaProducer],
) -> None:
    runtime, recorder, producer = running
    await send(producer, runtime, "appeal-1", 0)
    bad = await producer.send_and_wait(
        runtime.topic(INPUT), b"not json", key=b"appeal-1", partition=1
    )
    await send(producer, runtime, "appeal-1", 1)

    async with TopicWatcher(
        runtime.settings.kafka_bootstrap_servers, runtime.topic(topics.APPEALS_DLQ)
    ) as dlq:
        letters = await dlq.wait_for(lambda e: e.get("offset") == bad.offset, timeout=60)
    assert letters[0]["error"] == "not the format"
    both = {("appeal-1", 0), ("appeal-1", 1)}
    await eventually(_true_when(lambda: both <= set(recorder.handled)), 30)


async def test_coalesced_store_operations_behave_like_single_ones_on_the_real_store(
    infra: Infra, run_prefix: str, unique_id: str
) -> None:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    things = client[f"{run_prefix}batching-{unique_id}"]["things"]
    store = StoreBatcher()
    try:
        await things.insert_one({"_id": "old", "appeal_id": "x"})
        documents = [{"_id": f"d{n % 40}", "appeal_id": "y"} for n in range(50)]
        created = await asyncio.gather(
            *(store.insert_once(things, document) for document in documents),
            store.insert_once(things, {"_id": "old"}),
        )
        assert created[:40] == [True] * 40 and created[40:] == [False] * 11
        found = await asyncio.gather(*(store.find_by_id(things, f"d{n}") for n in range(45)))
        assert [doc["_id"] if doc else None for doc in found] == [
            *(f"d{n}" for n in range(40)),
            *([None] * 5),
        ]
        by_appeal = await asyncio.gather(
            store.find_where(things, "appeal_id", "x"), store.find_where(things, "appeal_id", "y")
        )
        assert [len(docs) for docs in by_appeal] == [1, 40]
        matched = await asyncio.gather(
            store.update_by_id(things, "d1", {"$addToSet": {"seen": 1}}),
            store.update_by_id(things, "nowhere", {"$set": {"n": 1}}),
            store.update_by_id(things, "fresh", {"$addToSet": {"seen": 1}}, upsert=True),
            store.update_by_id(things, "d1", {"$addToSet": {"seen": 2}}),
            store.update_by_id(things, "d1", {"$addToSet": {"seen": 1}}),
        )
        assert matched == [True, False, True, True, True]
        assert (await things.find_one({"_id": "d1"}))["seen"] == [1, 2]
        assert (await things.find_one({"_id": "fresh"}))["seen"] == [1]
        assert await things.find_one({"_id": "nowhere"}) is None
    finally:
        await client.drop_database(things.database.name)
        await client.close()


def _true_when(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


async def _committed_past(runtime: ServiceRuntime, partition: int, offset: int) -> bool:
    return await committed(runtime, partition) > offset
