"""The consumer-lag gauge reports messages waiting behind a slow handler, and drops to zero
once they are consumed."""

from __future__ import annotations

import asyncio

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry

from services.common.kafka_auth import ADMIN, identity_for
from services.common.lag import ConsumerLagMonitor
from tests.conftest import Infra
from tests.support import kafka
from tests.support.system import eventually


def _lag(registry: CollectorRegistry, topic: str) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "tyndau_consumer_lag_messages" and sample.labels["topic"] == topic
    )


async def test_lag_shows_waiting_messages_and_returns_to_zero(infra: Infra, unique_id: str) -> None:
    topic = f"lag-{unique_id}"
    await kafka.prepare_broker(infra.kafka_bootstrap_servers, {topic: 1}, "")
    release = asyncio.Event()
    broker = KafkaBroker(infra.kafka_bootstrap_servers, security=identity_for(ADMIN).faststream())

    @broker.subscriber(
        topic,
        group_id=f"lag-{unique_id}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        max_records=1,
    )
    async def slow_handler(message: KafkaMessage) -> None:
        await release.wait()

    registry = CollectorRegistry()
    monitor = ConsumerLagMonitor(broker, registry, interval=0.2)
    producer = kafka.producer(infra.kafka_bootstrap_servers)
    await producer.start()
    await broker.start()
    monitor.start()
    try:
        for i in range(20):
            await producer.send_and_wait(topic, f"m{i}".encode())

        async def behind() -> bool:
            await monitor.refresh()
            return _lag(registry, topic) > 0

        await eventually(behind, timeout=20)
        release.set()

        async def caught_up() -> bool:
            await monitor.refresh()
            return _lag(registry, topic) == 0

        await eventually(caught_up, timeout=20)
    finally:
        release.set()
        await monitor.stop()
        await broker.stop()
        await producer.stop()
