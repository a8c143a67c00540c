"""The limits hold on every route of every running service (they wrap the whole app, see
services/common/http_limits.py), protected routes and /health alike."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from tests.support.system import FACTORIES, RunningSystem


def routes_of(system: RunningSystem, service: str) -> list[tuple[str, str]]:
    found = []
    for route in system.apps[service].routes:
        if isinstance(route, Route):
            path = route.path.replace("{", "").replace("}", "")  # any value will do
            found += [(method, path) for method in sorted(set(route.methods or {"GET"}) - {"HEAD"})]
    return found


@pytest.mark.parametrize("service", sorted(FACTORIES))
async def test_every_route_refuses_oversized_bodies_headers_and_targets(
    system: RunningSystem, service: str
) -> None:
    routes = routes_of(system, service)
    assert len(routes) >= 4  # /health, /metrics and the AsyncAPI pages at least
    async with system.http(service) as client:
        for method, path in routes:
            body = await client.request(method, path, content=b"{" * (17 * 1024 * 1024))
            headers = await client.request(method, path, headers={"x-pad": "p" * 10_000})
            target = await client.request(method, path + "?q=" + "a" * 3000)
            got = (body.status_code, headers.status_code, target.status_code)
            assert got == (413, 431, 414), f"{service} {method} {path}: {got}"
            assert body.json()["error"] == "too_large"
