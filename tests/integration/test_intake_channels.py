"""Intake against the real broker and store, through every Kafka channel: each channel's happy
path, every validation rule with its error code, Art. 64 registration across a weekend and a
holiday, anonymous and urgent-anonymous appeals, idempotent redelivery, repeat appeals,
dead letters, a 1414 appeal produced by `kcat`, and personal data kept out of the logs."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from contracts import (
    Call1414Appeal,
    EOtinishAppeal,
    IKomek109Appeal,
    deterministic_id,
    topics,
)
from services.common.kafka_auth import identity_for
from services.common.masking import mask_iin
from tests.support.system import RunningSystem, TopicWatcher
from tests.unit.test_intake_adapters import valid_iin

CHANNEL_TOPIC = {
    "1414": topics.CHANNEL_1414,
    "ikomek109": topics.CHANNEL_IKOMEK109,
    "eotinish": topics.CHANNEL_EOTINISH,
}
ID_FIELD = {"1414": "call_id", "ikomek109": "ticket_no", "eotinish": "otinish_id"}
EXAMPLE = {"1414": Call1414Appeal, "ikomek109": IKomek109Appeal, "eotinish": EOtinishAppeal}


def message(channel: str, channel_id: str, **changes: Any) -> dict[str, Any]:
    """The channel's documented example under a new id; nested dicts are merged."""
    body = EXAMPLE[channel].example().model_dump(mode="json")
    body[ID_FIELD[channel]] = channel_id
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def appeal_id(channel: str, channel_id: str) -> str:
    return deterministic_id("appeal", channel, channel_id)


async def send(system: RunningSystem, channel: str, body: dict[str, Any] | bytes, key: str) -> None:
    await system.publish(CHANNEL_TOPIC[channel], body, key=key)


async def registered(system: RunningSystem, *ids: str, copies: int = 0) -> list[dict]:
    """The registration of each appeal in `ids` (one each, however often it was published);
    with `copies`, every published copy once that many per appeal arrived."""
    wanted = set(ids)

    def mine(event: dict) -> bool:
        return event.get("appeal_id") in wanted

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REGISTERED)) as watch:
        if copies:
            return await watch.wait_for(mine, count=copies * len(wanted))
        return await watch.wait_for_distinct(mine, count=len(wanted), key="appeal_id")


async def rejected(system: RunningSystem, *ids: str) -> dict[str, dict]:
    wanted = set(ids)
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REJECTED)) as watch:
        events = await watch.wait_for_distinct(
            lambda e: e.get("appeal_id") in wanted, count=len(wanted), key="appeal_id"
        )
    return {event["appeal_id"]: event for event in events}


# --- each channel's happy path ------------------------------------------------------------


async def test_an_ikomek_ticket_is_registered_as_an_astana_complaint_in_its_district(
    system: RunningSystem, unique_id: str
) -> None:
    ticket = f"IK-{unique_id}"
    await send(system, "ikomek109", message("ikomek109", ticket), ticket)

    [event] = await registered(system, appeal_id("ikomek109", ticket))
    assert re.fullmatch(r"ZH-20260305-[0-9]{6}", event["registration_number"])
    assert event["channel"] == "ikomek109" and event["channel_appeal_id"] == ticket
    assert event["kind"] == "complaint"
    assert event["category"] == "utilities.heating"
    assert event["region_kato"] == "711210000"
    assert event["location"] == {"lat": 51.128207, "lon": 71.430411}
    assert event["address"] == "Астана, Алматы ауданы, Тәуелсіздік даңғылы, 34"
    assert event["received_at"] == event["registered_at"] == "2026-03-05T10:02:45+05:00"
    stored = await system.db("intake")["appeals"].find_one({"_id": event["appeal_id"]})
    assert stored["registration_number"] == event["registration_number"]


