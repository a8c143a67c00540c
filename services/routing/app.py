"""Routing's composition root: consumes registrations, serves the agency registry."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contracts import AppealRegistered, topics
from services.common.http import build_http_app
from services.common.messaging import Undecodable, dead_letter, decode
from services.common.runtime import create_runtime
from services.common.settings import ServiceSettings
from services.routing.registry import Agency, AgencyRegistry
from services.routing.service import RoutingService


def create_app(settings: ServiceSettings) -> Starlette:
    runtime = create_runtime(settings)
    registry = AgencyRegistry.default()
    service = RoutingService(runtime, registry)

    @runtime.broker.subscriber(
        runtime.topic(topics.APPEALS_REGISTERED),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="routing.appeals_registered",
        description="Registered appeals to route to the competent body.",
    )
    async def on_appeal_registered(message: KafkaMessage) -> None:
        try:
            appeal = decode(message, AppealRegistered)
        except Undecodable as exc:
            await dead_letter(runtime, message, exc)
            return
        await service.route_registered(appeal)

    return build_http_app(runtime, routes=registry_routes(registry))


def registry_routes(registry: AgencyRegistry) -> list[Route]:
    def describe(agency: Agency) -> dict:
        described = agency.model_dump(mode="json") | {"inbox_topic": agency.inbox_topic}
        described["competences"] = sorted(described["competences"])  # stable output
        return described

    async def list_agencies(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "version": registry.version,
                "agencies": [describe(a) for a in registry.by_code.values()],
            }
        )

    async def get_agency(request: Request) -> JSONResponse:
        agency = registry.by_code.get(request.path_params["code"])
        if agency is None:
            return JSONResponse({"error": "not_found", "code": request.path_params["code"]}, 404)
        return JSONResponse(describe(agency))

    return [
        Route("/v1/agencies", list_agencies, methods=["GET"]),
        Route("/v1/agencies/{code}", get_agency, methods=["GET"]),
    ]
