"""One intake instance in the test process, on its own topic and database prefix, with a
store client and a Kafka producer for the test to use (shared by intake's Kafka tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from starlette.applications import Starlette

from contracts import topics
from services.common.settings import ServiceSettings
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from tests.support import kafka
from tests.support.kafka import prepare_broker

if TYPE_CHECKING:
    from tests.conftest import Infra


@dataclass
class RunningIntake:
    app: Starlette
    settings: ServiceSettings
    mongo: AsyncMongoClient
    producer: AIOKafkaProducer


@asynccontextmanager
async def running_intake(
    infra: Infra, prefix: str, partitions: dict[str, int], api_keys: str
) -> AsyncIterator[RunningIntake]:
    """`partitions`: topic (without prefix) → partition count, created before the start
    (with the topics intake writes besides, e.g. the citizens' ratings)."""
    partitions = {topics.ANSWER_FEEDBACK: 1, **partitions}
    await prepare_broker(infra.kafka_bootstrap_servers, partitions, prefix)
    settings = IntakeSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_url=infra.mongodb_url,
        topic_prefix=prefix,
        database_prefix=prefix,
        api_keys=api_keys,
    )
    app = create_app(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
        stack.push_async_callback(mongo.close)
        producer = kafka.producer(infra.kafka_bootstrap_servers, acks="all")
        await producer.start()
        stack.push_async_callback(producer.stop)
        yield RunningIntake(app, settings, mongo, producer)