async def test_an_eotinish_appeal_is_registered_with_the_addressed_body_and_signed_iin(
    system: RunningSystem, unique_id: str
) -> None:
    otinish_id = f"EO-{unique_id}"
    await send(system, "eotinish", message("eotinish", otinish_id), otinish_id)

    [event] = await registered(system, appeal_id("eotinish", otinish_id))
    assert event["registration_number"].startswith("ZP-20260305-")  # a request
    assert event["addressed_to"] == "astana-education"
    assert event["subject"] == "Очередь в детский сад"
    assert event["applicant"]["iin"] == "850712400003"
    assert event["applicant"]["email"] == "d.zhaksybekova@example.kz"
    assert event["answer_due_at"] == "2026-04-01T18:00:00+05:00"


# --- validation: every rule, its field and its code ---------------------------------------

RULES: list[tuple[str, dict[str, Any], tuple[str, str]]] = [
    ("1414", {"caller": {"iin": "90010130001"}}, ("caller.iin", "iin_format")),
    ("1414", {"caller": {"iin": "900101700017"}}, ("caller.iin", "iin_century")),
    ("1414", {"caller": {"iin": "901301300017"}}, ("caller.iin", "iin_birth_date")),
    ("1414", {"caller": {"iin": "900101300018"}}, ("caller.iin", "iin_check_digit")),
    ("1414", {"caller": {"phone": "+1 202 555 0100"}}, ("caller.phone", "phone_format")),
    (
        "1414",
        {"caller": {"last_name": " ", "first_name": "", "middle_name": None}},
        ("caller.last_name", "required"),
    ),
    ("1414", {"kato_code": "71121000"}, ("kato_code", "kato_format")),
    ("1414", {"kato_code": "991210000"}, ("kato_code", "kato_unknown_region")),
    ("1414", {"lang": "de"}, ("lang", "language_unknown")),
    ("1414", {"topic_code": "teleportation"}, ("topic_code", "category_unknown")),
    ("1414", {"summary": "  "}, ("summary", "text_empty")),
    ("1414", {"summary": "ы" * 20_001}, ("summary", "text_too_long")),
    ("1414", {"call_started_at": "05.03.2026 10:15"}, ("call_started_at", "timestamp_format")),
    (
        "1414",
        {"call_started_at": "2099-03-05T10:15:00+05:00"},
        ("call_started_at", "timestamp_in_future"),
    ),
    (
        "1414",
        {"call_started_at": "2019-03-05T10:15:00+05:00"},
        ("call_started_at", "timestamp_too_old"),
    ),
    ("ikomek109", {"category": "TELEPORTATION"}, ("category", "category_unknown")),
    ("ikomek109", {"district": "GOTHAM"}, ("district", "district_unknown")),
    ("ikomek109", {"location": {"lon": 181.5}}, ("location", "location_out_of_range")),
    ("ikomek109", {"location": {"address": "a" * 501}}, ("location.address", "too_long")),
    ("eotinish", {"kind": "petition"}, ("kind", "kind_unknown")),
    ("eotinish", {"contacts": {"email": "d.zh@"}}, ("contacts.email", "email_format")),
    ("eotinish", {"addressed_to": "Astana Education"}, ("addressed_to", "agency_code_format")),
    ("eotinish", {"applicant_iin": ""}, ("applicant_iin", "required")),
    ("eotinish", {"subject": "s" * 501}, ("subject", "too_long")),
]


async def test_every_validation_rule_rejects_with_the_field_and_its_code(
    system: RunningSystem, unique_id: str
) -> None:
    expected = {}
    for number, (channel, changes, error) in enumerate(RULES):
        channel_id = f"rule-{unique_id}-{number}"
        await send(system, channel, message(channel, channel_id, **changes), channel_id)
        expected[appeal_id(channel, channel_id)] = (channel, channel_id, error)

    events = await rejected(system, *expected)

    for appeal, (channel, channel_id, error) in expected.items():
        event = events[appeal]
        assert event["reason_code"] == "validation_failed"
        assert event["channel"] == channel and event["channel_appeal_id"] == channel_id
        assert [(e["field"], e["code"]) for e in event["errors"]] == [error], channel_id
        assert all(e["message"] for e in event["errors"])
    assert await system.db("intake")["appeals"].count_documents({"_id": {"$in": [*expected]}}) == 0

    async with system.http("intake") as client:
        metrics = (await client.get("/metrics")).text
    for code in ("iin_check_digit", "kato_unknown_region", "district_unknown", "email_format"):
        assert re.search(rf'tyndau_intake_rejection_errors_total{{[^}}]*code="{code}"', metrics)


