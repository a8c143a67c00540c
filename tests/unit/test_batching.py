"""Keyed batch consumption (services.common.batching) without a broker: one appeal's messages
in order, different appeals at once within a bound, a bad message dead-lettered alone, a
failing message failing the whole batch (so FastStream redelivers it) — and the store
operations of concurrent handlers sharing one command."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.message import KafkaAckableMessage, KafkaMessage
from prometheus_client import CollectorRegistry
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError
from pymongo.results import BulkWriteResult

from services.common.batching import (
    BatchFailed,
    KeyedLock,
    StoreBatcher,
    handle_keyed,
    keyed_batch_subscriber,
    lenient_batch_parser,
    record_message,
)
from services.common.logs import _message_context
from services.common.messaging import Undecodable
from services.common.runtime import ServiceRuntime
from services.common.settings import settings_for


def record(
    offset: int,
    key: str | None,
    value: bytes = b"{}",
    partition: int = 0,
    topic: str = "in",
    headers: tuple = (),
) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key.encode() if key is not None else None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=headers,
    )


def batch(*records: ConsumerRecord) -> list[KafkaMessage]:
    return [record_message(r) for r in records]


def key_and_offset(message: KafkaMessage) -> tuple[str | None, int]:
    raw = message.raw_message
    return (raw.key.decode() if raw.key else None, raw.offset)


async def test_messages_with_the_same_key_are_handled_one_after_the_other_in_offset_order() -> None:
    handled: list[tuple[str | None, int]] = []
    running: set[str | None] = set()

    async def handle(message: KafkaMessage) -> None:
        key, offset = key_and_offset(message)
        assert key not in running, "two messages of one key at once"
        running.add(key)
        await asyncio.sleep(0.001 * (offset % 3))  # finish out of order if allowed to
        running.discard(key)
        handled.append((key, offset))

    records = [record(n, key=f"appeal-{n % 3}") for n in range(30)]
    await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(8))

    assert len(handled) == 30
    for key in ("appeal-0", "appeal-1", "appeal-2"):
        offsets = [offset for k, offset in handled if k == key]
        assert offsets == sorted(offsets)


async def test_messages_without_a_key_keep_the_order_of_their_partition() -> None:
    handled: list[tuple[int, int]] = []

    async def handle(message: KafkaMessage) -> None:
        await asyncio.sleep(0.001 * (3 - message.raw_message.offset % 3))
        handled.append((message.raw_message.partition, message.raw_message.offset))

    records = [record(n, key=None, partition=n % 2) for n in range(12)]
    await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(8))

    for partition in (0, 1):
        offsets = [offset for p, offset in handled if p == partition]
        assert offsets == sorted(offsets) and len(offsets) == 6


async def test_different_keys_are_handled_at_the_same_time() -> None:
    all_three_in_flight = asyncio.Barrier(3)

    async def handle(message: KafkaMessage) -> None:
        # Completes only if the three appeals' handlers run concurrently.
        await asyncio.wait_for(all_three_in_flight.wait(), timeout=2)

    records = [record(n, key=f"appeal-{n}") for n in range(3)]
    await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(8))


async def test_no_more_handlers_run_at_once_than_the_limit_allows() -> None:
    in_flight = peak = 0

    async def handle(message: KafkaMessage) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1

    records = [record(n, key=f"appeal-{n}") for n in range(50)]
    await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(4))
    assert peak == 4


async def test_an_undecodable_message_is_dead_lettered_alone_and_the_batch_goes_on() -> None:
    handled: list[int] = []
    dead: list[tuple[int, str]] = []

    async def handle(message: KafkaMessage) -> None:
        if message.body == b"not json":
            raise Undecodable("not the format")
        handled.append(message.raw_message.offset)

    async def to_dead_letters(message: KafkaMessage, error: Exception) -> None:
        dead.append((message.raw_message.offset, str(error)))

    records = [record(n, key=f"appeal-{n % 2}") for n in range(6)]
    records[2] = record(2, key="appeal-0", value=b"not json")
    await handle_keyed(
        batch(*records), handle, limit=asyncio.Semaphore(4), dead_letter_to=to_dead_letters
    )

    assert dead == [(2, "not the format")]
    assert sorted(handled) == [0, 1, 3, 4, 5]  # the same appeal's later message too


async def test_a_passing_failure_is_retried_in_place_keeping_the_order() -> None:
    handled: list[int] = []
    failed_once: set[int] = set()

    async def handle(message: KafkaMessage) -> None:
        offset = message.raw_message.offset
        if offset == 1 and offset not in failed_once:
            failed_once.add(offset)
            raise ConnectionError("database is locked")
        handled.append(offset)

    records = [record(n, key="appeal-1") for n in range(4)]
    await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(4), retry_delay=0)
    assert handled == [0, 1, 2, 3]


async def test_a_lasting_failure_fails_the_batch_and_starts_nothing_after_it() -> None:
    handled: list[tuple[str | None, int]] = []
    calls_of_the_bad_one = 0

    async def handle(message: KafkaMessage) -> None:
        nonlocal calls_of_the_bad_one
        key, offset = key_and_offset(message)
        if offset == 2:
            calls_of_the_bad_one += 1
            raise RuntimeError("store down")
        await asyncio.sleep(0.01 if key == "slow" else 0)
        handled.append((key, offset))

    records = [
        record(0, key="bad"),
        record(1, key="slow"),
        record(2, key="bad"),  # fails every attempt
        record(3, key="bad"),  # after it in its key: never started
        record(4, key="slow"),  # queued behind a call in flight: not started either
    ]
    with pytest.raises(BatchFailed) as failure:
        await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(4), retry_delay=0)

    assert failure.value.record.offset == 2
    assert isinstance(failure.value.error, RuntimeError)
    assert calls_of_the_bad_one == 3  # the default attempts
    assert ("bad", 3) not in handled and ("slow", 4) not in handled
    assert ("slow", 1) in handled  # in flight when it failed: allowed to finish


async def test_a_whole_key_handler_gets_each_keys_messages_in_one_call_in_order() -> None:
    calls: list[list[tuple[str | None, int]]] = []
    tries = 0

    async def unused(message: KafkaMessage) -> None:
        raise AssertionError("the per-message handler is not called")

    async def whole_key(messages: list[KafkaMessage]) -> None:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise ConnectionError("database is locked")  # retried as a whole
        calls.append([key_and_offset(m) for m in messages])

    records = [record(n, key=f"k{n % 2}") for n in range(6)]
    await handle_keyed(
        batch(*records), unused, limit=asyncio.Semaphore(4), retry_delay=0, whole_key=whole_key
    )

    assert sorted(calls) == [
        [("k0", 0), ("k0", 2), ("k0", 4)],
        [("k1", 1), ("k1", 3), ("k1", 5)],
    ]

    async def broken(messages: list[KafkaMessage]) -> None:
        raise RuntimeError("store down")

    with pytest.raises(BatchFailed) as failure:
        await handle_keyed(
            batch(*records), unused, limit=asyncio.Semaphore(4), retry_delay=0, whole_key=broken
        )
    assert failure.value.record.offset in (0, 1)  # a group's first record names it


async def test_each_handler_logs_with_its_own_messages_ids() -> None:
    seen: dict[int, str | None] = {}

    async def handle(message: KafkaMessage) -> None:
        await asyncio.sleep(0)
        seen[message.raw_message.offset] = _message_context.get().get("appeal_id")

    records = [record(n, key=f"appeal-{n}") for n in range(5)]
    await handle_keyed(batch(*records), handle, limit=asyncio.Semaphore(5))
    assert seen == {n: f"appeal-{n}" for n in range(5)}


# --- what FastStream does with a batch, which the promises above rely on ----------------


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits = 0
        self.seeks: dict[TopicPartition, int] = {}

    async def commit(self) -> None:
        self.commits += 1

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset


async def test_a_nacked_batch_rewinds_every_partition_to_its_earliest_record_uncommitted() -> None:
    consumer = RecordingConsumer()
    records = (
        record(10, "a", partition=0),
        record(7, "b", partition=1),
        record(11, "a", partition=0),
        record(8, "c", partition=1),
    )
    message = KafkaAckableMessage(raw_message=records, body=[], consumer=consumer)
    await message.nack()
    assert consumer.commits == 0
    assert consumer.seeks == {TopicPartition("in", 0): 10, TopicPartition("in", 1): 7}


def make_runtime(broker: KafkaBroker) -> ServiceRuntime:
    settings = settings_for("batching-test")
    return ServiceRuntime(settings, broker, mongo=None, registry=CollectorRegistry())  # type: ignore[arg-type]


async def test_the_subscriber_runs_the_handler_on_every_record_of_a_published_batch() -> None:
    broker = KafkaBroker()
    runtime = make_runtime(broker)
    handled: list[bytes] = []

    async def handle(message: KafkaMessage) -> None:
        handled.append(message.body)

    keyed_batch_subscriber(
        runtime, "in", group_id="g", handle=handle, title="test.in", description="Test input."
    )
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(b"1", b"2", b"3", topic="in")
    assert sorted(handled) == [b"1", b"2", b"3"]


async def test_a_header_that_is_not_utf8_does_not_fail_the_batch() -> None:
    async def strict_parser(records: tuple[ConsumerRecord, ...]) -> list[dict[str, str]]:
        return [{k: v.decode() for k, v in r.headers} for r in records]

    records = (
        record(0, "a", headers=(("x-event-id", b"\xff\xfe"),)),
        record(1, "b", headers=(("x-event-id", b"fine"),)),
    )
    parsed = await lenient_batch_parser(records, strict_parser)
    assert parsed == [{"x-event-id": "\ufffd\ufffd"}, {"x-event-id": "fine"}]
    assert record_message(records[0]).headers == {"x-event-id": "\ufffd\ufffd"}


# --- KeyedLock --------------------------------------------------------------------------


async def test_a_keyed_lock_excludes_per_key_and_forgets_keys_nobody_holds() -> None:
    locks = KeyedLock()
    order: list[str] = []

    async def hold(key: str, name: str, pause: float) -> None:
        async with locks(key):
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    await asyncio.gather(hold("m", "first", 0.01), hold("m", "second", 0), hold("n", "other", 0))
    assert order.index("first out") < order.index("second in")
    assert order.index("other in") < order.index("first out")  # another key does not wait
    assert len(locks) == 0


# --- StoreBatcher -----------------------------------------------------------------------


class FakeCursor:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = documents

    async def to_list(self, _length: int | None = None) -> list[dict[str, Any]]:
        return self.documents


class FakeCollection:
    """Records the commands it receives; unique `_id` like a real store."""

    full_name = "db.things"

    def __init__(self) -> None:
        self.documents: dict[Any, dict[str, Any]] = {}
        self.commands: list[tuple[str, Any]] = []

    async def insert_many(self, documents: list[dict[str, Any]], ordered: bool) -> None:
        assert ordered is False
        self.commands.append(("insert_many", [d["_id"] for d in documents]))
        await asyncio.sleep(0)
        errors = []
        for index, document in enumerate(documents):
            if document["_id"] in self.documents:
                errors.append({"index": index, "code": 11000, "errmsg": "E11000 duplicate"})
            else:
                self.documents[document["_id"]] = dict(document)
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": len(documents) - 1})

    async def bulk_write(self, requests: list[UpdateOne], ordered: bool) -> BulkWriteResult:
        assert ordered is True
        self.commands.append(("bulk_write", [r._filter["_id"] for r in requests]))
        await asyncio.sleep(0)
        matched, upserted = 0, {}
        for index, request in enumerate(requests):
            document_id = request._filter["_id"]
            if document_id not in self.documents:
                if not request._upsert:
                    continue
                self.documents[document_id] = {"_id": document_id}
                upserted[index] = document_id
            else:
                matched += 1
            for name, value in request._doc["$set"].items():
                self.documents[document_id][name] = value
        upserts = [{"index": index, "_id": new_id} for index, new_id in upserted.items()]
        return BulkWriteResult({"nMatched": matched, "upserted": upserts}, acknowledged=True)

    async def delete_many(self, query: dict[str, Any]) -> None:
        ids = query["_id"]["$in"]
        self.commands.append(("delete_many", ids))
        await asyncio.sleep(0)
        for document_id in ids:
            self.documents.pop(document_id, None)

    def find(self, query: dict[str, Any], projection: dict[str, int] | None = None) -> FakeCursor:
        self.commands.append(("find", query))
        ((field, condition),) = query.items()
        wanted = condition["$in"] if isinstance(condition, dict) else [condition]
        return FakeCursor([dict(d) for d in self.documents.values() if d.get(field) in wanted])


async def test_concurrent_inserts_share_one_command_and_each_learns_whether_it_created() -> None:
    store, things = StoreBatcher(), FakeCollection()
    things.documents["old"] = {"_id": "old"}

    created = await asyncio.gather(
        store.insert_once(things, {"_id": "a"}),
        store.insert_once(things, {"_id": "old"}),
        store.insert_once(things, {"_id": "b"}),
        store.insert_once(things, {"_id": "a"}),  # the first of the two wins
    )
    assert created == [True, False, True, False]
    assert things.commands == [("insert_many", ["a", "old", "b", "a"])]


async def test_concurrent_deletes_by_id_share_one_command_and_an_absent_one_is_fine() -> None:
    store, things = StoreBatcher(), FakeCollection()
    things.documents = {"a": {"_id": "a"}, "b": {"_id": "b"}, "c": {"_id": "c"}}

    await asyncio.gather(
        store.delete_by_id(things, "a"),
        store.delete_by_id(things, "gone"),
        store.delete_by_id(things, "c"),
        store.delete_by_id(things, "a"),
    )
    assert things.commands == [("delete_many", ["a", "gone", "c"])]
    assert set(things.documents) == {"b"}


async def test_concurrent_reads_by_id_share_one_command_and_get_their_own_copies() -> None:
    store, things = StoreBatcher(), FakeCollection()
    things.documents = {"a": {"_id": "a", "n": 1}, "b": {"_id": "b", "n": 2}}

    a, missing, b, a_again = await asyncio.gather(
        store.find_by_id(things, "a"),
        store.find_by_id(things, "zz"),
        store.find_by_id(things, "b"),
        store.find_by_id(things, "a"),
    )
    assert (a, missing, b) == ({"_id": "a", "n": 1}, None, {"_id": "b", "n": 2})
    assert a_again == a and a_again is not a
    assert things.commands == [("find", {"_id": {"$in": ["a", "zz", "b"]}})]


async def test_reads_by_another_field_return_every_match() -> None:
    store, things = StoreBatcher(), FakeCollection()
    things.documents = {n: {"_id": n, "appeal_id": "x" if n < 2 else "y"} for n in range(3)}

    xs, ys, zs = await asyncio.gather(
        store.find_where(things, "appeal_id", "x"),
        store.find_where(things, "appeal_id", "y"),
        store.find_where(things, "appeal_id", "z"),
    )
    assert [d["_id"] for d in xs] == [0, 1] and [d["_id"] for d in ys] == [2] and zs == []
    assert len(things.commands) == 1


async def test_operations_one_after_the_other_are_not_held_back() -> None:
    store, things = StoreBatcher(), FakeCollection()
    assert await store.insert_once(things, {"_id": "a"}) is True
    assert await store.find_by_id(things, "a") == {"_id": "a"}
    assert len(things.commands) == 2


async def test_a_failed_command_fails_every_caller_of_it() -> None:
    store, things = StoreBatcher(), FakeCollection()

    async def broken(documents: list[dict[str, Any]], ordered: bool) -> None:
        raise ConnectionError("store down")

    things.insert_many = broken  # type: ignore[method-assign]
    results = await asyncio.gather(
        store.insert_once(things, {"_id": "a"}),
        store.insert_once(things, {"_id": "b"}),
        return_exceptions=True,
    )
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_command_holds_at_most_max_batch_operations() -> None:
    store, things = StoreBatcher(max_batch=2), FakeCollection()
    await asyncio.gather(*(store.insert_once(things, {"_id": n}) for n in range(5)))
    assert [len(ids) for _, ids in things.commands] == [2, 2, 1]


async def test_operations_queued_while_a_command_is_in_flight_go_out_together_next() -> None:
    store, things = StoreBatcher(), FakeCollection()
    first = asyncio.create_task(store.insert_once(things, {"_id": "first"}))
    await asyncio.sleep(0)  # the first command is now on its way
    later = [asyncio.create_task(store.insert_once(things, {"_id": n})) for n in range(5)]
    await asyncio.gather(first, *later)
    assert things.commands == [("insert_many", ["first"]), ("insert_many", [0, 1, 2, 3, 4])]


async def test_concurrent_updates_by_id_share_one_ordered_command_and_learn_if_they_matched() -> (
    None
):
    store, things = StoreBatcher(), FakeCollection()
    things.documents = {"a": {"_id": "a"}, "b": {"_id": "b"}}

    matched = await asyncio.gather(
        store.update_by_id(things, "a", {"$set": {"n": 1}}),
        store.update_by_id(things, "missing", {"$set": {"n": 2}}),
        store.update_by_id(things, "new", {"$set": {"n": 3}}, upsert=True),
        store.update_by_id(things, "a", {"$set": {"n": 4}}),  # after the first, in order
    )
    assert matched == [True, False, True, True]
    assert things.documents["a"]["n"] == 4 and things.documents["new"]["n"] == 3
    assert "missing" not in things.documents
    assert things.commands[0] == ("bulk_write", ["a", "missing", "new", "a"])


def test_a_failed_batch_waits_longer_each_time_up_to_fifteen_seconds() -> None:
    from services.common.batching import redelivery_backoff

    assert [redelivery_backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 15, 15]
