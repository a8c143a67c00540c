"""The HTTP surface every service has: /health, /metrics, /docs/asyncapi (+ .json), plus the
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
from typing import Protocol

from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.common.http_limits import RequestLimits, error_handlers
from services.common.lag import consumers_of
from services.common.runtime import ServiceRuntime, health, start_runtime, stop_runtime


def asyncapi_document(runtime: ServiceRuntime) -> dict:
    spec = AsyncAPI(
        runtime.broker,
        title=f"Tyndau {runtime.settings.service_name}",
        version="1.0.0",
        description=f"Kafka interface of the Tyndau {runtime.settings.service_name} service.",
    )
    return spec.to_specification().to_jsonable()


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
        return JSONResponse(body, status_code=200 if ready else 503)

    async def live_endpoint(_: Request) -> JSONResponse:
        # Alive while the event loop answers: a restart would not help a service that is
        # only waiting for its broker or store (that is readiness, above).
        return JSONResponse({"service": runtime.settings.service_name, "status": "live"})

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(runtime.registry), media_type=CONTENT_TYPE_LATEST)

    async def asyncapi_json(_: Request) -> Response:
        return Response(json.dumps(asyncapi_document(runtime)), media_type="application/json")

    async def asyncapi_html(_: Request) -> HTMLResponse:
        spec = AsyncAPI(runtime.broker, title=f"Tyndau {runtime.settings.service_name}")
        return HTMLResponse(get_asyncapi_html(spec.to_specification(), try_it_out_path=None))

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
        routes=[
            Route("/health", ready_endpoint),
            Route("/health/ready", ready_endpoint),
            Route("/health/live", live_endpoint),
            Route("/metrics", metrics_endpoint),
            Route("/docs/asyncapi", asyncapi_html),
            Route("/docs/asyncapi.json", asyncapi_json),
            *routes,
        ],
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
