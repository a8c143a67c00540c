"""A real Prometheus server scrapes the four running services (over real HTTP), evaluates
the KPI recording rules, and answers a KPI query with the number of appeals we sent."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from contracts import deterministic_id, topics
from tests.conftest import Infra
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.http import free_port, served_over_http
from tests.support.system import TopicWatcher, running_system

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"


@contextlib.contextmanager
def prometheus_server(tmp_path: Path, targets: dict[str, int]):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: run `make test` (deploy/local/tools.sh installs it)")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "tyndau",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{port}"], "labels": {"service": name}}
                    for name, port in targets.items()
                ],
            }
        ],
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def query_until(base_url: str, promql: str, expected: float, timeout: float = 45) -> float:
    deadline = time.monotonic() + timeout
    last: object = None
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get("/api/v1/query", params={"query": promql})
                if response.status_code != 200:  # "Service Unavailable" while it starts
                    last = f"{response.status_code} {response.text[:200]}"
                    await asyncio.sleep(0.5)
                    continue
                result = response.json().get("data", {}).get("result", [])
                last = result
                if result and float(result[0]["value"][1]) == expected:
                    return expected
            await asyncio.sleep(0.5)
    raise AssertionError(f"{promql} did not reach {expected} within {timeout} s; last: {last}")


async def test_prometheus_scrapes_the_services_and_reports_appeals_by_region_and_channel(
    infra: Infra, tmp_path: Path, unique_id: str
) -> None:
    prefix = f"p{unique_id[:8]}-"
    async with running_system(infra.kafka_bootstrap_servers, infra.mongodb_url, prefix) as system:
        async with served_over_http(system.apps) as ports:
            with prometheus_server(tmp_path, ports) as prometheus:
                calls = [call_1414(f"prom-{unique_id}-{i}") for i in range(3)]
                for call in calls:
                    call["kato_code"] = "791010000"  # Shymkent
                    await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])
                ids = {deterministic_id("appeal", "1414", c["call_id"]) for c in calls}
                async with TopicWatcher(
                    system.bootstrap, system.topic(topics.APPEALS_REGISTERED)
                ) as w:
                    await w.wait_for(lambda e: e.get("appeal_id") in ids, count=3)

                await query_until(prometheus, 'up{job="tyndau"} == 1', 1)
                kpi = 'tyndau:appeals_registered:sum_by_region_channel{region="79", channel="1414"}'
                assert await query_until(prometheus, kpi, 3) == 3
