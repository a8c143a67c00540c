"""Kafka clients for tests, authenticated like everyone else: the harness observes and
publishes as `admin` (the provisioning super user, standing in for the operators' tools and
for upstream services a test does not run); tests about who may do what use the restricted
principals (`identity_for("agency-…")`). Every prefix a test prepares gets its topics and the
access plan's ACLs, removed again at the end of the session."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka_auth import ADMIN, identity_for
from services.common.provisioning import prepare_prefix
from services.common.topics_admin import ensure_topics

PREPARED_PREFIXES: set[str] = set()
"""Prefixes the session prepared (tests/conftest.py removes their topics, ACLs and
databases at the end)."""


def producer(bootstrap: str, principal: str = ADMIN, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, **identity_for(principal).aiokafka(), **options
    )


def consumer(
    *topics: str, bootstrap: str, principal: str = ADMIN, **options: Any
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, **identity_for(principal).aiokafka(), **options
    )


def admin(bootstrap: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **identity_for(ADMIN).aiokafka())


async def prepare_broker(bootstrap: str, plan: dict[str, int], prefix: str) -> None:
    """The topics of `plan` under `prefix`, and the access plan's ACLs for that prefix."""
    if prefix in PREPARED_PREFIXES:
        await ensure_topics(bootstrap, plan, prefix)
        return
    await prepare_prefix(bootstrap, plan, prefix)
    PREPARED_PREFIXES.add(prefix)


async def wait_until_consumed(
    bootstrap: str, group: str, topic_names: list[str], timeout: float = 120.0
) -> None:
    """Wait until consumer group `group` has committed every message now on `topic_names`
    (what is published after this is called is not waited for). Raises AssertionError with
    the partitions still behind when `timeout` seconds pass."""
    probe = consumer(bootstrap=bootstrap)
    client = admin(bootstrap)
    await probe.start()
    await client.start()
    try:
        partitions: list[TopicPartition] = []
        for name in topic_names:
            known = probe.partitions_for_topic(name)
            if not known:
                await probe.topics()  # fetch metadata
                known = probe.partitions_for_topic(name) or set()
            partitions += [TopicPartition(name, p) for p in sorted(known)]
        ends = await probe.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while True:
            committed = await client.list_consumer_group_offsets(group)
            behind = {
                f"{tp.topic}[{tp.partition}]": (
                    committed[tp].offset if tp in committed else None,
                    end,
                )
                for tp, end in ends.items()
                if end and (tp not in committed or committed[tp].offset < end)
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"group {group} is still behind (committed, end): {behind}")
            await asyncio.sleep(0.2)
    finally:
        await probe.stop()
        await client.close()
