"""Notify against the real broker and store, a real SMTP server (aiosmtpd) and real local HTTP
servers standing in for the SMS gateway and the eGov push webhook.

One notify instance (its own topic and database prefix, all providers configured, a test
clock pinned to noon in Almaty, short backoff) serves most tests; each test uses its own
appeal ids, phone numbers and e-mail addresses. The restart test runs two instances of its
own, one after the other, on a prefix of their own.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import random
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealRegistered,
    AppealRejected,
    AppealRouted,
    Applicant,
    DeadlineExtended,
    Event,
    Language,
    SlaBreached,
    SlaWarning,
    topics,
)
from services.notify.app import create_app
from services.notify.directory import load_agency_names
from services.notify.policy import RetryPolicy
from services.notify.settings import NotifySettings
from tests.support import kafka
from tests.support.auth import bearer
from tests.support.clocks import ShiftedClock
from tests.support.kafka import prepare_broker
from tests.support.system import TopicWatcher, eventually

ALMATY = ZoneInfo("Asia/Almaty")
NOTIFY_TOPICS = (
    topics.APPEALS_REGISTERED,
    topics.APPEALS_REJECTED,
    topics.APPEALS_ROUTED,
    topics.AGENCY_ACTIONS,
    topics.SLA_EVENTS,
    topics.NOTIFICATION_OUTCOMES,
    topics.APPEALS_DLQ,
)
MAX_ATTEMPTS = 3
DIRECTORY = {
    "akimat-astana": {
        "officer": {"email": "desk@akimat.astana.kz"},
        "supervisor": {"email": "head@akimat.astana.kz"},
    },
    "prosecutor-astana": {"supervisor": {"email": "appeals@prokuror.kz", "language": "ru"}},
}
NAMES = load_agency_names()


# --- stand-ins ------------------------------------------------------------------------------


class HttpStandIn:
    """A gateway/webhook on a real socket: answers scripted statuses per address (200 when
    nothing is scripted) and, like a real gateway, accepts an idempotency key once."""

    def __init__(self, address_field: str) -> None:
        self.address_field = address_field
        self.requests: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.script: dict[str, list[int]] = {}
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def received(self, address: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["body"].get(self.address_field) == address]

    def delivered(self, address: str) -> list[dict[str, Any]]:
        return [b for b in self.accepted.values() if b.get(self.address_field) == address]

    async def _endpoint(self, request: Request) -> JSONResponse:
        body = await request.json()
        key = request.headers.get("idempotency-key", "")
        self.requests.append({"body": body, "headers": dict(request.headers)})
        queue = self.script.get(body.get(self.address_field), [])
        status = queue.pop(0) if queue else 200
        if status >= 300:
            return JSONResponse({"error": "temporarily unavailable"}, status_code=status)
        self.accepted.setdefault(key, body)
        return JSONResponse({"message_id": f"gw-{key[:8]}"})

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/send"
        app = Starlette(routes=[Route("/send", self._endpoint, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        )
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):
            if self._server.started:
                return
            await asyncio.sleep(0.01)
        raise RuntimeError("stand-in HTTP server did not start")

    async def stop(self) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task


class SmtpStandIn:
    """aiosmtpd handler: keeps every message; answers scripted RCPT replies per address."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.script: dict[str, list[str]] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        queue = self.script.get(address, [])
        if queue:
            return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
async def standins() -> AsyncIterator[dict[str, Any]]:
    sms, push, smtp = HttpStandIn("to"), HttpStandIn("iin"), SmtpStandIn()
    await sms.start()
    await push.start()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield {"sms": sms, "push": push, "smtp": smtp, "smtp_port": controller.port}
    finally:
        controller.stop()
        await sms.stop()
        await push.stop()


