"""Kafka clients for tests, authenticated like everyone else: the harness observes and
publishes as `admin` (the provisioning super user, standing in for the operators' tools and
for upstream services a test does not run); tests about who may do what use the restricted
principals (`identity_for("agency-…")`). Every prefix a test prepares gets its topics and the
access plan's ACLs, removed again at the end of the session."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka_auth import ADMIN, identity_for
from services.common.provisioning import prepare_prefix
from services.common.topics_admin import ensure_topics

PREPARED_PREFIXES: set[str] = set()
"""Prefixes the session prepared (tests/conftest.py removes their topics, ACLs and
databases at the end)."""


def producer(bootstrap: str, principal: str = ADMIN, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, **identity_for(principal).aiokafka(), **options
    )


def consumer(
    *topics: str, bootstrap: str, principal: str = ADMIN, **options: Any
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, **identity_for(principal).aiokafka(), **options
    )


def admin(bootstrap: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **identity_for(ADMIN).aiokafka())


async def prepare_broker(bootstrap: str, plan: dict[str, int], prefix: str) -> None:
    """The topics of `plan` under `prefix`, and the access plan's ACLs for that prefix."""
    if prefix in PREPARED_PREFIXES:
        await ensure_topics(bootstrap, plan, prefix)
        return
    await prepare_prefix(bootstrap, plan, prefix)
    PREPARED_PREFIXES.add(prefix)
