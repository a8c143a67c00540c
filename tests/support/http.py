"""Apps of the test process served over real HTTP (for clients that speak only HTTP: a
Prometheus server, a third-party Open311 library)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping

import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def served_over_http(apps: Mapping[str, ASGIApp]) -> AsyncIterator[dict[str, int]]:
    """Each app on a port of its own on 127.0.0.1 (their lifespans already run elsewhere);
    name → port."""
    servers, tasks, ports = [], [], {}
    for name, app in apps.items():
        ports[name] = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=ports[name], lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        servers.append(server)
        tasks.append(asyncio.create_task(server.serve()))
    while not all(s.started for s in servers):  # noqa: ASYNC110 - uvicorn exposes a flag only
        await asyncio.sleep(0.05)
    try:
        yield ports
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)
