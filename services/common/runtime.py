"""The composition root's shared half: one Kafka broker, one MongoDB client, one metrics
registry per service, created in the service's lifespan and torn down with it.

A service builds a `ServiceRuntime`, registers its subscribers on `runtime.broker`, and hands
the runtime to `services.common.http.build_http_app`, which owns start-up and shut-down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.common.kafka_auth import KafkaIdentity, MissingCredentials, identity_for
from services.common.lag import ConsumerLagMonitor
from services.common.logs import MessageContextMiddleware
from services.common.metrics import MetricSet, counter, gauge
from services.common.preflight import check_access_async
from services.common.settings import ServiceSettings

log = logging.getLogger("tyndau.runtime")

# `*_created` series double every counter and no dashboard of ours reads them.
disable_created_metrics()

IndexSetup = Callable[[AsyncDatabase], Awaitable[None]]


class SecretCheck(Protocol):
    def check(self) -> None: ...


class RuntimeMetrics(MetricSet):
    """What every service counts besides its own metrics (and FastStream's per handler)."""

    dead_letters = counter(
        "tyndau_dead_letters_total",
        "Messages sent to appeals.dlq.v1 because they could not be read, by source topic.",
        "topic",
    )
    dependency_up = gauge(
        "tyndau_dependency_up",
        "1 when the dependency (kafka, mongodb) answered the last probe (every 5 s), else 0.",
        "dependency",
    )


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient
    registry: CollectorRegistry
    # Coroutines run once the database answers and before the broker starts consuming:
    # indexes must exist before the first message relies on them for idempotency.
    on_database_ready: list[IndexSetup] = field(default_factory=list)
    lag_monitor: ConsumerLagMonitor | None = None
    dead_letters: Counter | None = None
    dependency_up: Gauge | None = None
    probe: asyncio.Task | None = None
    identity: KafkaIdentity | None = None
    # Real names of the topics the service writes (checked at start, see preflight.py).
    publishes: set[str] = field(default_factory=set)
    # Secrets the service cannot work without, checked before anything starts (each has a
    # `check()` raising MissingSecret; services/common/secret_files.py).
    required_secrets: list[SecretCheck] = field(default_factory=list)
    # The secrets and the broker's grants were checked before uvicorn started (serve.py):
    # start_runtime does not log in to the broker a second time to check them again.
    preflight_done: bool = False

    @property
    def write_concern(self) -> dict[str, object]:
        return dict(self.mongo.write_concern.document)

    @property
    def db(self) -> AsyncDatabase:
        return self.mongo[self.settings.database_name]

    def topic(self, name: str) -> str:
        return self.settings.topic(name)


def document_publications(
    runtime: ServiceRuntime, publications: list[tuple[str, object, str]]
) -> None:
    """Declare what the service publishes — (public topic, payload model, description) — so
    its AsyncAPI document shows outputs as well as inputs. Services publish through
    `services.common.messaging.publish_event`; these declarations only document."""
    for topic_name, model, description in publications:
        if "{" not in topic_name:
            runtime.publishes.add(runtime.topic(topic_name))
        runtime.broker.publisher(
            runtime.topic(topic_name),
            title=f"{runtime.settings.service_name}.publishes.{topic_name}",
            description=description,
            schema=model,
        )


def membership(runtime: ServiceRuntime, title: str) -> dict[str, Any]:
    """A subscriber's consumer-group membership options. Each subscriber is its own
    consumer, so a static member id is the instance id plus the subscriber's title.

    Why static membership: a consumer killed and restarted within the session timeout
    rejoins as the same member and gets its partitions back at once, where a dynamic member
    waits for the dead one's session to expire (~10 s) and rebalances everyone. The cost: a
    static member does not leave on a clean stop, so an instance stopped for good (scaled
    down) hands its partitions over only after the session timeout. Without
    TYNDAU_INSTANCE_ID members are dynamic and leave the group at once on SIGTERM."""
    settings = runtime.settings
    session = settings.kafka_session_timeout_ms
    options: dict[str, Any] = {
        "session_timeout_ms": session,
        "heartbeat_interval_ms": max(1_000, session // 5),
    }
    if settings.instance_id:
        options["group_instance_id"] = f"{settings.instance_id}.{title}"
    return options


def create_runtime(settings: ServiceSettings) -> ServiceRuntime:
    """Make the clients; nothing connects until `start_runtime`. The broker connection
    authenticates as the service's principal (services/common/kafka_auth.py)."""
    registry = CollectorRegistry()
    try:
        identity: KafkaIdentity | None = identity_for(settings.kafka_principal)
    except MissingCredentials:
        identity = None  # an app built only to be described (make docs); start_runtime fails
    broker = KafkaBroker(
        settings.kafka_bootstrap_list,
        security=identity.faststream() if identity else None,
        # Topics are made by provisioning, with their partitions; no service creates one.
        allow_auto_create_topics=False,
        client_id=f"tyndau-{settings.service_name}",
        middlewares=[
            MessageContextMiddleware,
            KafkaPrometheusMiddleware(
                registry=registry, app_name=f"tyndau-{settings.service_name}"
            ),
        ],
        # Wait for the broker's acknowledgement of every write: an event is "published" only
        # when Kafka has it, before we commit the offset of the message that caused it.
        acks="all",
        enable_idempotence=True,
        graceful_timeout=15.0,
        logger=logging.getLogger(f"tyndau.{settings.service_name}.broker"),
    )
    concern = settings.mongodb_write_concern
    mongo: AsyncMongoClient = AsyncMongoClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=10_000,
        appname=f"tyndau-{settings.service_name}",
        w=int(concern) if concern.isdigit() else concern,
        journal=True,
    )
    metrics = RuntimeMetrics(registry)
    return ServiceRuntime(
        settings=settings,
        broker=broker,
        mongo=mongo,
        registry=registry,
        lag_monitor=ConsumerLagMonitor(broker, registry),
        dead_letters=metrics.dead_letters,
        dependency_up=metrics.dependency_up,
        identity=identity,
    )


async def wait_for_database(runtime: ServiceRuntime, attempts: int = 30) -> None:
    """Ping the store until it answers; a service must not consume before it can write."""
    for attempt in range(1, attempts + 1):
        try:
            await runtime.mongo.admin.command("ping")
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            if attempt == attempts:
                raise RuntimeError(
                    f"MongoDB at {runtime.settings.mongodb_url} did not answer: {exc}"
                ) from exc
            log.warning("database not reachable yet (%s), retrying", exc)
            await asyncio.sleep(1)


def subscribed_topics(runtime: ServiceRuntime) -> set[str]:
    return {
        name
        for subscriber in runtime.broker.subscribers
        for name in getattr(subscriber, "topic_names_for_subscribe", [])
    }


async def check_broker_access(runtime: ServiceRuntime) -> None:
    """AccessDenied (one line: principal, topic, operation) unless the broker lets this
    service read every topic it subscribes to and write every topic it publishes."""
    if runtime.identity is None:  # says where the password was looked for
        identity_for(runtime.settings.kafka_principal)
    assert runtime.identity is not None
    await check_access_async(
        runtime.settings.kafka_bootstrap_servers,
        runtime.identity,
        subscribed_topics(runtime),
        runtime.publishes,
    )


def check_secrets(runtime: ServiceRuntime) -> None:
    """MissingSecret (one line: which variable, which file) unless every secret is there."""
    for secret in runtime.required_secrets:
        secret.check()


async def start_runtime(runtime: ServiceRuntime) -> None:
    if not runtime.preflight_done:
        check_secrets(runtime)
        await check_broker_access(runtime)
    await wait_for_database(runtime)
    for setup in runtime.on_database_ready:
        await setup(runtime.db)
    await runtime.broker.start()
    if runtime.lag_monitor is not None:
        runtime.lag_monitor.start()
    runtime.probe = asyncio.create_task(_probe(runtime), name="dependency-probe")


PROBE_SECONDS = 5.0


async def _probe(runtime: ServiceRuntime) -> None:
    """Keep `tyndau_dependency_up` current, so an outage of the store or the broker is an
    alert (deploy/prometheus/rules/alerts.yml) while the service waits it out."""
    while True:
        checks = await health(runtime)
        if runtime.dependency_up is not None:
            for dependency, state in checks.items():
                runtime.dependency_up.labels(dependency).set(1 if state == "ok" else 0)
        await asyncio.sleep(PROBE_SECONDS)


async def stop_runtime(runtime: ServiceRuntime) -> None:
    try:
        if runtime.probe is not None:
            runtime.probe.cancel()
            await asyncio.gather(runtime.probe, return_exceptions=True)
        if runtime.lag_monitor is not None:
            await runtime.lag_monitor.stop()
        await runtime.broker.stop()
    finally:
        await runtime.mongo.close()


async def health(runtime: ServiceRuntime) -> dict[str, str]:
    """Whether the broker and the database answer now ("ok" or the error). (Readiness adds
    the consumers: services/common/http.py.)"""
    checks: dict[str, str] = {}
    try:
        checks["kafka"] = "ok" if await runtime.broker.ping(timeout=2.0) else "unreachable"
    except Exception as exc:  # noqa: BLE001
        checks["kafka"] = f"error: {exc}"
    try:
        await asyncio.wait_for(runtime.mongo.admin.command("ping"), timeout=2.0)
        checks["mongodb"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["mongodb"] = f"error: {type(exc).__name__}"
    return checks