@asynccontextmanager
async def notify_instance(
    infra: Any, prefix: str, standins: dict[str, Any], clock: ShiftedClock, **overrides
) -> AsyncIterator[Starlette]:
    values: dict[str, Any] = dict(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_url=infra.mongodb_url,
        topic_prefix=prefix,
        database_prefix=prefix,
        sms_gateway_url=standins["sms"].url,
        sms_gateway_token="test-token",
        push_webhook_url=standins["push"].url,
        smtp_host="127.0.0.1",
        smtp_port=standins["smtp_port"],
        smtp_starttls=False,
        directory=json.dumps(DIRECTORY),
        scheduler_interval_seconds=0.1,
        provider_timeout_seconds=5,
    )
    settings = NotifySettings(**(values | overrides))
    retry = RetryPolicy(
        MAX_ATTEMPTS, settings.retry_base_seconds, settings.retry_max_seconds, random.Random(6)
    )
    app = create_app(settings, clock=clock, retry=retry)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture(autouse=True)
def noon_in_almaty(clock: ShiftedClock) -> None:
    clock.set_local(12, 0)


@pytest.fixture(scope="module")
async def notify(infra, standins, clock) -> AsyncIterator[Notify]:
    prefix = f"tn{uuid.uuid4().hex[:8]}-"
    await prepare_broker(infra.kafka_bootstrap_servers, dict.fromkeys(NOTIFY_TOPICS, 1), prefix)
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    producer = kafka.producer(infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        async with notify_instance(
            infra, prefix, standins, clock, retry_base_seconds=0.05, retry_max_seconds=0.2
        ) as app:
            yield Notify(
                prefix, infra.kafka_bootstrap_servers, app, mongo[prefix + "notify"], producer
            )
    finally:
        await producer.stop()
        await mongo.close()


class Notify:
    def __init__(self, prefix, bootstrap, app, db, producer) -> None:
        self.prefix, self.bootstrap, self.app, self.db, self.producer = (
            prefix,
            bootstrap,
            app,
            db,
            producer,
        )

    async def publish(self, topic: str, event: Event | bytes) -> None:
        payload = event if isinstance(event, bytes) else event.model_dump_json().encode()
        key = None if isinstance(event, bytes) else event.appeal_id.encode()
        await self.producer.send_and_wait(self.prefix + topic, payload, key=key)

    def outcomes(self) -> TopicWatcher:
        return TopicWatcher(self.bootstrap, self.prefix + topics.NOTIFICATION_OUTCOMES)

    def http(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://n", headers=headers)


# --- events ---------------------------------------------------------------------------------


class Story:
    """One appeal's events, with ids unique to the test."""

    def __init__(
        self, language: str = "ru", phone: str | None = "auto", email: str | None = None, **kw
    ):
        tag = uuid.uuid4().hex[:10]
        self.appeal_id = f"appeal-{tag}"
        self.number = f"ZH-20260305-{tag[:8].upper()}"
        self.phone = f"+7701{random.randrange(10**7):07d}" if phone == "auto" else phone
        self.email = email
        self.iin = kw.get("iin")
        self.language = language
        self.urgent = kw.get("urgent", False)

    def _ids(self, kind: str) -> dict[str, Any]:
        return {
            "event_id": f"{kind}-{self.appeal_id}",
            "appeal_id": self.appeal_id,
            "correlation_id": self.appeal_id,
            "occurred_at": datetime.now(UTC),
        }

    def registered(self) -> AppealRegistered:
        applicant = Applicant(
            name="Айгүл Сейтқали", phone=self.phone, email=self.email, iin=self.iin, anonymous=False
        )
        return AppealRegistered.example().model_copy(
            update={
                **self._ids("registered"),
                "registration_number": self.number,
                "language": Language(self.language),
                "applicant": applicant,
                "urgent": self.urgent,
            }
        )

    def routed(self, forwarded: bool = True, agency: str = "akimat-astana") -> AppealRouted:
        return AppealRouted.example().model_copy(
            update={
                **self._ids(f"routed-{agency}"),
                "registration_number": self.number,
                "agency_code": agency,
                "forwarded": forwarded,
                "addressed_to": "astana-energy" if forwarded else None,
            }
        )

    def accepted(self) -> AppealAccepted:
        return AppealAccepted.example().model_copy(
            update={**self._ids("accepted"), "agency_code": "akimat-astana"}
        )

    def extended(self) -> DeadlineExtended:
        return DeadlineExtended.example().model_copy(
            update={**self._ids("extended"), "agency_code": "akimat-astana"}
        )

    def answered(self) -> AppealAnswered:
        return AppealAnswered.example().model_copy(
            update={**self._ids("answered"), "agency_code": "akimat-astana"}
        )

    def warning(self) -> SlaWarning:
        return SlaWarning.example().model_copy(
            update={**self._ids("warning"), "agency_code": "akimat-astana"}
        )

    def breached(self) -> SlaBreached:
        return SlaBreached.example().model_copy(
            update={
                **self._ids("breached"),
                "agency_code": "akimat-astana",
                "escalate_to": ["akimat-astana", "prosecutor-astana"],
            }
        )

    def mine(self, **fields: Any) -> Callable[[dict], bool]:
        return lambda e: (
            e.get("appeal_id") == self.appeal_id and all(e.get(k) == v for k, v in fields.items())
        )


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["kk", "ru"])
async def test_every_notice_of_an_appeals_life_reaches_its_recipient_in_the_appeals_language(
    notify: Notify, standins: dict[str, Any], language: str
) -> None:
    sms, smtp = standins["sms"], standins["smtp"]
    # The Kazakh applicant left only an e-mail, the Russian one only a phone.
    story = (
        Story(language, phone=None, email=f"citizen-{uuid.uuid4().hex[:6]}@mail.kz")
        if language == "kk"
        else Story(language)
    )
    for event, topic in [
        (story.registered(), topics.APPEALS_REGISTERED),
        (story.routed(forwarded=True), topics.APPEALS_ROUTED),
        (story.accepted(), topics.AGENCY_ACTIONS),
        (story.extended(), topics.AGENCY_ACTIONS),
        (story.answered(), topics.AGENCY_ACTIONS),
        (story.warning(), topics.SLA_EVENTS),
        (story.breached(), topics.SLA_EVENTS),
    ]:
        await notify.publish(topic, event)

    expected = {
        ("citizen", "appeal_registered"),
        ("citizen", "appeal_forwarded"),
        ("officer", "new_assignment"),
        ("citizen", "appeal_accepted"),
        ("citizen", "deadline_extended"),
        ("citizen", "appeal_answered"),
        ("officer", "sla_warning"),
        ("supervisor", "sla_breached"),  # the akimat's head
        ("supervisor", "sla_breached"),  # and the prosecutor
        ("citizen", "answer_deadline_passed"),  # silence counts as a refusal (Art. 91)
    }
    async with notify.outcomes() as watch:
        outcomes = await watch.wait_for_distinct(story.mine(status="sent"), len(expected) + 1)
        await watch.drain(0.3)
    assert len({o["event_id"] for o in watch.events(story.mine())}) == len(expected) + 1
    assert {(o["recipient_role"], o["template"]) for o in outcomes} == expected
    citizen = [o for o in outcomes if o["recipient_role"] == "citizen"]
    assert {o["language"] for o in citizen} == {language}
    assert {o["delivery_channel"] for o in citizen} == {"email" if language == "kk" else "sms"}

    if language == "kk":
        texts = [m.get_content() for m in smtp.to(story.email)]
        assert all(m["Message-ID"] for m in smtp.to(story.email))
    else:
        texts = [d["text"] for d in sms.delivered(story.phone)]
    assert len(texts) == 6
    agency = NAMES["akimat-astana"][language]
    by_start = "\n".join(texts)
    assert story.number in by_start and "01.04.2026 18:00" in by_start
    assert agency in by_start  # forwarding notice names the body (Art. 65)
    assert "30.04.2026 18:00" in by_start  # the extension's new date
    assert "An inspection of the building" in by_start  # ... and its reason
    assert "eGov personal account" in by_start  # how to obtain the answer
    if language == "kk":
        assert (
            "тіркелді" in by_start and "ұзартылды" in by_start and "қанағаттандырылды" in by_start
        )
    else:
        assert "зарегистрировано" in by_start and "продлён" in by_start
        assert "удовлетворено" in by_start

    desk = [m.get_content() for m in smtp.to("desk@akimat.astana.kz") if story.number in str(m)]
    assert len(desk) == 2  # new assignment + SLA warning, in the appeal's language
    head = [m for m in smtp.to("head@akimat.astana.kz") if story.number in m["Subject"]]
    prosecutor = [m for m in smtp.to("appeals@prokuror.kz") if story.number in m["Subject"]]
    assert len(head) == 1 and len(prosecutor) == 1
    assert "Нарушен срок" in prosecutor[0]["Subject"]  # the directory says Russian for them


async def test_an_anonymous_appeal_with_a_phone_is_told_in_kazakh_that_it_is_not_considered(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("ru")
    rejected = AppealRejected.example().model_copy(
        update={
            "event_id": f"rejected-{story.appeal_id}",
            "appeal_id": story.appeal_id,
            "correlation_id": story.appeal_id,
            "channel_appeal_id": f"1414-{story.appeal_id}",
            "reason_code": "anonymous_not_considered",
            "applicant_contact": Applicant(phone=story.phone, anonymous=True),
        }
    )
    await notify.publish(topics.APPEALS_REJECTED, rejected)

    async with notify.outcomes() as watch:
        [outcome] = await watch.wait_for(story.mine(status="sent"))
    assert outcome["template"] == "anonymous_not_considered" and outcome["language"] == "kk"
    [sms] = standins["sms"].delivered(story.phone)
    assert f"1414-{story.appeal_id}" in sms["text"] and "анонимді" in sms["text"]


async def test_a_registration_at_night_is_deferred_to_the_morning_then_sent(
    notify: Notify, standins: dict[str, Any], clock: ShiftedClock
) -> None:
    clock.set_local(23, 30)
    story = Story("ru")
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        [deferred] = await watch.wait_for(story.mine(status="deferred"))
        assert deferred["reason"].startswith("quiet_hours") and "08:00" in deferred["reason"]
        assert deferred["attempts"] == 0
        await asyncio.sleep(0.5)  # several delivery-loop passes at 23:30
        assert standins["sms"].received(story.phone) == []

        clock.set_local(8, 1, days_ahead=1)
        [sent] = await watch.wait_for(story.mine(status="sent"))
    assert sent["attempts"] == 1
    assert len(standins["sms"].delivered(story.phone)) == 1


async def test_quiet_hours_and_the_times_in_a_message_follow_the_one_configured_time_zone(
    infra: Any, standins: dict[str, Any], clock: ShiftedClock
) -> None:
    # A deployment in Tokyo (UTC+9): 19:00 in Almaty is 23:00 there, inside quiet hours, and
    # the registration (10:02:47 at UTC+5) is 14:02 local. Before the time zone came from one
    # place, the quiet hours used it but the text showed Almaty time.
    prefix = f"tz{uuid.uuid4().hex[:8]}-"
    await prepare_broker(infra.kafka_bootstrap_servers, dict.fromkeys(NOTIFY_TOPICS, 1), prefix)
    clock.set_local(19, 0)
    story = Story("ru")
    async with notify_instance(infra, prefix, standins, clock, time_zone="Asia/Tokyo"):
        producer = kafka.producer(infra.kafka_bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                prefix + topics.APPEALS_REGISTERED,
                story.registered().model_dump_json().encode(),
                key=story.appeal_id.encode(),
            )
        finally:
            await producer.stop()
        async with TopicWatcher(
            infra.kafka_bootstrap_servers, prefix + topics.NOTIFICATION_OUTCOMES
        ) as watch:
            [deferred] = await watch.wait_for(story.mine(status="deferred"))
            clock.set_local(0, 5, days_ahead=1)  # 04:05 in Tokyo: still quiet there
            await asyncio.sleep(0.3)
            assert standins["sms"].received(story.phone) == []
            clock.set_local(4, 1, days_ahead=1)  # 08:01 in Tokyo
            await watch.wait_for(story.mine(status="sent"))
    assert "08:00" in deferred["reason"]
    [message] = standins["sms"].delivered(story.phone)
    assert "(05.03.2026 14:02)" in message["text"]


async def test_an_urgent_appeal_is_not_held_back_by_quiet_hours(
    notify: Notify, standins: dict[str, Any], clock: ShiftedClock
) -> None:
    clock.set_local(2, 0)
    story = Story("kk", urgent=True)
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        [sent] = await watch.wait_for(story.mine(status="sent"))
    assert sent["attempts"] == 1
    assert not watch.events(story.mine(status="deferred"))


async def test_a_gateway_failure_is_retried_with_backoff_and_then_succeeds(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("ru")
    standins["sms"].script[story.phone] = [503]
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        [retry] = await watch.wait_for(story.mine(status="deferred"))
        [sent] = await watch.wait_for(story.mine(status="sent"))
    assert retry["attempts"] == 1 and "HTTP 503" in retry["reason"]
    assert sent["attempts"] == 2
    assert len(standins["sms"].received(story.phone)) == 2
    assert len(standins["sms"].delivered(story.phone)) == 1
    attempts = (
        await notify.db["delivery_attempts"]
        .find({"notification_id": sent["notification_id"]})
        .to_list()
    )
    # The failure is kept in its claim; the accepted attempt's result is the record's own.
    assert sorted((a["attempt"], a["state"]) for a in attempts) == [(1, "failed"), (2, "started")]


async def test_an_smtp_server_refusing_for_now_is_retried(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("kk", phone=None, email=f"busy-{uuid.uuid4().hex[:6]}@mail.kz")
    standins["smtp"].script[story.email] = ["451 4.3.0 Mailbox busy, try again later"]
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        [sent] = await watch.wait_for(story.mine(status="sent"))
    assert sent["attempts"] == 2 and sent["delivery_channel"] == "email"
    assert len(standins["smtp"].to(story.email)) == 1


async def test_a_gateway_that_keeps_failing_exhausts_the_attempts_and_the_message_can_be_resent(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("kk")
    standins["sms"].script[story.phone] = [503] * 10
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        [failed] = await watch.wait_for(story.mine(status="failed"))
        assert [o["attempts"] for o in watch.events(story.mine(status="deferred"))] == [1, 2]
        assert failed["attempts"] == MAX_ATTEMPTS
        assert "attempts exhausted" in failed["reason"] and "HTTP 503" in failed["reason"]

        # The record stays findable for a resend; the gateway is back.
        async with notify.http(bearer("notify-operator")) as client:
            listed = await client.get("/v1/notifications", params={"appeal_id": story.appeal_id})
            [record] = listed.json()
            assert record["status"] == "failed" and record["address"] != story.phone
            standins["sms"].script[story.phone] = []
            resend = await client.post(f"/v1/notifications/{record['notification_id']}/resend")
            assert resend.status_code == 202
        # Who resent which notice, and when, is on the audit trail.
        audited = await notify.db["audit"].find_one(
            {"target_ref": record["notification_id"], "permission": "notifications:resend"}
        )
        assert audited is not None and audited["status"] == 202
        assert audited["actor"] == "tester" and audited["roles"] == ["notify-operator"]
        [sent] = await watch.wait_for(story.mine(status="sent"))
    assert sent["attempts"] == MAX_ATTEMPTS + 1
    assert len(standins["sms"].delivered(story.phone)) == 1


async def test_a_permanent_rejection_by_the_gateway_is_not_retried(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("ru")
    standins["sms"].script[story.phone] = [400]
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        [failed] = await watch.wait_for(story.mine(status="failed"))
    assert failed["attempts"] == 1 and "permanent" in failed["reason"]
    assert len(standins["sms"].received(story.phone)) == 1


async def test_the_same_event_delivered_twice_sends_one_message(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("ru")
    event = story.registered()
    await notify.publish(topics.APPEALS_REGISTERED, event)
    await notify.publish(topics.APPEALS_REGISTERED, event)

    async with notify.outcomes() as watch:
        outcomes = await watch.wait_for(story.mine(), count=2)
        await watch.drain(0.5)
    assert len({o["event_id"] for o in watch.events(story.mine())}) == 1
    assert outcomes[0]["status"] == "sent"
    assert len(standins["sms"].received(story.phone)) == 1
    assert await notify.db["notifications"].count_documents({"appeal_id": story.appeal_id}) == 1


async def test_preferred_channel_is_used_and_an_opt_out_never_suppresses_a_legal_notice(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("ru", iin=f"9001013{random.randrange(10**5):05d}")
    async with notify.http(bearer("citizen-portal")) as client:
        response = await client.put(
            f"/v1/preferences/{story.iin}", json={"preferred_channel": "push", "opt_out": True}
        )
        assert response.status_code == 200
        assert (await client.get(f"/v1/preferences/{story.iin}")).json()["opt_out"] is True
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())
    await notify.publish(topics.AGENCY_ACTIONS, story.accepted())

    async with notify.outcomes() as watch:
        [registered] = await watch.wait_for(story.mine(template="appeal_registered"))
        [accepted] = await watch.wait_for(story.mine(template="appeal_accepted"))
    assert registered["status"] == "sent" and registered["delivery_channel"] == "push"
    assert accepted["status"] == "suppressed" and accepted["reason"] == "opted_out"
    [push] = standins["push"].delivered(story.iin)
    assert story.number in push["title"] and story.number in push["body"]
    assert standins["sms"].received(story.phone) == []


async def test_an_event_that_overtakes_its_registration_waits_for_it(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("kk")
    await notify.publish(topics.APPEALS_ROUTED, story.routed(forwarded=True))
    await eventually(lambda: notify.db["parked_events"].find_one({"appeal_id": story.appeal_id}))
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())

    async with notify.outcomes() as watch:
        # Two different notices (a repeated registration notice must not count as the second).
        await watch.wait_for_distinct(story.mine(status="sent", recipient_role="citizen"), 2)
    texts = [d["text"] for d in standins["sms"].delivered(story.phone)]
    assert any(NAMES["akimat-astana"]["kk"] in text for text in texts)


async def test_unparseable_input_goes_to_the_dead_letter_topic(notify: Notify) -> None:
    garbage = f'{{"event_type": "sla.warning", "junk": "{uuid.uuid4().hex}"}}'.encode()
    await notify.publish(topics.SLA_EVENTS, garbage)

    async with TopicWatcher(notify.bootstrap, notify.prefix + topics.APPEALS_DLQ) as watch:
        [letter] = await watch.wait_for(
            lambda e: (
                e.get("topic") == notify.prefix + topics.SLA_EVENTS
                and base64.b64decode(e["payload_b64"]) == garbage
            )
        )
    assert letter["source_service"] == "notify"
    assert letter["error_type"] == "Undecodable"


async def test_metrics_count_outcomes_attempts_and_delivery_latency(
    notify: Notify, standins: dict[str, Any]
) -> None:
    story = Story("kk")
    standins["sms"].script[story.phone] = [503]
    await notify.publish(topics.APPEALS_REGISTERED, story.registered())
    async with notify.outcomes() as watch:
        await watch.wait_for(story.mine(status="sent"))
    async with notify.http() as client:
        metrics = (await client.get("/metrics")).text

    labels = 'channel="sms",language="kk",status="{}",template="appeal_registered"'
    for status in ("sent", "deferred"):
        assert f"tyndau_notify_notifications_total{{{labels.format(status)}}}" in metrics
    assert 'tyndau_notify_delivery_attempts_total{channel="sms",result="accepted"}' in metrics
    assert 'tyndau_notify_delivery_attempts_total{channel="sms",result="failed"}' in metrics
    assert (
        'tyndau_notify_delivery_latency_seconds_count{channel="sms",template="appeal_registered"}'
        in metrics
    )
    # Every stored outcome was published.
    unpublished = {"appeal_id": story.appeal_id, "outcome_published": False}
    records = notify.db["notifications"]
    # Published at once, or (if marking it failed) by the loop's recovery 10 s later.
    await eventually(lambda: _none(records.count_documents(unpublished)), timeout=25)


async def _none(count) -> bool:
    return await count == 0


@pytest.mark.parametrize("crash", ["between_attempts", "during_an_accepted_attempt"])
async def test_a_restart_in_the_middle_of_retrying_resumes_without_sending_twice(
    infra: Any, standins: dict[str, Any], crash: str
) -> None:
    prefix = f"tr{uuid.uuid4().hex[:8]}-"
    await prepare_broker(infra.kafka_bootstrap_servers, dict.fromkeys(NOTIFY_TOPICS, 1), prefix)
    story = Story("ru")
    standins["sms"].script[story.phone] = [503]
    clock = ShiftedClock()
    clock.set_local(12, 0)
    slow_retries = {"retry_base_seconds": 3600.0, "retry_max_seconds": 3600.0}
    producer = kafka.producer(infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    outcomes = TopicWatcher(infra.kafka_bootstrap_servers, prefix + topics.NOTIFICATION_OUTCOMES)
    try:
        async with outcomes:
            async with notify_instance(infra, prefix, standins, clock, **slow_retries):
                event = story.registered()
                await producer.send_and_wait(
                    prefix + topics.APPEALS_REGISTERED, event.model_dump_json().encode()
                )
                [retry] = await outcomes.wait_for(story.mine(status="deferred"))
            assert retry["attempts"] == 1
            if crash == "during_an_accepted_attempt":
                # The first instance had claimed attempt 2 and the gateway took it, then the
                # process died before it could record that.
                await simulate_accepted_attempt_then_crash(infra, prefix, standins, retry, clock)

            # Back up an hour and a half later; the same event is delivered once more.
            clock.offset += timedelta(hours=1, minutes=30)
            async with notify_instance(infra, prefix, standins, clock, **slow_retries):
                await producer.send_and_wait(
                    prefix + topics.APPEALS_REGISTERED, event.model_dump_json().encode()
                )
                # The redelivered event may find the record already sent and tell its outcome
                # again (same event id, at-least-once); the last assertion counts distinct ids.
                sent = (await outcomes.wait_for(story.mine(status="sent")))[0]
                await outcomes.drain(0.5)
    finally:
        await producer.stop()
    if crash == "between_attempts":
        assert sent["attempts"] == 2
        assert len(standins["sms"].received(story.phone)) == 2  # one failed, one accepted
    else:
        # Attempt 2 counts as made; attempt 3 carries the same idempotency key, so the gateway
        # recognises the message it already has.
        assert sent["attempts"] == 3
        keys = {r["headers"]["idempotency-key"] for r in standins["sms"].received(story.phone)}
        assert keys == {sent["notification_id"]}
    assert len(standins["sms"].delivered(story.phone)) == 1
    assert len({o["event_id"] for o in outcomes.events(story.mine(status="sent"))}) == 1


async def simulate_accepted_attempt_then_crash(
    infra: Any, prefix: str, standins: dict[str, Any], retry: dict, clock: ShiftedClock
) -> None:
    notification_id = retry["notification_id"]
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    try:
        db = mongo[prefix + "notify"]
        record = await db["notifications"].find_one({"_id": notification_id})
        await db["delivery_attempts"].insert_one(
            {
                "_id": f"{notification_id}#2",
                "notification_id": notification_id,
                "attempt": 2,
                "channel": "sms",
                "state": "started",
                "started_at": clock.now(),
            }
        )
    finally:
        await mongo.close()
    async with httpx.AsyncClient() as client:
        response = await client.post(
            standins["sms"].url,
            json={"to": record["address"], "text": record["text"], "client_ref": notification_id},
            headers={"Idempotency-Key": notification_id},
        )
    assert response.status_code == 200
