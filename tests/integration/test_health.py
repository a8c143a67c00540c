"""Live and ready, as an orchestrator reads them, on the running system."""

from __future__ import annotations

import pytest

from tests.support.system import FACTORIES, RunningSystem, eventually


@pytest.mark.parametrize("service", sorted(FACTORIES))
async def test_a_running_service_is_live_and_ready_with_its_consumers_lag_and_write_concern(
    system: RunningSystem, service: str
) -> None:
    async def ready() -> dict | None:
        async with system.http(service) as client:
            response = await client.get("/health/ready")
        return response.json() if response.status_code == 200 else None

    body = await eventually(ready)
    assert body["status"] == "ready" and body["checks"] == {"kafka": "ok", "mongodb": "ok"}
    assert body["consumers"] and all(
        state.endswith(" partitions") for state in body["consumers"].values()
    )
    assert body["write_concern"] == {"w": "majority", "j": True}
    assert isinstance(body["lag"], int) or body["lag"] is None
    async with system.http(service) as client:
        live = await client.get("/health/live")
    assert live.status_code == 200 and live.json()["status"] == "live"

    async def probed() -> bool:
        async with system.http(service) as client:
            text = (await client.get("/metrics")).text
        return 'tyndau_dependency_up{dependency="mongodb"} 1.0' in text or None

    assert await eventually(probed)
