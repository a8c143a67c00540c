"""Every service's HTTP interface against its own OpenAPI document, checked by a tool no one
here wrote: schemathesis (PyPI) reads `/docs/openapi.json` of each running service (the real
broker and store behind it, served over real HTTP) and sends what the document allows, and
what it does not. It fails on any 5xx, an answer whose status the operation does not
document, a body that does not match its schema, a wrong content type or missing header, a
request the document forbids that is served anyway, and a route that ignores its auth.

Not checked: `positive_data_acceptance` — a request can fit the schema and still be refused
for what it says (a point outside Kazakhstan, an unknown registration number), which the law
and the data decide, not the document. The examples, coverage and fuzzing phases run with a
fixed seed (TYNDAU_SCHEMATHESIS_SEED to try another), `TYNDAU_SCHEMATHESIS_EXAMPLES` cases
per operation (default 30).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.common.auth.issuer import LocalIssuer
from services.common.secret_files import secrets_dir
from tests.support.http import served_over_http
from tests.support.system import E2E_CLIENT_KEY, RunningSystem, running_system

SERVICES = ("intake", "routing", "sla", "notify")
# A caller holding every permission the routes ask for (services/common/auth/roles.py).
ROLES = ["call-centre-operator", "notify-operator", "assessment-analyst"]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = os.environ.get("TYNDAU_SCHEMATHESIS_EXAMPLES", "30")
SEED = os.environ.get("TYNDAU_SCHEMATHESIS_SEED", "20261204")


@pytest.fixture(scope="module")
async def fuzzed(infra, run_prefix: str) -> AsyncIterator[RunningSystem]:  # noqa: ANN001
    # A system of its own: the fuzzer files appeals nobody else should have to step over.
    async with running_system(
        infra.kafka_bootstrap_servers, infra.mongodb_url, f"{run_prefix}oas-"
    ) as system:
        yield system


@pytest.fixture(scope="module")
async def ports(fuzzed: RunningSystem) -> AsyncIterator[dict[str, int]]:
    async with served_over_http({name: fuzzed.apps[name] for name in SERVICES}) as served:
        yield served


async def schemathesis(url: str, *options: str) -> tuple[int, str]:
    token = LocalIssuer(secrets_dir()).token("schemathesis", ROLES, seconds=3600)
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        url,
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--no-color",
        "--header",
        f"Authorization: Bearer {token}",
        "--header",
        f"X-Api-Key: {E2E_CLIENT_KEY}",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.parametrize("service", SERVICES)
async def test_the_service_answers_as_its_openapi_document_says(
    service: str, ports: dict[str, int]
) -> None:
    base = f"http://127.0.0.1:{ports[service]}"
    async with httpx.AsyncClient() as client:
        document = (await client.get(f"{base}/docs/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    code, output = await schemathesis(f"{base}/docs/openapi.json")
    assert code == 0, output[-12000:]
    # It tested every operation the document has (none skipped as unusable), but the one
    # serving the document itself, which schemathesis leaves out when it loads it from there.
    operations = sum(len(methods) for methods in document["paths"].values())
    assert f"Tested: {operations - 1}\n" in output, output[-3000:]
