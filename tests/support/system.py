"""Runs the four services in-process against the real broker and store, on topics and
databases unique to the test session, and watches topics like an outside consumer would."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from starlette.applications import Starlette

from reference.agencies import AgencyRegistry
from services.common.clock import ManualClock
from services.common.settings import ServiceSettings, settings_for
from services.common.topics_admin import planned_topics, remove_prefixed
from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.notify.app import create_app as create_notify
from services.notify.settings import NotifySettings
from services.routing.app import create_app as create_routing
from services.sla.app import create_app as create_sla
from tests.support import kafka
from tests.support.kafka import prepare_broker

FACTORIES: dict[str, Callable[[ServiceSettings], Starlette]] = {
    "intake": create_intake,
    "routing": create_routing,
    "sla": create_sla,
    "notify": create_notify,
}


# Whole-system tests run "as of" the date of their channel fixtures (calls of 2026-03-05):
# SLA time stands still there unless a test moves `RunningSystem.sla_clock`, so deadlines of
# fixture appeals do not all breach at once against the machine's real date.
TEST_PRESENT = datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("Asia/Almaty"))


@dataclass
class RunningSystem:
    prefix: str
    bootstrap: str
    mongo: AsyncMongoClient
    apps: dict[str, Starlette] = field(default_factory=dict)
    producer: AIOKafkaProducer | None = None
    sla_clock: ManualClock = field(default_factory=lambda: ManualClock(TEST_PRESENT))

    def topic(self, name: str) -> str:
        return self.prefix + name

    def db(self, service: str):
        return self.mongo[self.prefix + service]

    def http(self, service: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.apps[service])
        return httpx.AsyncClient(transport=transport, base_url=f"http://{service}")

    async def publish(
        self,
        topic_name: str,
        value: bytes | dict,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        assert self.producer is not None
        payload = value if isinstance(value, bytes) else json.dumps(value).encode()
        await self.producer.send_and_wait(
            self.topic(topic_name),
            payload,
            key=key.encode() if key else None,
            headers=[(k, v.encode()) for k, v in (headers or {}).items()] or None,
        )


async def prepare_topics(bootstrap: str, prefix: str) -> None:
    await prepare_broker(bootstrap, planned_topics(AgencyRegistry.default().by_code), prefix)


E2E_CLIENT = "fixmystreet"
E2E_CLIENT_KEY = "fixmystreet-key-0123456789abcdef"
E2E_SMS_OPERATOR, E2E_SMS_OPERATOR_KEY = "sms-operator", "sms-operator-key-0123456789abcdef"
E2E_GATEWAY_KEYS = f"{E2E_CLIENT}:{E2E_CLIENT_KEY},{E2E_SMS_OPERATOR}:{E2E_SMS_OPERATOR_KEY}"


@asynccontextmanager
async def running_system(
    bootstrap: str,
    mongodb_url: str,
    prefix: str,
    services: tuple[str, ...] = tuple(FACTORIES),
    notify_directory: str | None = None,
    sla_calendar_file: str | None = None,
) -> AsyncIterator[RunningSystem]:
    """The services running in-process; `notify_directory` (inline JSON) gives notify the
    staff it may tell (services/notify/directory.py); `sla_calendar_file` puts sla on
    another working-day calendar (TYNDAU_CALENDAR_FILE), as after a decree is loaded."""
    await prepare_topics(bootstrap, prefix)
    mongo: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
    system = RunningSystem(prefix=prefix, bootstrap=bootstrap, mongo=mongo)
    async with AsyncExitStack() as stack:
        # Last out: once the services have stopped, remove what this run created, so a
        # developer's long-lived local broker and store do not fill up with test runs.
        stack.push_async_callback(remove_prefixed, bootstrap, mongodb_url, prefix)
        stack.push_async_callback(mongo.close)
        for name in services:
            settings = settings_for(
                name,
                kafka_bootstrap_servers=bootstrap,
                mongodb_url=mongodb_url,
                topic_prefix=prefix,
                database_prefix=prefix,
            )
            if name == "intake":
                # A gateway client of its own, for the tests that file through HTTP/Open311,
                # and room for their polling of the public Open311 feed.
                settings = IntakeSettings.specialise(
                    settings,
                    api_keys=E2E_GATEWAY_KEYS,
                    sms_reply_clients=E2E_SMS_OPERATOR,
                    open311_reads_per_minute=6000,
                    open311_reads_burst=1000,
                )
            if name == "notify" and notify_directory:
                settings = NotifySettings.specialise(settings, directory=notify_directory)
            if name == "sla" and sla_calendar_file:
                settings = settings.model_copy(update={"calendar_file": sla_calendar_file})
            if name == "sla":
                app = create_sla(settings, clock=system.sla_clock)
            else:
                app = FACTORIES[name](settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            system.apps[name] = app
        system.producer = kafka.producer(bootstrap, acks="all")
        await system.producer.start()
        stack.push_async_callback(system.producer.stop)
        yield system


class TopicWatcher:
    """Reads a topic from the beginning, like an agency or a channel would, and answers
    "has an event matching X arrived yet?"."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = kafka.consumer(
            topic,
            bootstrap=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.seen: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []

    async def __aenter__(self) -> TopicWatcher:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    def headers_of(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, bytes]]:
        """Kafka headers of the messages seen so far whose JSON value matches."""
        found = []
        for _, value, headers in self.seen:
            try:
                event = json.loads(value)
            except ValueError:
                continue
            if predicate(event):
                found.append(headers)
        return found

    def events(self, predicate: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[dict]:
        decoded = []
        for _, value, _ in self.seen:
            try:
                event = json.loads(value)
            except ValueError:
                continue
            if predicate(event):
                decoded.append(event)
        return decoded

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0, count: int = 1
    ) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(predicate)
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{count} matching event(s) did not arrive on {self.topic} within {timeout} s; "
                    f"{len(self.seen)} message(s) seen, {len(found)} matched"
                )
            batch = await self.consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for records in batch.values():
                for record in records:
                    self.seen.append((record.key, record.value, dict(record.headers or ())))

    async def wait_for_distinct(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        count: int = 1,
        key: str = "event_id",
        timeout: float = 30.0,
    ) -> list[dict]:
        """Wait for `count` matching events with different `key`s and return the first of
        each: the services are at-least-once with deterministic ids, so a redelivered input
        may legitimately publish the same event again, and it counts once."""
        deadline = time.monotonic() + timeout
        while True:
            first: dict[Any, dict] = {}
            for event in self.events(predicate):
                first.setdefault(event.get(key), event)
            if len(first) >= count:
                return list(first.values())
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{count} distinct event(s) by {key} did not arrive on {self.topic} within "
                    f"{timeout} s; {len(first)} arrived"
                )
            await self.drain(0.2)

    async def read_to_end(self, timeout: float = 30.0) -> list[dict]:
        """Read every message the topic holds now (to its end offsets), and return all seen:
        what is absent after this was not published before it was called."""
        deadline = time.monotonic() + timeout
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=200)
        partitions = list(self.consumer.assignment())
        ends = await self.consumer.end_offsets(partitions)
        while any([await self._behind(p, end) for p, end in ends.items()]):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {self.topic} to its end in {timeout} s")
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self.seen.append((record.key, record.value, dict(record.headers or ())))
        return self.events()

    async def _behind(self, partition: Any, end: int) -> bool:
        return await self.consumer.position(partition) < end

    async def drain(self, seconds: float) -> None:
        """Keep reading for `seconds` (to show that nothing more arrives)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            batch = await self.consumer.getmany(timeout_ms=int(remaining * 1000))
            for records in batch.values():
                for record in records:
                    self.seen.append((record.key, record.value, dict(record.headers or ())))


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.2)