# --- Art. 64 ------------------------------------------------------------------------------


async def test_appeals_received_on_a_weekend_or_a_holiday_are_registered_on_the_next_working_day(
    system: RunningSystem, unique_id: str
) -> None:
    # Sat 21 Mar 2026 → Sun 22, Mon-Wed 23-25 (Nauryz) off → Thu 26 Mar 09:00, due 16 Apr.
    saturday = f"1414-sat-{unique_id}"
    await send(
        system,
        "1414",
        message("1414", saturday, call_started_at="2026-03-21T11:00:00+05:00"),
        saturday,
    )
    # Mon 9 Mar 2026 is the day off for 8 March (a Sunday) → Tue 10 Mar 09:00, due 3 Apr.
    holiday = f"1414-hol-{unique_id}"
    await send(
        system,
        "1414",
        message("1414", holiday, call_started_at="2026-03-09T10:00:00+05:00"),
        holiday,
    )

    events = await registered(system, appeal_id("1414", saturday), appeal_id("1414", holiday))
    by_id = {event["channel_appeal_id"]: event for event in events}
    assert by_id[saturday]["received_at"] == "2026-03-21T11:00:00+05:00"
    assert by_id[saturday]["registered_at"] == "2026-03-26T09:00:00+05:00"
    assert by_id[saturday]["answer_due_at"] == "2026-04-16T18:00:00+05:00"
    assert by_id[saturday]["registration_number"].startswith("ZH-20260326-")
    assert by_id[holiday]["registered_at"] == "2026-03-10T09:00:00+05:00"
    assert by_id[holiday]["answer_due_at"] == "2026-04-03T18:00:00+05:00"


# --- anonymous ----------------------------------------------------------------------------


async def test_an_anonymous_ikomek_ticket_is_not_considered_and_says_why(
    system: RunningSystem, unique_id: str
) -> None:
    ticket = f"IK-anon-{unique_id}"
    body = message("ikomek109", ticket, citizen={"name": "", "iin": None})
    await send(system, "ikomek109", body, ticket)

    event = (await rejected(system, appeal_id("ikomek109", ticket)))[appeal_id("ikomek109", ticket)]
    assert event["reason_code"] == "anonymous_not_considered"
    assert [(e["field"], e["code"]) for e in event["errors"]] == [
        ("citizen.name", "anonymous_not_considered")
    ]
    assert event["applicant_contact"]["phone"] == "+77017654321"


async def test_an_anonymous_corruption_report_is_registered_urgent_and_routed_at_once(
    system: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-urgent-{unique_id}"
    body = message(
        "1414", call_id, is_anonymous=True, topic_code="corruption", caller={"iin": None}
    )
    await send(system, "1414", body, call_id)

    [event] = await registered(system, appeal_id("1414", call_id))
    assert event["urgent"] is True
    assert event["applicant"]["anonymous"] is True
    assert event["applicant"]["iin"] is None and event["applicant"]["name"] is None
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_ROUTED)) as watch:
        [routed] = await watch.wait_for(lambda e: e.get("appeal_id") == event["appeal_id"])
    assert routed["urgent"] is True


