"""Notify's composition root: consumes registrations and tells the citizen."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from starlette.applications import Starlette

from contracts import AppealRegistered, topics
from services.common.http import build_http_app
from services.common.messaging import Undecodable, dead_letter, decode
from services.common.runtime import create_runtime
from services.common.settings import ServiceSettings
from services.notify.providers import OutboxProvider
from services.notify.service import NotifyService


def create_app(settings: ServiceSettings) -> Starlette:
    runtime = create_runtime(settings)
    service = NotifyService(runtime, OutboxProvider(runtime.db))

    @runtime.broker.subscriber(
        runtime.topic(topics.APPEALS_REGISTERED),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="notify.appeals_registered",
        description="Registered appeals: tell the citizen the number and the deadline.",
    )
    async def on_appeal_registered(message: KafkaMessage) -> None:
        try:
            appeal = decode(message, AppealRegistered)
        except Undecodable as exc:
            await dead_letter(runtime, message, exc)
            return
        await service.on_registered(appeal)

    return build_http_app(runtime)
