"""Who may do what on the real broker: each principal gets exactly what the access plan
grants (services/common/provisioning/access.toml) and the broker refuses the rest, naming
the authorisation error; a body's decision on an appeal it does not hold is refused with a
reason; a service that starts with a wrong password or a missing grant says so in one line."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from contracts import (
    AppealAccepted,
    AppealRegistered,
    agency_actions,
    agency_inbox,
    deterministic_id,
    topics,
)
from services.common.kafka_auth import KafkaIdentity, identity_for
from services.common.preflight import AccessDenied, check_access
from tests.support import kafka
from tests.support.system import RunningSystem, TopicWatcher

ENERGY, SHYMKENT = "astana-energy", "akimat-shymkent"


async def send_as(system: RunningSystem, principal: str, topic: str, value: bytes) -> None:
    producer = kafka.producer(system.bootstrap, principal, request_timeout_ms=10_000)
    await producer.start()
    try:
        await producer.send_and_wait(system.topic(topic), value, key=b"k")
    finally:
        await producer.stop()


async def refused_to_write(system: RunningSystem, principal: str, topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await send_as(system, principal, topic, b"{}")


def consume_error(
    system: RunningSystem, principal: str, topic: str, group: str, *, commit: bool = False
) -> KafkaError | None:
    """Subscribe to `topic` as `principal` in `group` (and, with `commit`, commit the
    position) and return the error the broker answers with, or None once the consumer holds
    its partitions (and has committed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": system.bootstrap,
            **identity_for(principal).librdkafka(),
            "group.id": system.topic(group),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    try:
        consumer.subscribe([system.topic(topic)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                return message.error()
            if consumer.assignment():
                if commit:
                    start = [
                        TopicPartition(tp.topic, tp.partition, 0) for tp in consumer.assignment()
                    ]
                    consumer.commit(offsets=start, asynchronous=False)
                return None
        return KafkaError(KafkaError._TIMED_OUT)
    except KafkaException as exc:
        return exc.args[0]
    finally:
        consumer.close()


async def test_a_body_reads_its_own_inbox_but_not_another_bodys(system: RunningSystem) -> None:
    principal, group = f"agency-{SHYMKENT}", f"agency.{SHYMKENT}.reader"
    own = await asyncio.to_thread(consume_error, system, principal, agency_inbox(SHYMKENT), group)
    other = await asyncio.to_thread(consume_error, system, principal, agency_inbox(ENERGY), group)
    assert own is None
    assert other is not None and other.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


async def test_a_body_cannot_join_or_commit_in_another_bodys_group(system: RunningSystem) -> None:
    principal, inbox = f"agency-{SHYMKENT}", agency_inbox(SHYMKENT)
    own = await asyncio.to_thread(
        consume_error, system, principal, inbox, f"agency.{SHYMKENT}.desk", commit=True
    )
    other = await asyncio.to_thread(
        consume_error, system, principal, inbox, f"agency.{ENERGY}.desk", commit=True
    )
    assert own is None
    assert other is not None and other.code() == KafkaError.GROUP_AUTHORIZATION_FAILED


async def test_a_body_cannot_publish_on_another_bodys_decisions_topic(
    system: RunningSystem,
) -> None:
    await refused_to_write(system, f"agency-{SHYMKENT}", agency_actions(ENERGY))
    await refused_to_write(system, f"agency-{SHYMKENT}", topics.AGENCY_ACTIONS)


async def test_a_decision_on_an_appeal_the_body_does_not_hold_is_refused_with_the_reason(
    system: RunningSystem, unique_id: str
) -> None:
    appeal_id = f"appeal-{unique_id}"
    registered = AppealRegistered.example().model_copy(
        update={
            "appeal_id": appeal_id,
            "event_id": f"registered-{unique_id}",
            "correlation_id": appeal_id,
            "registration_number": f"ZH-20260305-{unique_id[:6].upper()}",
        }
    )
    await system.publish(
        topics.APPEALS_REGISTERED, registered.model_dump_json().encode(), appeal_id
    )
    async with TopicWatcher(system.bootstrap, system.topic(agency_inbox(ENERGY))) as energy:
        await energy.wait_for(lambda e: e.get("appeal_id") == appeal_id)  # routed to ENERGY

    def decision(agency: str, n: int) -> AppealAccepted:
        return AppealAccepted.example().model_copy(
            update={
                "appeal_id": appeal_id,
                "correlation_id": appeal_id,
                "event_id": deterministic_id("test.accepted", unique_id, agency, str(n)),
                "action_id": f"{agency}/{unique_id}/{n}",
                "agency_code": agency,
                "occurred_at": datetime.now(UTC),
            }
        )

    # Shymkent's akimat, on its own topic (all the broker lets it do), for Astana's appeal;
    # then naming the energy department on its own topic; then the holder itself.
    foreign, impersonated, rightful = (
        decision(SHYMKENT, 1),
        decision(ENERGY, 2),
        decision(ENERGY, 3),
    )
    await send_as(
        system, f"agency-{SHYMKENT}", agency_actions(SHYMKENT), foreign.model_dump_json().encode()
    )
    await send_as(
        system,
        f"agency-{SHYMKENT}",
        agency_actions(SHYMKENT),
        impersonated.model_dump_json().encode(),
    )
    await send_as(
        system, f"agency-{ENERGY}", agency_actions(ENERGY), rightful.model_dump_json().encode()
    )

    async with (
        TopicWatcher(system.bootstrap, system.topic(agency_inbox(SHYMKENT))) as inbox,
        TopicWatcher(system.bootstrap, system.topic(topics.AGENCY_ACTIONS)) as passed,
    ):
        refusals = await inbox.wait_for_distinct(lambda e: e.get("appeal_id") == appeal_id, count=2)
        [accepted] = await passed.wait_for(lambda e: e.get("appeal_id") == appeal_id)
        await passed.drain(1.0)
    by_action = {r["action_event_id"]: r for r in refusals}
    assert by_action[foreign.event_id]["reason_code"] == "not_assigned"
    assert by_action[impersonated.event_id]["reason_code"] == "agency_mismatch"
    assert all(r["event_type"] == "agency.action_refused" for r in refusals)
    assert ENERGY not in by_action[foreign.event_id]["reason"]  # the holder is not revealed
    assert accepted["event_id"] == rightful.event_id
    assert {e["event_id"] for e in passed.events(lambda e: e.get("appeal_id") == appeal_id)} == {
        rightful.event_id
    }
    async with system.http("routing") as client:
        metrics = (await client.get("/metrics")).text
    assert (
        f'tyndau_routing_actions_refused_total{{agency="{SHYMKENT}",reason="not_assigned"}}'
        in metrics
    )


async def test_a_channel_writes_its_own_topic_only(system: RunningSystem) -> None:
    call = json.dumps({"call_id": f"probe-{uuid.uuid4().hex[:6]}"}).encode()
    await send_as(system, "channel-1414", topics.CHANNEL_1414, call)  # allowed (dead-lettered)
    await refused_to_write(system, "channel-1414", topics.CHANNEL_IKOMEK109)
    await refused_to_write(system, "channel-1414", topics.APPEALS_REGISTERED)
    await refused_to_write(system, "channel-ikomek109", topics.APPEALS_ROUTED)


async def test_a_service_cannot_write_a_topic_it_does_not_own(system: RunningSystem) -> None:
    await refused_to_write(system, "tyndau-notify", topics.APPEALS_REGISTERED)
    await refused_to_write(system, "tyndau-sla", topics.APPEALS_ROUTED)
    await refused_to_write(system, "tyndau-intake", agency_actions(ENERGY))


async def test_a_wrong_password_or_a_missing_grant_is_one_clear_line(
    system: RunningSystem,
) -> None:
    sla = identity_for("tyndau-sla")
    wrong = KafkaIdentity(sla.username, "not-the-password")
    routed = system.topic(topics.APPEALS_ROUTED)

    with pytest.raises(AccessDenied, match="refused principal 'tyndau-sla': authentication"):
        await asyncio.to_thread(check_access, system.bootstrap, wrong, [routed], [])
    with pytest.raises(AccessDenied) as refused:
        await asyncio.to_thread(
            check_access, system.bootstrap, sla, [routed], [system.topic(topics.APPEALS_ROUTED)]
        )
    assert str(refused.value) == (
        f"Kafka at {system.bootstrap} does not allow principal 'tyndau-sla': "
        f"write on topic {routed}"
    )
    assert "\n" not in str(refused.value)
