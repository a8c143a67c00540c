"""Typed subscribers (services/common/subscribing.py), in memory with FastStream's
TestKafkaBroker: the handler gets the contract value, bytes that are not the contract go to
the dead-letter topic, and the AsyncAPI document shows the payload."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.message import KafkaMessage
from prometheus_client import CollectorRegistry

from contracts import AgencyAction, AppealAccepted, AppealRegistered, topics
from services.common.http import asyncapi_document
from services.common.runtime import ServiceRuntime
from services.common.settings import settings_for
from services.common.subscribing import subscribe, subscribe_in_keyed_batches


def make_runtime() -> ServiceRuntime:
    return ServiceRuntime(
        settings_for("subscribing-test"),
        KafkaBroker(),
        mongo=None,  # type: ignore[arg-type]
        registry=CollectorRegistry(),
    )


async def test_a_one_by_one_handler_gets_the_contract_value_and_garbage_is_dead_lettered() -> None:
    runtime = make_runtime()
    seen: list[object] = []
    letters: list[dict] = []

    async def on_action(action: object, message: KafkaMessage) -> None:
        seen.append(action)

    subscribe(
        runtime,
        {topics.AGENCY_ACTIONS: AgencyAction},
        group_id="g",
        handle=on_action,
        title="test.actions",
        description="Agency actions.",
    )

    @runtime.broker.subscriber(topics.APPEALS_DLQ)
    async def on_letter(body: dict) -> None:
        letters.append(body)

    accepted = AppealAccepted.example()
    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish(accepted.model_dump_json().encode(), topics.AGENCY_ACTIONS)
        await broker.publish(b'{"event_type": "agency.teleported"}', topics.AGENCY_ACTIONS)

    assert seen == [accepted]
    assert isinstance(seen[0], AppealAccepted)
    [letter] = letters
    assert letter["topic"] == topics.AGENCY_ACTIONS and "event_type" in letter["error"]


async def two_appeals_and_garbage_between(**handler: object) -> list[dict]:
    """Subscribe `handler` (handle= or whole_key=) to registered appeals, publish two with a
    record that is not JSON between them, in one batch; the dead letters that came of it."""
    runtime = make_runtime()
    letters: list[dict] = []
    subscribe_in_keyed_batches(
        runtime,
        {topics.APPEALS_REGISTERED: AppealRegistered},
        group_id="g",
        title="test.registered",
        description="Registered appeals.",
        **handler,  # type: ignore[arg-type]
    )

    @runtime.broker.subscriber(topics.APPEALS_DLQ)
    async def on_letter(body: dict) -> None:
        letters.append(body)

    first, second = (
        AppealRegistered.example().model_copy(update={"registration_number": number})
        for number in ("ZH-20260305-000001", "ZH-20260305-000002")
    )
    async with TestKafkaBroker(runtime.broker) as broker:
        await broker.publish_batch(
            first.model_dump_json().encode(),
            b"not json",
            second.model_dump_json().encode(),
            topic=topics.APPEALS_REGISTERED,
        )
    return letters


async def test_a_keyed_batch_handler_gets_each_records_contract_value_in_order() -> None:
    seen: list[str] = []

    async def on_registered(appeal: AppealRegistered, message: KafkaMessage) -> None:
        assert isinstance(appeal, AppealRegistered)
        seen.append(appeal.registration_number)

    letters = await two_appeals_and_garbage_between(handle=on_registered)

    assert seen == ["ZH-20260305-000001", "ZH-20260305-000002"]
    assert len(letters) == 1


async def test_a_whole_key_handler_gets_a_keys_readable_records_in_one_call() -> None:
    calls: list[list[str]] = []

    async def on_key(records: list[tuple[AppealRegistered, KafkaMessage]]) -> None:
        calls.append([appeal.registration_number for appeal, _ in records])

    letters = await two_appeals_and_garbage_between(whole_key=on_key)

    assert calls == [["ZH-20260305-000001", "ZH-20260305-000002"]]  # no key: one partition
    assert len(letters) == 1


def test_a_subscriber_takes_a_handler_per_record_or_per_key_not_both() -> None:
    async def ignore(*_: object) -> None: ...

    for handlers in ({}, {"handle": ignore, "whole_key": ignore}):
        with pytest.raises(ValueError, match="per record"):
            subscribe_in_keyed_batches(
                make_runtime(),
                {topics.APPEALS_REGISTERED: AppealRegistered},
                group_id="g",
                title="t",
                description="d",
                **handlers,
            )


def test_the_asyncapi_document_shows_what_each_subscriber_consumes() -> None:
    runtime = make_runtime()

    async def ignore(payload: object, message: KafkaMessage) -> None: ...

    subscribe_in_keyed_batches(
        runtime,
        {topics.APPEALS_REGISTERED: AppealRegistered},
        group_id="g",
        handle=ignore,
        title="test.registered",
        description="Registered appeals.",
    )
    subscribe(
        runtime,
        {topics.AGENCY_ACTIONS: AgencyAction},
        group_id="g2",
        handle=ignore,
        title="test.actions",
        description="Agency actions.",
    )
    document = json.loads(json.dumps(asyncapi_document(runtime)))
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    registered = messages["test.registered:SubscribeMessage"]["payload"]
    assert registered == {"$ref": "#/components/schemas/AppealRegistered"}
    actions = schemas[messages["test.actions:SubscribeMessage"]["payload"]["$ref"].split("/")[-1]]
    assert {ref["$ref"].split("/")[-1] for ref in actions["oneOf"]} == {
        "AppealAccepted",
        "AppealRedirected",
        "DeadlineExtended",
        "AppealAnswered",
    }
