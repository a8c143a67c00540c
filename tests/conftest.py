"""Shared test fixtures.

Unit tests (tests/unit) need nothing. Tests marked `infra` need the real Kafka broker and the
MongoDB-wire store: `make test` starts them (deploy/local/infra.sh); KAFKA_BOOTSTRAP_SERVERS /
MONGODB_URL point elsewhere. When they cannot be reached the tests FAIL with the reason —
they are never skipped. Where a Docker engine answers and TYNDAU_TESTCONTAINERS=1 is set, the
servers come from testcontainers instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    mongodb_url: str


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _kafka_reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return _reachable(host or "127.0.0.1", int(port))


def _mongo_reachable(url: str) -> bool:
    parsed = urlparse(url)
    return _reachable(parsed.hostname or "127.0.0.1", parsed.port or 27017)


@pytest.fixture(scope="session")
async def infra() -> AsyncIterator[Infra]:
    if os.environ.get("TYNDAU_TESTCONTAINERS") == "1":
        for running in _testcontainers_infra():
            yield running
        return
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    mongo = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/")
    problems = []
    if not _kafka_reachable(kafka):
        problems.append(f"Kafka is not reachable at {kafka}")
    if not _mongo_reachable(mongo):
        problems.append(f"the MongoDB-wire store is not reachable at {mongo}")
    # The keys `make run` makes at the first start (lookup, audit, token issuer), if missing.
    from services.common.secret_files import ensure_local_secrets

    ensure_local_secrets()
    if problems:
        pytest.fail(
            "; ".join(problems)
            + ". Run the tests with `make test` (it starts both), or start them with "
            "`deploy/local/infra.sh start`.",
            pytrace=False,
        )
    yield Infra(kafka, mongo)
    await _remove_prepared(kafka, mongo)


async def _remove_prepared(bootstrap: str, mongodb_url: str) -> None:
    """What this session made under its prefixes (tests/support/kafka.py) goes with it:
    topics, their ACLs and the databases — a developer's long-lived local broker and store
    do not fill up with test runs (they had: hundreds of databases of earlier sessions)."""
    from services.common.topics_admin import remove_prefixed
    from tests.support.kafka import PREPARED_PREFIXES

    for prefix in sorted(PREPARED_PREFIXES - {""}):
        await remove_prefixed(bootstrap, mongodb_url, prefix)


def _testcontainers_infra() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:7") as mongo:
        yield Infra(kafka.get_bootstrap_server(), mongo.get_connection_url())


@pytest.fixture(scope="session")
def run_prefix() -> str:
    """Unique per test session: topics and databases of one run never meet another's."""
    return f"t{uuid.uuid4().hex[:8]}-"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath) or "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.infra)


@pytest.fixture
def unique_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def scratch_db(infra: Infra, run_prefix: str, unique_id: str):
    """A fresh database on the real store for one test, dropped after it."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    database = client[f"{run_prefix}scratch-{unique_id}"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


@pytest.fixture(scope="session")
async def system(infra: Infra, run_prefix: str):
    """The four services running in-process against the real broker and store."""
    from tests.support.system import running_system

    async with running_system(
        infra.kafka_bootstrap_servers, infra.mongodb_url, run_prefix
    ) as running:
        yield running


def pytest_report_header(config: pytest.Config) -> list[str]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    mongo = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/")
    return [
        f"tyndau: Kafka {kafka} ({'reachable' if _kafka_reachable(kafka) else 'NOT reachable'}), "
        f"MongoDB wire {mongo} ({'reachable' if _mongo_reachable(mongo) else 'NOT reachable'})"
    ]
