"""What the SLA tests share: an SLA instance on the real broker and store under its own
prefix (`sla_harness`), routing decisions and agency actions as the upstream services would
publish them, and matchers for the events the SLA publishes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from starlette.applications import Starlette

from contracts import AppealRouted, deterministic_id, topics
from reference.calendar import WorkingCalendar
from services.common.clock import ManualClock
from services.common.settings import settings_for
from services.sla.app import create_app
from services.sla.firing import FiringSettings
from services.sla.schedule import SlaPolicy
from tests.support import kafka
from tests.support.kafka import prepare_broker

if TYPE_CHECKING:
    from tests.conftest import Infra

ALMATY = ZoneInfo("Asia/Almaty")
CAL = WorkingCalendar.default()
PARTITIONS = 6
SLA_TOPICS = {
    topics.APPEALS_ROUTED: PARTITIONS,
    topics.AGENCY_ACTIONS: PARTITIONS,
    topics.SLA_EVENTS: PARTITIONS,
    topics.APPEALS_DLQ: 1,
    # counted for the assessment (services/sla/assessment)
    topics.APPEALS_REGISTERED: PARTITIONS,
    topics.APPEAL_OUTCOMES: 1,
    topics.ANSWER_FEEDBACK: 1,
}
FAST = FiringSettings(
    lookahead=timedelta(seconds=1), poll_interval=0.05, batch_size=100, gauge_interval=0.2
)
POLICY = SlaPolicy(supervisors={"astana-energy": "akimat-astana"})


@dataclass
class SlaHarness:
    infra: Infra
    prefix: str
    producer: AIOKafkaProducer
    mongo: AsyncMongoClient

    def topic(self, name: str) -> str:
        return self.prefix + name

    @property
    def db(self):
        return self.mongo[self.prefix + "sla"]

    @asynccontextmanager
    async def instance(
        self, clock: ManualClock, firing: FiringSettings = FAST
    ) -> AsyncIterator[Starlette]:
        settings = settings_for(
            "sla",
            kafka_bootstrap_servers=self.infra.kafka_bootstrap_servers,
            mongodb_url=self.infra.mongodb_url,
            topic_prefix=self.prefix,
            database_prefix=self.prefix,
        )
        app = create_app(settings, clock=clock, policy=POLICY, firing=firing)
        async with app.router.lifespan_context(app):
            yield app

    async def send(self, topic_name: str, event: Any) -> None:
        await self.producer.send_and_wait(
            self.topic(topic_name),
            event.model_dump_json().encode(),
            key=event.appeal_id.encode(),
        )


@asynccontextmanager
async def sla_harness(infra: Infra, prefix: str) -> AsyncIterator[SlaHarness]:
    await prepare_broker(infra.kafka_bootstrap_servers, SLA_TOPICS, prefix)
    producer = kafka.producer(infra.kafka_bootstrap_servers, acks="all")
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    await producer.start()
    try:
        yield SlaHarness(infra, prefix, producer, mongo)
    finally:
        await producer.stop()
        await mongo.close()


def owned_shards(app: Starlette) -> frozenset[int]:
    return app.state.firing.owned


def routed_event(
    appeal_id: str,
    received_at: datetime,
    *,
    agency: str = "astana-energy",
    hop: int = 0,
    forward_due_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> AppealRouted:
    registered = CAL.registration_time(received_at)
    return AppealRouted.example().model_copy(
        update={
            "event_id": deterministic_id("test.routed", appeal_id, str(hop)),
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "occurred_at": occurred_at or received_at,
            "agency_code": agency,
            "inbox_topic": f"agency.{agency}.inbox.v1",
            "hop": hop,
            "forwarded": hop > 0,
            "forward_due_at": forward_due_at,
            "received_at": received_at,
            "answer_due_at": CAL.deadline(registered, 15),
        }
    )


def action(model: type, appeal_id: str, at: datetime, agency: str = "astana-energy", **extra):
    return model.example().model_copy(
        update={
            "event_id": deterministic_id("test.action", appeal_id, model.__name__, at.isoformat()),
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "occurred_at": at,
            "action_id": f"{agency}/{uuid.uuid4().hex[:8]}",
            "agency_code": agency,
            **extra,
        }
    )


def of(appeal_id: str, event_type: str, **fields: Any):
    def matches(event: dict[str, Any]) -> bool:
        return (
            event.get("appeal_id") == appeal_id
            and event.get("event_type") == event_type
            and all(event.get(k) == v for k, v in fields.items())
        )

    return matches


def iso(moment: datetime) -> str:
    return moment.astimezone(ALMATY).isoformat()
