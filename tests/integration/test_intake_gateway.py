"""The HTTP gateway and the status endpoint, against the real broker and store: one intake
(with gateway keys) on its own topic and database prefix. Lifecycle events are published the
way routing, an agency and sla would, so the status page can be checked step by step."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from starlette.applications import Starlette

from contracts import (
    AppealAccepted,
    AppealRouted,
    DeadlineExtended,
    HttpGatewayAppeal,
    SlaWarning,
    deterministic_id,
    topics,
)
from services.intake.app import LIFECYCLE_TOPICS
from services.intake.channels import CHANNEL_FORMATS
from services.intake.settings import IntakeSettings
from tests.support.auth import bearer
from tests.support.intake import running_intake
from tests.support.system import TopicWatcher, eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

RECEPTION_KEY = "reception-key-0123456789abcdef"
BRIDGE_KEY = "emailbridge-key-fedcba9876543210"


@dataclass
class Gateway:
    app: Starlette
    prefix: str
    bootstrap: str
    mongo: AsyncMongoClient
    producer: AIOKafkaProducer

    def client(self, key: str | None = RECEPTION_KEY) -> httpx.AsyncClient:
        headers = {"X-API-Key": key} if key is not None else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://intake", headers=headers
        )

    def topic(self, name: str) -> str:
        return self.prefix + name

    async def publish_event(self, name: str, event: Any) -> None:
        await self.producer.send_and_wait(
            self.topic(name), event.model_dump_json().encode(), key=event.appeal_id.encode()
        )


@pytest.fixture(scope="module")
async def gateway(infra: Infra, run_prefix: str) -> AsyncIterator[Gateway]:
    prefix = f"{run_prefix}gw-"
    needed = [fmt.topic for fmt in CHANNEL_FORMATS] + [*LIFECYCLE_TOPICS]
    needed += [topics.APPEALS_REGISTERED, topics.APPEALS_REJECTED, topics.APPEALS_DLQ]
    keys = f"reception:{RECEPTION_KEY},emailbridge:{BRIDGE_KEY}"
    async with running_intake(infra, prefix, dict.fromkeys(needed, 1), keys) as running:
        yield Gateway(
            running.app, prefix, infra.kafka_bootstrap_servers, running.mongo, running.producer
        )


def appeal(channel_appeal_id: str, **changes: Any) -> dict[str, Any]:
    body = HttpGatewayAppeal.example().model_dump(mode="json")
    body["channel_appeal_id"] = channel_appeal_id
    body["applicant"] = {**body["applicant"], **changes.pop("applicant", {})}
    return {**body, **changes}


async def metric(gateway: Gateway, pattern: str) -> float:
    async with gateway.client(None) as client:
        text = (await client.get("/metrics")).text
    found = re.search(pattern + r" ([0-9.e+]+)", text)
    return float(found.group(1)) if found else 0.0


# --- authentication -----------------------------------------------------------------------


async def test_a_request_without_a_key_is_refused_401_and_counted(
    gateway: Gateway, unique_id: str
) -> None:
    before = await metric(
        gateway, r'tyndau_intake_gateway_refused_total\{reason="api_key_missing"\}'
    )
    async with gateway.client(None) as client:
        response = await client.post("/v1/appeals", json=appeal(f"VR-{unique_id}"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "ApiKey"
    after = await metric(
        gateway, r'tyndau_intake_gateway_refused_total\{reason="api_key_missing"\}'
    )
    assert after == before + 1


async def test_a_request_with_a_wrong_key_is_refused_403_counted_and_the_key_never_logged(
    gateway: Gateway, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = f"guessed-{unique_id}-key"
    before = await metric(gateway, r'tyndau_intake_gateway_refused_total\{reason="api_key_wrong"\}')
    async with gateway.client(wrong) as client:
        response = await client.post("/v1/appeals", json=appeal(f"VR-{unique_id}"))
    assert response.status_code == 403
    assert response.json()["error"] == "api_key_wrong"
    after = await metric(gateway, r'tyndau_intake_gateway_refused_total\{reason="api_key_wrong"\}')
    assert after == before + 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert wrong not in logged and RECEPTION_KEY not in logged


# --- registration through the gateway -----------------------------------------------------


async def test_an_appeal_is_registered_201_and_a_resubmission_gets_the_same_number_200(
    gateway: Gateway, unique_id: str
) -> None:
    body = appeal(f"VR-{unique_id}")
    async with gateway.client() as client:
        first = await client.post("/v1/appeals", json=body)
        again = await client.post("/v1/appeals", json=body)
    assert first.status_code == 201, first.text
    number = first.json()["registration_number"]
    assert re.fullmatch(r"ZH-20260305-[0-9]{6}", number)
    assert first.headers["Location"] == f"/v1/appeals/{number}"
    assert first.json()["answer_due_at"] == "2026-04-01T18:00:00+05:00"
    assert again.status_code == 200
    assert again.json()["registration_number"] == number

    appeal_id = deterministic_id("appeal", "http", f"reception:VR-{unique_id}")
    async with TopicWatcher(gateway.bootstrap, gateway.topic(topics.APPEALS_REGISTERED)) as w:
        events = await w.wait_for(lambda e: e.get("appeal_id") == appeal_id, count=2)
    assert {e["event_id"] for e in events} == {events[0]["event_id"]}
    assert events[0]["channel"] == "http"


async def test_the_same_appeal_posted_three_times_at_once_gets_one_number(
    gateway: Gateway, unique_id: str
) -> None:
    body = appeal(f"VR-race-{unique_id}")
    async with gateway.client() as client:
        responses = await asyncio.gather(*(client.post("/v1/appeals", json=body) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 200, 201]  # one creates it
    assert len({r.json()["registration_number"] for r in responses}) == 1
    number, code = responses[0].json()["registration_number"], responses[0].json()["lookup_code"]
    assert {r.json()["lookup_code"] for r in responses} == {code}
    async with gateway.client(None) as client:
        assert (await client.get(f"/v1/appeals/{number}", params={"code": code})).status_code == 200


async def test_two_gateway_clients_may_use_the_same_id_without_colliding(
    gateway: Gateway, unique_id: str
) -> None:
    body = appeal(f"shared-{unique_id}")
    async with gateway.client(RECEPTION_KEY) as reception, gateway.client(BRIDGE_KEY) as bridge:
        from_reception = await reception.post("/v1/appeals", json=body)
        from_bridge = await bridge.post("/v1/appeals", json=body)
    assert from_reception.status_code == from_bridge.status_code == 201
    assert from_reception.json()["registration_number"] != from_bridge.json()["registration_number"]
    assert from_bridge.json()["channel_appeal_id"] == f"emailbridge:shared-{unique_id}"


async def test_an_appeal_breaking_rules_is_refused_422_with_every_field_named(
    gateway: Gateway, unique_id: str
) -> None:
    body = appeal(
        f"VR-{unique_id}",
        kind="petition",
        region_kato="7118",
        applicant={"iin": "780215300008", "email": "no-at-sign"},
    )
    async with gateway.client() as client:
        response = await client.post("/v1/appeals", json=body)
    assert response.status_code == 422
    assert response.json()["reason_code"] == "validation_failed"
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("kind", "kind_unknown"),
        ("region_kato", "kato_format"),
        ("applicant.iin", "iin_check_digit"),
        ("applicant.email", "email_format"),
    }
    # The same list goes to appeals.rejected.v1, as for any channel.
    appeal_id = deterministic_id("appeal", "http", f"reception:VR-{unique_id}")
    async with TopicWatcher(gateway.bootstrap, gateway.topic(topics.APPEALS_REJECTED)) as w:
        [event] = await w.wait_for(lambda e: e.get("appeal_id") == appeal_id)
    assert {e["code"] for e in event["errors"]} == {e["code"] for e in response.json()["errors"]}


async def test_an_anonymous_complaint_is_refused_422_with_the_reason_the_citizen_can_be_shown(
    gateway: Gateway, unique_id: str
) -> None:
    body = appeal(f"VR-{unique_id}", applicant={"anonymous": True})
    async with gateway.client() as client:
        response = await client.post("/v1/appeals", json=body)
    assert response.status_code == 422
    assert response.json()["reason_code"] == "anonymous_not_considered"


async def test_json_that_is_not_the_gateway_format_is_refused_422_and_non_json_400(
    gateway: Gateway, unique_id: str
) -> None:
    body = appeal(f"VR-{unique_id}")
    del body["text"]
    body["applicant"]["anonymous"] = "no"
    async with gateway.client() as client:
        not_the_format = await client.post("/v1/appeals", json=body)
        not_json = await client.post("/v1/appeals", content=b"{text: oops")
    assert not_the_format.status_code == 422
    assert not_the_format.json()["reason_code"] == "not_the_format"
    assert {(e["field"], e["code"]) for e in not_the_format.json()["errors"]} == {
        ("text", "required"),
        ("applicant.anonymous", "wrong_type"),
    }
    assert not_json.status_code == 400


async def test_a_body_over_the_size_limit_is_refused_413_even_without_a_content_length(
    gateway: Gateway, unique_id: str
) -> None:
    huge = json.dumps(appeal(f"VR-{unique_id}", text="ы" * 70_000)).encode()  # ~140 KB
    assert len(huge) > IntakeSettings().max_body_bytes

    async def chunked():  # a streamed body: no Content-Length to trust
        for start in range(0, len(huge), 16_384):
            yield huge[start : start + 16_384]

    async with gateway.client() as client:
        declared = await client.post("/v1/appeals", content=huge)
        streamed = await client.post("/v1/appeals", content=chunked())
    assert declared.status_code == streamed.status_code == 413


# --- the status page ----------------------------------------------------------------------


async def test_an_unknown_registration_number_is_404(gateway: Gateway) -> None:
    async with gateway.client(None) as client:
        response = await client.get("/v1/appeals/ZH-20260305-999999", params={"code": "P3RM-9TQ5"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_the_status_page_follows_lifecycle_events_once_each_without_personal_data(
    gateway: Gateway, unique_id: str
) -> None:
    async with gateway.client() as client:
        created = await client.post("/v1/appeals", json=appeal(f"VR-{unique_id}"))
    number = created.json()["registration_number"]
    appeal_id = created.json()["appeal_id"]
    envelope = {"appeal_id": appeal_id, "correlation_id": appeal_id}

    def like(model: Any, suffix: str, **changes: Any) -> Any:
        data = model.example().model_dump() | envelope | changes
        return model.model_validate(data | {"event_id": f"{unique_id}-{suffix}"})

    routed = like(AppealRouted, "routed", registration_number=number, agency_code="astana-roads")
    accepted = like(AppealAccepted, "accepted", agency_code="astana-roads")
    extended = like(DeadlineExtended, "extended", agency_code="astana-roads")
    warning = like(
        SlaWarning,
        "warning",
        agency_code="astana-roads",
        due_at=extended.new_due_at,
        occurred_at=extended.occurred_at + timedelta(days=1),
    )
    await gateway.publish_event(topics.APPEALS_ROUTED, routed)
    await gateway.publish_event(topics.AGENCY_ACTIONS, accepted)
    await gateway.publish_event(topics.AGENCY_ACTIONS, extended)
    await gateway.publish_event(topics.AGENCY_ACTIONS, extended)  # redelivered: no second entry
    await gateway.publish_event(topics.SLA_EVENTS, warning)

    async def full_timeline() -> dict | None:
        # Polled as an operator would (no rate limit); then once as the applicant.
        async with gateway.client(None) as client:
            response = await client.get(f"/v1/appeals/{number}", headers=bearer("supervisor"))
            status = response.json()
        return status if len(status["timeline"]) >= 5 else None

    await eventually(full_timeline)
    async with gateway.client(None) as client:
        code = created.json()["lookup_code"]
        status = (await client.get(f"/v1/appeals/{number}", params={"code": code})).json()
    assert status["status"] == "extended"
    assert status["current_body"] == "astana-roads"
    assert status["answer_due_at"] == "2026-04-30T18:00:00+05:00"
    assert [entry["event_type"] for entry in status["timeline"]] == [
        "appeal.registered",
        "appeal.routed",
        "agency.accepted",
        "agency.extended",
        "sla.warning",
    ]
    text = json.dumps(status, ensure_ascii=False)
    for personal in ("780215300007", "+77471234567", "Серіков", "шұңқырлар", "a.temirbekov"):
        assert personal not in text
