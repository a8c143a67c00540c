"""Intake against the real broker and store: bad bytes are dead-lettered, rule-breaking
appeals are rejected with reasons, and a redelivered appeal has one effect."""

from __future__ import annotations

import base64

from contracts import deterministic_id, topics
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.system import RunningSystem, TopicWatcher, eventually


async def test_bytes_that_are_not_the_1414_format_go_to_the_dead_letter_topic_untouched(
    system: RunningSystem, unique_id: str
) -> None:
    garbage = f"not json at all {unique_id}".encode()
    await system.publish(topics.CHANNEL_1414, garbage, key=f"bad-{unique_id}")

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_DLQ)) as watch:
        [letter] = await watch.wait_for(
            lambda e: e.get("payload_b64") and base64.b64decode(e["payload_b64"]) == garbage
        )
    assert letter["topic"] == system.topic(topics.CHANNEL_1414)
    assert base64.b64decode(letter["key_b64"]) == f"bad-{unique_id}".encode()
    assert letter["source_service"] == "intake"
    assert letter["error_type"] == "Undecodable"
    assert letter["offset"] >= 0


async def test_json_missing_required_fields_is_dead_lettered_with_the_missing_field_named(
    system: RunningSystem, unique_id: str
) -> None:
    broken = call_1414(f"1414-{unique_id}")
    del broken["summary"]
    await system.publish(topics.CHANNEL_1414, broken, key=broken["call_id"])

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_DLQ)) as watch:
        [letter] = await watch.wait_for(
            lambda e: unique_id.encode() in base64.b64decode(e.get("payload_b64", ""))
        )
    assert "summary" in letter["error"]


async def test_an_appeal_breaking_business_rules_is_rejected_with_every_field_named(
    system: RunningSystem, unique_id: str
) -> None:
    call = call_1414(f"1414-{unique_id}")
    call["caller"]["iin"] = "900101300018"  # check digit should be 7
    call["kato_code"] = "7112"
    call["lang"] = "de"
    await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])
    appeal_id = deterministic_id("appeal", "1414", call["call_id"])

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REJECTED)) as watch:
        [rejected] = await watch.wait_for(lambda e: e.get("appeal_id") == appeal_id)
    assert rejected["reason_code"] == "validation_failed"
    assert {(e["field"], e["code"]) for e in rejected["errors"]} == {
        ("caller.iin", "iin_check_digit"),
        ("kato_code", "kato_format"),
        ("lang", "language_unknown"),
    }
    assert await system.db("intake")["appeals"].find_one({"_id": appeal_id}) is None


async def test_an_anonymous_appeal_that_is_not_a_crime_report_is_not_considered(
    system: RunningSystem, unique_id: str
) -> None:
    call = call_1414(f"1414-{unique_id}")
    call["is_anonymous"] = True
    await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])
    appeal_id = deterministic_id("appeal", "1414", call["call_id"])

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REJECTED)) as watch:
        [rejected] = await watch.wait_for(lambda e: e.get("appeal_id") == appeal_id)
    assert rejected["reason_code"] == "anonymous_not_considered"
    assert rejected["applicant_contact"]["phone"] == "+77011234567"


async def test_the_same_call_delivered_twice_yields_one_appeal_one_number_one_notification(
    system: RunningSystem, unique_id: str
) -> None:
    call = call_1414(f"1414-{unique_id}")
    appeal_id = deterministic_id("appeal", "1414", call["call_id"])
    await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])
    await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REGISTERED)) as watch:
        registrations = await watch.wait_for(lambda e: e.get("appeal_id") == appeal_id, count=2)
    # Republished, not re-registered: the same event id and number both times.
    assert len({r["event_id"] for r in registrations}) == 1
    assert len({r["registration_number"] for r in registrations}) == 1
    assert await system.db("intake")["appeals"].count_documents({"_id": appeal_id}) == 1

    async with TopicWatcher(system.bootstrap, system.topic(topics.NOTIFICATION_OUTCOMES)) as watch:
        await watch.wait_for(lambda e: e.get("appeal_id") == appeal_id, count=2)
    notifications = system.db("notify")["notifications"]
    assert await notifications.count_documents({"appeal_id": appeal_id}) == 1
    [record] = await notifications.find({"appeal_id": appeal_id}).to_list()
    assert record["attempts"] == 1
    assert await system.db("notify")["outbox"].count_documents({"_id": record["_id"]}) == 1
    timers = system.db("sla")["timers"]
    assert await eventually(lambda: timers.count_documents({"appeal_id": appeal_id})) == 1