async def test_anonymous_messages_with_no_person_at_all_reach_the_anonymous_rule_not_the_dlq(
    system: RunningSystem, unique_id: str
) -> None:
    # As the channels send them: a 1414 call with no `caller` field, an iKomek ticket whose
    # `citizen` is null, a 1414 crime report likewise without a caller.
    heating, police, ticket = (
        f"1414-nobody-{unique_id}",
        f"1414-nobody-police-{unique_id}",
        f"IK-nobody-{unique_id}",
    )
    calls = {heating: message("1414", heating), police: message("1414", police)}
    calls[police]["topic_code"] = "police"
    for call_id, body in calls.items():
        body.pop("caller")
        await send(system, "1414", body, call_id)
    await send(system, "ikomek109", message("ikomek109", ticket, citizen=None), ticket)

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_DLQ)) as dlq:
        refused = await rejected(system, appeal_id("1414", heating), appeal_id("ikomek109", ticket))
        [urgent] = await registered(system, appeal_id("1414", police))
        # Each of the three has its outcome, and nothing of them was dead-lettered as well.
        assert not [e for e in dlq.events() if unique_id in json.dumps(e)]
    assert {e["reason_code"] for e in refused.values()} == {"anonymous_not_considered"}
    assert all(e["applicant_contact"] is None for e in refused.values())
    assert urgent["urgent"] is True and urgent["applicant"]["anonymous"] is True


# --- idempotency --------------------------------------------------------------------------


async def test_an_eotinish_appeal_delivered_twice_and_resent_changed_has_one_registration(
    system: RunningSystem, unique_id: str
) -> None:
    otinish_id = f"EO-dup-{unique_id}"
    body = message("eotinish", otinish_id)
    await send(system, "eotinish", body, otinish_id)
    await send(system, "eotinish", body, otinish_id)
    # The same id again, now breaking rules: the first registration stands.
    await send(system, "eotinish", {**body, "kind": "petition"}, otinish_id)

    events = await registered(system, appeal_id("eotinish", otinish_id), copies=3)
    assert len({e["event_id"] for e in events}) == 1
    assert len({e["registration_number"] for e in events}) == 1
    appeals = system.db("intake")["appeals"]
    assert await appeals.count_documents({"_id": appeal_id("eotinish", otinish_id)}) == 1
    claims = system.db("intake")["registration_numbers"]
    assert await claims.count_documents({"appeal_id": appeal_id("eotinish", otinish_id)}) == 1
    rejections = system.db("intake")["rejections"]
    assert await rejections.count_documents({"appeal_id": appeal_id("eotinish", otinish_id)}) == 0


# --- repeat appeals -----------------------------------------------------------------------


async def test_a_second_appeal_of_the_same_person_on_the_same_matter_and_place_is_a_repeat(
    system: RunningSystem, unique_id: str
) -> None:
    iin = valid_iin()
    first, second, other = (f"1414-rep{n}-{unique_id}" for n in range(3))
    await send(
        system,
        "1414",
        message("1414", first, caller={"iin": iin}, call_started_at="2026-01-15T10:00:00+05:00"),
        first,
    )
    [original] = await registered(system, appeal_id("1414", first))
    # Within 90 days, same IIN, category and KATO code → a repeat of the first.
    await send(system, "1414", message("1414", second, caller={"iin": iin}), second)
    # Same person and place, another matter → not a repeat.
    await send(
        system, "1414", message("1414", other, caller={"iin": iin}, topic_code="roads"), other
    )

    events = await registered(system, appeal_id("1414", second), appeal_id("1414", other))
    by_id = {event["channel_appeal_id"]: event for event in events}
    assert original["repeat_of"] is None
    assert by_id[second]["repeat_of"] == original["appeal_id"]
    assert by_id[other]["repeat_of"] is None

    async with system.http("intake") as client:
        metrics = (await client.get("/metrics")).text
    assert re.search(
        r'tyndau_intake_repeat_appeals_total\{channel="1414",kind="complaint",region="71"\} '
        r"[1-9]",
        metrics,
    )


