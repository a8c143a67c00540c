"""Entry point shared by `python -m services.<name>`: logging, then uvicorn on the service port."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from services.common.http_limits import MAX_HEADER_BYTES, MAX_TARGET_CHARS
from services.common.kafka_auth import MissingCredentials
from services.common.logs import configure_logging
from services.common.preflight import AccessDenied
from services.common.runtime import check_broker_access, check_secrets
from services.common.secret_files import MissingSecret
from services.common.settings import ServiceSettings, settings_for


def serve(service_name: str, create_app: Callable[[ServiceSettings], Starlette]) -> None:
    settings = settings_for(service_name)
    configure_logging(service_name, settings.log_level)
    try:
        app = create_app(settings)
        check_secrets(app.state.runtime)
        # The broker's refusal (wrong password, a missing ACL) as one line, before uvicorn.
        asyncio.run(check_broker_access(app.state.runtime))
        app.state.runtime.preflight_done = True
    except (AccessDenied, MissingCredentials, MissingSecret) as exc:
        print(f"[{service_name}] cannot start: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    logging.getLogger(f"tyndau.{service_name}").info(
        "starting on http://%s:%s (kafka %s, mongodb database %s)",
        settings.http_host,
        settings.http_port,
        settings.kafka_bootstrap_servers,
        settings.database_name,
    )
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        log_config=None,  # keep our JSON handler; uvicorn's default would replace it
        # The server's own ceiling on an incomplete request head (request line + headers),
        # under http_limits.py's 431: an endless header never reaches the app.
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES + MAX_TARGET_CHARS + 1024,
        server_header=False,
    )
