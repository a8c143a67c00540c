"""The raw limits of this machine: how fast the broker and the store go with nothing of ours in
between. The pipeline's bound is derived from these and from what one appeal costs."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import asdict, dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, UpdateOne

from services.common.kafka_auth import ADMIN, identity_for


@dataclass
class KafkaLimit:
    messages: int
    message_bytes: int
    produce_per_s: float
    consume_per_s: float
    produce_consume_per_s: float


@dataclass
class StoreLimit:
    documents: int
    insert_one_per_s: float
    insert_many_per_s: float
    indexed_update_per_s: float
    bulk_indexed_update_per_s: float


async def kafka_limit(bootstrap: str, messages: int, message_bytes: int) -> KafkaLimit:
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **identity_for(ADMIN).aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    payload = os.urandom(message_bytes // 2).hex().encode()[:message_bytes]
    # The same producer settings the services use: acks=all, idempotent, some lingering.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        **identity_for(ADMIN).aiokafka(),
    )
    await producer.start()
    start = time.perf_counter()
    try:
        batch = []
        for i in range(messages):
            batch.append(await producer.send(topic, payload, key=str(i).encode()))
            if len(batch) >= 2000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    produced_s = time.perf_counter() - start

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **identity_for(ADMIN).aiokafka(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    await consumer.start()
    start = time.perf_counter()
    seen = 0
    try:
        while seen < messages:
            batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
            seen += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
    consumed_s = time.perf_counter() - start
    return KafkaLimit(
        messages=messages,
        message_bytes=message_bytes,
        produce_per_s=messages / produced_s,
        consume_per_s=messages / consumed_s,
        produce_consume_per_s=messages / (produced_s + consumed_s),
    )


async def store_limit(mongodb_url: str, documents: int) -> StoreLimit:
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    db = client[f"bench_raw_{uuid.uuid4().hex[:8]}"]
    try:
        single = db["single"]
        n_single = min(documents, 2000)
        start = time.perf_counter()
        for i in range(n_single):
            await single.insert_one({"_id": f"s{i}", "state": "open", "due": i, "pad": "x" * 200})
        insert_one_per_s = n_single / (time.perf_counter() - start)

        many = db["many"]
        await many.create_index([("state", 1), ("due", 1)])
        start = time.perf_counter()
        for offset in range(0, documents, 1000):
            await many.insert_many(
                [
                    {"_id": f"m{i}", "state": "open", "due": i, "pad": "x" * 200}
                    for i in range(offset, min(offset + 1000, documents))
                ],
                ordered=False,
            )
        insert_many_per_s = documents / (time.perf_counter() - start)

        n_updates = min(documents, 2000)
        start = time.perf_counter()
        for i in range(n_updates):
            await many.update_one({"_id": f"m{i}"}, {"$set": {"state": "fired"}})
        indexed_update_per_s = n_updates / (time.perf_counter() - start)

        # 1,000 updates per command (upstream FerretDB v1 hung on ~100; our build's patch 03
        # closes each update's iterator, see deploy/local/ferretdb.sh).
        start = time.perf_counter()
        for offset in range(0, documents, 1000):
            await many.bulk_write(
                [
                    UpdateOne({"_id": f"m{i}"}, {"$set": {"state": "done"}})
                    for i in range(offset, min(offset + 1000, documents))
                ],
                ordered=False,
            )
        bulk_update_per_s = documents / (time.perf_counter() - start)
    finally:
        await client.drop_database(db.name)
        await client.close()
    return StoreLimit(
        documents=documents,
        insert_one_per_s=insert_one_per_s,
        insert_many_per_s=insert_many_per_s,
        indexed_update_per_s=indexed_update_per_s,
        bulk_indexed_update_per_s=bulk_update_per_s,
    )


async def _main() -> None:
    kafka = await kafka_limit("127.0.0.1:9092", 50_000, 1200)
    store = await store_limit("mongodb://127.0.0.1:27017/", 20_000)
    print(asdict(kafka))
    print(asdict(store))


if __name__ == "__main__":
    asyncio.run(_main())