# --- dead letters -------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["ikomek109", "eotinish"])
async def test_garbage_bytes_on_a_channel_topic_are_dead_lettered_untouched(
    system: RunningSystem, unique_id: str, channel: str
) -> None:
    garbage = b"\xff\xfe not json " + unique_id.encode()
    await send(system, channel, garbage, f"bad-{unique_id}")

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_DLQ)) as watch:
        [letter] = await watch.wait_for(
            lambda e: base64.b64decode(e.get("payload_b64", "")) == garbage
        )
    assert letter["topic"] == system.topic(CHANNEL_TOPIC[channel])
    assert letter["error_type"] == "Undecodable"
    assert base64.b64decode(letter["key_b64"]) == f"bad-{unique_id}".encode()
    async with system.http("intake") as client:
        metrics = (await client.get("/metrics")).text
    assert f'tyndau_intake_dead_letters_total{{topic="{CHANNEL_TOPIC[channel]}"}}' in metrics


# --- a client no one here wrote -----------------------------------------------------------


async def test_a_1414_appeal_produced_with_kcat_is_registered(
    system: RunningSystem, unique_id: str, tmp_path: Path
) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat (Debian package `kcat`) must be on PATH"
    call_id = f"1414-kcat-{unique_id}"
    payload = json.dumps(message("1414", call_id), ensure_ascii=False).encode()
    # As the call centre would: its own principal, its password in a file only it reads.
    config = tmp_path / "kcat.conf"
    config.touch(mode=0o600)
    config.write_text(
        "".join(f"{k}={v}\n" for k, v in identity_for("channel-1414").librdkafka().items())
    )
    process = await asyncio.create_subprocess_exec(
        kcat,
        "-F",
        str(config),
        "-P",
        "-b",
        system.bootstrap,
        "-t",
        system.topic(topics.CHANNEL_1414),
        "-k",
        call_id,
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(payload + b"\n"), timeout=30)
    assert process.returncode == 0, stderr.decode()

    [event] = await registered(system, appeal_id("1414", call_id))
    assert event["channel_appeal_id"] == call_id
    assert event["registration_number"].startswith("ZH-20260305-")


# --- personal data in logs ----------------------------------------------------------------


async def test_no_iin_phone_or_name_of_the_applicant_reaches_the_logs_in_clear(
    system: RunningSystem, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    iin, phone = valid_iin(), "+77019876543"
    good, bad = f"EO-pd-{unique_id}", f"EO-pdbad-{unique_id}"
    person = {
        "applicant_iin": iin,
        "applicant_name": "Қуанышев Дәулет",
        "contacts": {"phone": phone},
    }
    await send(system, "eotinish", message("eotinish", good, **person), good)
    await send(system, "eotinish", message("eotinish", bad, **person, kind="petition"), bad)

    await registered(system, appeal_id("eotinish", good))
    await rejected(system, appeal_id("eotinish", bad))

    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("tyndau.intake", "tyndau.messaging"))
    )
    assert good in logged and bad in logged  # the appeals were logged …
    assert iin not in logged and phone not in logged and "Қуанышев" not in logged  # … masked
    assert mask_iin(iin) in logged  # … the way services.common.masking shows an IIN


# --- metrics ------------------------------------------------------------------------------


async def test_metrics_count_by_channel_kind_and_region_and_time_the_processing(
    system: RunningSystem, unique_id: str
) -> None:
    ticket, anonymous = f"IK-m-{unique_id}", f"IK-manon-{unique_id}"
    await send(system, "ikomek109", message("ikomek109", ticket), ticket)
    await send(
        system, "ikomek109", message("ikomek109", anonymous, citizen={"name": ""}), anonymous
    )
    await registered(system, appeal_id("ikomek109", ticket))
    await rejected(system, appeal_id("ikomek109", anonymous))

    async with system.http("intake") as client:
        metrics = (await client.get("/metrics")).text
    labels = '{channel="ikomek109",kind="complaint",region="71"}'
    for name in (
        "tyndau_intake_appeals_received_total",
        "tyndau_intake_appeals_registered_total",
        "tyndau_intake_anonymous_refused_total",
    ):
        assert re.search(rf"{name}{re.escape(labels)} [1-9]", metrics), name
    assert re.search(
        r'tyndau_intake_processing_seconds_count\{channel="ikomek109"\} [1-9]', metrics
    )
    assert 'reason="anonymous_not_considered"' in metrics
