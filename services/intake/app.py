"""Intake's composition root: the Kafka edge (channel topics) and the HTTP edge, wired to
IntakeService. Edges only convert; IntakeService and the pure modules decide."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contracts import Call1414Appeal, topics
from services.common.http import build_http_app
from services.common.messaging import Undecodable, correlation_of, dead_letter, decode
from services.common.runtime import ServiceRuntime, create_runtime
from services.common.settings import ServiceSettings
from services.common.workdays import WorkingCalendar
from services.intake.adapters import adapt_1414
from services.intake.service import IntakeService, ensure_indexes


def create_app(settings: ServiceSettings) -> Starlette:
    runtime = create_runtime(settings)
    runtime.on_database_ready.append(ensure_indexes)
    service = IntakeService(runtime, WorkingCalendar.default())
    register_channel_subscribers(runtime, service)
    return build_http_app(runtime, routes=http_routes(service))


def register_channel_subscribers(runtime: ServiceRuntime, service: IntakeService) -> None:
    @runtime.broker.subscriber(
        runtime.topic(topics.CHANNEL_1414),
        group_id=runtime.settings.consumer_group,
        auto_offset_reset="earliest",
        # Commit only after the appeal is stored and its event acknowledged by Kafka; on an
        # unexpected error (store down) the message is redelivered, never skipped.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="intake.channel_1414",
        description="Call centre 1414 appeals in the channel's native format.",
    )
    async def on_1414_appeal(message: KafkaMessage) -> None:
        try:
            call = decode(message, Call1414Appeal)
        except Undecodable as exc:
            service.metrics.dead_letters.labels(topics.CHANNEL_1414).inc()
            await dead_letter(runtime, message, exc)
            return
        outcome = adapt_1414(call, datetime.now(UTC))
        await service.accept(outcome, correlation_of(message))


def http_routes(service: IntakeService) -> list[Route]:
    async def get_appeal(request: Request) -> JSONResponse:
        number = request.path_params["registration_number"]
        stored = await service.find_by_registration_number(number)
        if stored is None:
            return JSONResponse({"error": "not_found", "registration_number": number}, 404)
        event = stored["event"]
        return JSONResponse(
            {
                "registration_number": number,
                "status": stored["status"],
                "channel": event["channel"],
                "received_at": event["received_at"],
                "registered_at": event["registered_at"],
                "answer_due_at": event["answer_due_at"],
            }
        )

    return [Route("/v1/appeals/{registration_number}", get_appeal, methods=["GET"])]
