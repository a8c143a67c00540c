"""The status timeline against the real broker and store: lifecycle events are consumed in
keyed batches and each entry is one inserted document, read back with one `_id` range
(services/intake/service.py). One intake (with a gateway key, to register appeals) on its
own topic and database prefix; lifecycle events are published the way routing, an agency
and sla would."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.collection import AsyncCollection
from starlette.applications import Starlette

from contracts import (
    AppealAccepted,
    AppealRouted,
    DeadlineExtended,
    Event,
    HttpGatewayAppeal,
    SlaBreached,
    SlaTimerStarted,
    SlaWarning,
    topics,
)
from services.intake.app import LIFECYCLE_TOPICS
from services.intake.channels import CHANNEL_FORMATS
from services.intake.store import TIMELINES
from services.intake.timeline import timeline_entry
from tests.support.auth import bearer
from tests.support.intake import running_intake
from tests.support.system import TopicWatcher, eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

KEY = "timeline-key-0123456789abcdef"


@dataclass
class Intake:
    app: Starlette
    prefix: str
    bootstrap: str
    timelines: AsyncCollection
    producer: AIOKafkaProducer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://intake",
            headers={"X-API-Key": KEY},
        )

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def publish(self, name: str, *events: Event) -> None:
        """Publish at once (one producer batch), keyed by appeal id, in the order given."""
        sent = [
            await self.producer.send(
                self.topic(name), event.model_dump_json().encode(), key=event.appeal_id.encode()
            )
            for event in events
        ]
        await asyncio.gather(*sent)

    async def register(self, channel_appeal_id: str) -> tuple[str, str]:
        """A registered appeal's (registration number, appeal id)."""
        body = HttpGatewayAppeal.example().model_dump(mode="json")
        body["channel_appeal_id"] = channel_appeal_id
        async with self.client() as client:
            response = await client.post("/v1/appeals", json=body)
        assert response.status_code == 201, response.text
        return response.json()["registration_number"], response.json()["appeal_id"]

    async def status(self, number: str) -> dict:
        """The full status, as an operator sees it."""
        async with self.client() as client:
            response = await client.get(f"/v1/appeals/{number}", headers=bearer("supervisor"))
        assert response.status_code == 200, response.text
        return response.json()

    async def metric(self, pattern: str) -> float:
        async with self.client() as client:
            text = (await client.get("/metrics")).text
        found = re.search(pattern + r" ([0-9.e+]+)", text)
        return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
async def intake(infra: Infra, run_prefix: str) -> AsyncIterator[Intake]:
    prefix = f"{run_prefix}tl-"
    plan = dict.fromkeys([fmt.topic for fmt in CHANNEL_FORMATS], 1)
    plan |= dict.fromkeys(LIFECYCLE_TOPICS, 3)  # several partitions: batches mix them
    plan |= dict.fromkeys([topics.APPEALS_REGISTERED, topics.APPEALS_REJECTED], 1)
    plan |= {topics.APPEALS_DLQ: 1}
    async with running_intake(infra, prefix, plan, f"reception:{KEY}") as running:
        timelines = running.mongo[running.settings.database_name][TIMELINES]
        yield Intake(
            running.app, prefix, infra.kafka_bootstrap_servers, timelines, running.producer
        )


def like(model: type[Event], appeal_id: str, event_id: str, **changes: Any) -> Any:
    """The model's example, made an event of `appeal_id` with id `event_id`."""
    data = model.example().model_dump() | changes
    envelope = {"appeal_id": appeal_id, "correlation_id": appeal_id, "event_id": event_id}
    return model.model_validate(data | envelope)


def types_of(status: dict) -> list[str]:
    return [entry["event_type"] for entry in status["timeline"]]


async def timeline_reaching(intake: Intake, number: str, length: int) -> dict:
    async def check() -> dict | None:
        status = await intake.status(number)
        return status if len(status["timeline"]) >= length else None

    return await eventually(check)


# --- through Kafka ------------------------------------------------------------------------


async def test_many_appeals_events_published_at_once_all_land_in_their_timelines_in_order(
    intake: Intake, unique_id: str
) -> None:
    registered = await asyncio.gather(*(intake.register(f"TL-{unique_id}-{i}") for i in range(40)))
    before = await intake.metric(r'tyndau_intake_timeline_events_total\{event_type="sla.warning"\}')
    routed_events, sla_events = [], []
    for number, appeal_id in registered:
        routed = like(AppealRouted, appeal_id, f"{appeal_id}-routed", registration_number=number)
        at = routed.occurred_at + timedelta(hours=1)
        # Three SLA events of the same instant, ids in the reverse of their order: only the
        # order they were handled in can put them in this order.
        sla_events += [
            like(SlaTimerStarted, appeal_id, f"{appeal_id}-c", occurred_at=at),
            like(SlaWarning, appeal_id, f"{appeal_id}-b", occurred_at=at),
            like(SlaBreached, appeal_id, f"{appeal_id}-a", occurred_at=at),
        ]
        routed_events.append(routed)
    await asyncio.gather(
        intake.publish(topics.APPEALS_ROUTED, *routed_events),
        intake.publish(topics.SLA_EVENTS, *sla_events),
    )

    for number, _ in registered:
        status = await timeline_reaching(intake, number, 5)
        assert types_of(status) == [
            "appeal.registered",
            "appeal.routed",
            "sla.started",
            "sla.warning",
            "sla.breached",
        ], number
        assert status["status"] == "overdue"
        assert status["deadline_breached"] is True
    after = await intake.metric(r'tyndau_intake_timeline_events_total\{event_type="sla.warning"\}')
    assert after == before + 40


