"""The HTTP surface every service has: /health, /metrics, /docs/asyncapi (+ .json),
/docs/openapi.json (every route of the service, services/common/openapi.py), plus the
service's own routes. The app's lifespan starts and stops the runtime (store, then broker).

Health, as an orchestrator reads it:
- `/health/live` — 200 while the process answers; restart it only when this fails;
- `/health/ready` (and `/health`) — 200 only when the broker and the store answer and every
  consumer has joined its group with its partitions; 503 otherwise (a store outage, a
  rebalance) with what is missing. Also shows the consumer lag and the write concern.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol

from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute

from services.common.http_limits import RequestLimits, error_handlers
from services.common.lag import consumers_of
from services.common.openapi import (
    Operation,
    Reply,
    documented,
    one_route_per_path,
    openapi_document,
    reply,
)
from services.common.runtime import ServiceRuntime, health, start_runtime, stop_runtime


def asyncapi_document(runtime: ServiceRuntime) -> dict:
    spec = AsyncAPI(
        runtime.broker,
        title=f"Tyndau {runtime.settings.service_name}",
        version="1.0.0",
        description=f"Kafka interface of the Tyndau {runtime.settings.service_name} service.",
    )
    return spec.to_specification().to_jsonable()


class Readiness(BaseModel):
    service: str
    instance: str | None = Field(description="TYNDAU_INSTANCE_ID, where set.")
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="broker, store: `ok` or what failed.")
    consumers: dict[str, str] = Field(
        description="Each consumer group: `<n> partitions` once it has joined, else its state."
    )
    lag: int | None = Field(description="Messages its consumers have yet to read (all topics).")
    write_concern: dict[str, Any]


class Liveness(BaseModel):
    service: str
    status: Literal["live"]


HEALTH = "health"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
READY = Operation(
    "Ready to serve: broker and store answer, every consumer has its partitions",
    HEALTH,
    (
        Reply(200, "Ready.", Readiness),
        Reply(503, "Not ready (a store outage, a rebalance): what is missing.", Readiness),
    ),
)
LIVE = Operation(
    "Alive: the process answers (restart it only when this fails)",
    HEALTH,
    (Reply(200, "Alive.", Liveness),),
)
METRICS = Operation(
    "Prometheus metrics",
    "operations",
    (Reply(200, "The text exposition format.", str, (TEXT,)),),
)
ASYNCAPI_JSON = Operation(
    "The service's Kafka interface (AsyncAPI 3)",
    "docs",
    (Reply(200, "The AsyncAPI document.", dict[str, Any]),),
)
ASYNCAPI_HTML = Operation(
    "The service's Kafka interface, to read",
    "docs",
    (Reply(200, "An HTML page.", str, ("text/html; charset=utf-8",)),),
)
OPENAPI_JSON = Operation(
    "This document: the service's HTTP interface (OpenAPI 3.1)",
    "docs",
    (Reply(200, "The OpenAPI document.", dict[str, Any]),),
)


def service_openapi(app: Starlette) -> dict[str, Any]:
    """The OpenAPI document of a service's app (every route of it)."""
    name = app.state.runtime.settings.service_name
    return openapi_document(
        app.routes,
        title=f"Tyndau {name}",
        version="1.0.0",
        description=f"HTTP interface of the Tyndau {name} service. Errors are JSON "
        "`{error, reason}` unless an operation says otherwise.",
    )


class BackgroundLoop(Protocol):
    """A task that runs while the service runs (SLA firing, notify delivery)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


def build_http_app(
    runtime: ServiceRuntime,
    routes: Sequence[BaseRoute] = (),
    background: Sequence[BackgroundLoop] = (),
    max_body_bytes: int | None = None,
) -> Starlette:
    """The service's ASGI app. Its lifespan starts the runtime (store, then broker), then the
    background loops; on shutdown the loops stop first, so none acts after the consumer has
    left its group. Every request passes the limits of services/common/http_limits.py
    (body at most `max_body_bytes`, default TYNDAU_HTTP_MAX_BODY_BYTES); errors are JSON."""

    async def ready_endpoint(_: Request) -> JSONResponse:
        checks = await health(runtime)
        consumers = consumers_of(runtime.broker)
        ready = all(value == "ok" for value in checks.values()) and all(
            state.endswith("partitions") for state in consumers.values()
        )
        monitor = runtime.lag_monitor
        body = {
            "service": runtime.settings.service_name,
            "instance": runtime.settings.instance_id,
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "consumers": consumers,
            "lag": monitor.total if monitor else None,
            "write_concern": runtime.write_concern,
        }
        return reply(Readiness, body, 200 if ready else 503)

    async def live_endpoint(_: Request) -> JSONResponse:
        # Alive while the event loop answers: a restart would not help a service that is
        # only waiting for its broker or store (that is readiness, above).
        return reply(Liveness, {"service": runtime.settings.service_name, "status": "live"})

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

    async def asyncapi_json(_: Request) -> Response:
        return Response(json.dumps(asyncapi_document(runtime)), media_type="application/json")

    async def asyncapi_html(_: Request) -> HTMLResponse:
        spec = AsyncAPI(runtime.broker, title=f"Tyndau {runtime.settings.service_name}")
        return HTMLResponse(get_asyncapi_html(spec.to_specification(), try_it_out_path=None))

    openapi: dict[str, Any] = {}

    async def openapi_json(request: Request) -> JSONResponse:
        if not openapi:  # the routes are fixed once the app is made
            openapi.update(service_openapi(request.app))
        return JSONResponse(openapi)

    @asynccontextmanager
    async def lifespan(_: Starlette):
        await start_runtime(runtime)
        try:
            for loop in background:
                loop.start()
            try:
                yield
            finally:
                for loop in reversed(background):
                    await loop.stop()
        finally:
            await stop_runtime(runtime)

    app = Starlette(
        routes=one_route_per_path(
            [
                documented("/health", ready_endpoint, ["GET"], READY),
                documented("/health/ready", ready_endpoint, ["GET"], READY),
                documented("/health/live", live_endpoint, ["GET"], LIVE),
                documented("/metrics", metrics_endpoint, ["GET"], METRICS),
                documented("/docs/asyncapi", asyncapi_html, ["GET"], ASYNCAPI_HTML),
                documented("/docs/asyncapi.json", asyncapi_json, ["GET"], ASYNCAPI_JSON),
                documented("/docs/openapi.json", openapi_json, ["GET"], OPENAPI_JSON),
                *routes,
            ]
        ),
        lifespan=lifespan,
        middleware=[
            Middleware(
                RequestLimits,
                max_body_bytes=max_body_bytes or runtime.settings.http_max_body_bytes,
            )
        ],
        exception_handlers=error_handlers(),
    )
    app.state.runtime = runtime  # for tools that inspect a service (docs, tests)
    return app
