"""SLA's composition root: consumes routed appeals and starts their timers."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from starlette.applications import Starlette

from contracts import AppealRouted, SlaTimerStarted, topics
from services.common.http import build_http_app
from services.common.messaging import Undecodable, dead_letter, decode, insert_once, publish_event
from services.common.runtime import ServiceRuntime, create_runtime
from services.common.settings import ServiceSettings
from services.sla.timers import answer_timer_started, timer_document

TIMERS = "timers"


async def ensure_indexes(db: AsyncDatabase) -> None:
    # The firing loop scans open timers by due time.
    await db[TIMERS].create_index([("state", ASCENDING), ("due_at", ASCENDING)])
    await db[TIMERS].create_index([("appeal_id", ASCENDING)])


class TimerService:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.started_total = Counter(
            "tyndau_sla_timers_started_total",
            "Deadline timers started, by deadline kind.",
            ["kind"],
            registry=runtime.registry,
        )

    async def start_answer_timer(self, routed: AppealRouted) -> SlaTimerStarted:
        timers = self.runtime.db[TIMERS]
        started = answer_timer_started(routed, datetime.now(UTC))
        stored = await timers.find_one({"_id": started.timer_id})
        if stored is None:
            if await insert_once(timers, timer_document(started, routed.received_at)):
                self.started_total.labels(started.deadline_kind.value).inc()
            else:
                stored = await timers.find_one({"_id": started.timer_id})
        if stored is not None:
            started = SlaTimerStarted.model_validate(stored["started_event"])
        await publish_event(self.runtime, topics.SLA_EVENTS, started)
        return started


def create_app(settings: ServiceSettings) -> Starlette:
    runtime = create_runtime(settings)
    runtime.on_database_ready.append(ensure_indexes)
    service = TimerService(runtime)

    @runtime.broker.subscriber(
        runtime.topic(topics.APPEALS_ROUTED),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="sla.appeals_routed",
        description="Routed appeals whose answer deadline must be watched.",
    )
    async def on_appeal_routed(message: KafkaMessage) -> None:
        try:
            routed = decode(message, AppealRouted)
        except Undecodable as exc:
            await dead_letter(runtime, message, exc)
            return
        await service.start_answer_timer(routed)

    return build_http_app(runtime)