async def test_a_redelivered_event_adds_nothing_and_is_counted_once(
    intake: Intake, unique_id: str
) -> None:
    number, appeal_id = await intake.register(f"TL-{unique_id}")
    accepted_metric = r'tyndau_intake_timeline_events_total\{event_type="agency.accepted"\}'
    before = await intake.metric(accepted_metric)
    routed = like(AppealRouted, appeal_id, f"{unique_id}-routed", registration_number=number)
    accepted = like(AppealAccepted, appeal_id, f"{unique_id}-accepted")
    extended = like(DeadlineExtended, appeal_id, f"{unique_id}-extended")
    await intake.publish(topics.APPEALS_ROUTED, routed)
    # Twice in one batch (same key: one after the other), then again in a later batch.
    await intake.publish(topics.AGENCY_ACTIONS, accepted, accepted, extended)
    status = await timeline_reaching(intake, number, 4)
    warning = like(
        SlaWarning,
        appeal_id,
        f"{unique_id}-warning",
        due_at=extended.new_due_at,
        occurred_at=extended.occurred_at + timedelta(days=1),
    )
    await intake.publish(topics.AGENCY_ACTIONS, accepted)
    await intake.publish(topics.SLA_EVENTS, warning)
    status = await timeline_reaching(intake, number, 5)
    await asyncio.sleep(0.5)  # the late copy of `accepted` (same key, same partition) is done

    assert types_of(await intake.status(number)) == [
        "appeal.registered",
        "appeal.routed",
        "agency.accepted",
        "agency.extended",
        "sla.warning",
    ]
    assert status["status"] == "extended"
    assert await intake.metric(accepted_metric) == before + 1
    assert await intake.timelines.count_documents({"appeal_id": appeal_id}) == 4


async def test_a_timeline_of_the_earlier_layout_is_still_shown_and_merged_with_new_entries(
    intake: Intake, unique_id: str
) -> None:
    number, appeal_id = await intake.register(f"TL-{unique_id}")
    routed = like(AppealRouted, appeal_id, f"{unique_id}-routed", registration_number=number)
    accepted = like(AppealAccepted, appeal_id, f"{unique_id}-accepted")
    # Written by the code before one document per entry: one document, all entries in a list.
    await intake.timelines.insert_one(
        {"_id": appeal_id, "entries": [timeline_entry(routed), timeline_entry(accepted)]}
    )
    status = await intake.status(number)
    assert types_of(status) == ["appeal.registered", "appeal.routed", "agency.accepted"]
    assert status["status"] == "accepted"
    assert status["current_body"] == accepted.agency_code

    extended = like(DeadlineExtended, appeal_id, f"{unique_id}-extended")
    # `accepted` again (a redelivery of an event the old code had recorded), then a new one.
    await intake.publish(topics.AGENCY_ACTIONS, accepted, extended)
    status = await timeline_reaching(intake, number, 4)
    await asyncio.sleep(0.5)

    status = await intake.status(number)
    assert types_of(status) == [
        "appeal.registered",
        "appeal.routed",
        "agency.accepted",
        "agency.extended",
    ]
    assert status["status"] == "extended"
    assert status["answer_due_at"] == extended.new_due_at.isoformat()
    assert status["timeline"][1] == timeline_entry(routed)


async def test_entries_of_ids_that_merely_begin_with_the_appeal_id_are_not_shown(
    intake: Intake, unique_id: str
) -> None:
    number, appeal_id = await intake.register(f"TL-{unique_id}")
    # Both fall within the appeal's `_id` range; neither is an appeal intake issued.
    longer = like(AppealAccepted, f"{appeal_id}0", f"{unique_id}-longer")
    piped = like(AppealAccepted, f"{appeal_id}|x", f"{unique_id}-piped")
    mine = like(AppealAccepted, appeal_id, f"{unique_id}-mine", agency_code="astana-roads")
    await intake.publish(topics.AGENCY_ACTIONS, longer, piped, mine)
    await eventually(lambda: intake.timelines.count_documents({"appeal_id": f"{appeal_id}0"}))

    status = await timeline_reaching(intake, number, 2)
    await asyncio.sleep(0.5)
    status = await intake.status(number)
    assert [entry["event_id"] for entry in status["timeline"][1:]] == [mine.event_id]
    assert status["current_body"] == "astana-roads"
    assert await intake.timelines.count_documents({"appeal_id": f"{appeal_id}|x"}) == 0


async def test_an_undecodable_lifecycle_message_is_dead_lettered_and_the_batch_goes_on(
    intake: Intake, unique_id: str
) -> None:
    number, appeal_id = await intake.register(f"TL-{unique_id}")
    dead = r'tyndau_intake_dead_letters_total\{topic="agency.actions.v1"\}'
    before = await intake.metric(dead)
    garbage = f'{{"event_type": "agency.accepted", "oops": "{unique_id}"}}'.encode()
    accepted = like(AppealAccepted, appeal_id, f"{unique_id}-accepted")
    topic = intake.topic(topics.AGENCY_ACTIONS)
    await intake.producer.send_and_wait(topic, garbage, key=appeal_id.encode())
    await intake.publish(topics.AGENCY_ACTIONS, accepted)

    async with TopicWatcher(intake.bootstrap, intake.topic(topics.APPEALS_DLQ)) as watch:
        # (A redelivered batch would dead-letter it again: the first letter is the one.)
        letter = (
            await watch.wait_for(
                lambda e: e.get("payload_b64") and base64.b64decode(e["payload_b64"]) == garbage
            )
        )[0]
    assert letter["topic"] == topic
    assert letter["error_type"] == "Undecodable"
    assert base64.b64decode(letter["key_b64"]) == appeal_id.encode()
    assert await intake.metric(dead) >= before + 1
    status = await timeline_reaching(intake, number, 2)
    assert types_of(status) == ["appeal.registered", "agency.accepted"]
