"""One 1414 appeal, published by a real Kafka client, walks through all four services:
registered → routed (+ agency inbox) → answer timer → registration notification."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from contracts import deterministic_id, topics
from reference.calendar import WorkingCalendar
from tests.support.system import RunningSystem, TopicWatcher, eventually

ALMATY = timezone(timedelta(hours=5))


def call_1414(call_id: str, started_at: datetime | None = None) -> dict:
    """A 1414 call as the call centre sends it; by default taken two minutes ago, so its
    deadlines lie in the future (a past receipt date would be breached at once, correctly)."""
    started_at = started_at or datetime.now(ALMATY) - timedelta(minutes=2)
    return {
        "call_id": call_id,
        "call_started_at": started_at.isoformat(timespec="seconds"),
        "operator_login": "op.zhanar",
        "caller": {
            "iin": "900101300017",
            "last_name": "Ахметов",
            "first_name": "Ерлан",
            "middle_name": None,
            "phone": "8 701 123 45 67",
        },
        "is_anonymous": False,
        "lang": "ru",
        "appeal_type": "ZHALOBA",
        "topic_code": "utilities.heating",
        "kato_code": "711210000",
        "address": "ул. Кенесары, 40",
        "summary": "Нет отопления в доме третьи сутки.",
    }


async def test_a_1414_appeal_is_registered_routed_timed_and_notified(
    system: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-{unique_id}"
    appeal_id = deterministic_id("appeal", "1414", call_id)
    mine = lambda event: event.get("appeal_id") == appeal_id  # noqa: E731

    call = call_1414(call_id)
    # The channel's correlation id and W3C trace context, to be followed to the citizen.
    correlation = f"corr-{unique_id}"
    traceparent = f"00-{unique_id:0>32}-00f067aa0ba902b7-01"
    await system.publish(
        topics.CHANNEL_1414,
        call,
        key=call_id,
        headers={"x-correlation-id": correlation, "traceparent": traceparent},
    )
    # Art. 64 and 76 on the Kazakh calendar (the DESIGN §2 worked example is a unit test).
    calendar = WorkingCalendar.default()
    registered_at = calendar.registration_time(datetime.fromisoformat(call["call_started_at"]))
    due_at = calendar.deadline(registered_at, 15)

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REGISTERED)) as watch:
        [registered] = await watch.wait_for(mine)
    assert registered["registration_number"].startswith(f"ZH-{registered_at:%Y%m%d}-")
    assert registered["applicant"]["phone"] == "+77011234567"
    assert registered["category"] == "utilities.heating"
    assert datetime.fromisoformat(registered["registered_at"]) == registered_at
    assert datetime.fromisoformat(registered["answer_due_at"]) == due_at

    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_ROUTED)) as watch:
        [routed] = await watch.wait_for(mine)
    # Heating in Astana: the city's energy department, narrower than the akimat.
    assert routed["agency_code"] == "astana-energy"
    assert routed["rule_id"] == "most-specific-competent-body"
    assert routed["causation_id"] == registered["event_id"]
    assert routed["correlation_id"] == registered["correlation_id"]

    async with TopicWatcher(system.bootstrap, system.topic(routed["inbox_topic"])) as watch:
        [assignment] = await watch.wait_for(mine)
    assert assignment["registration_number"] == registered["registration_number"]
    assert assignment["applicant"]["phone"] == "+77011234567"

    async with TopicWatcher(system.bootstrap, system.topic(topics.SLA_EVENTS)) as watch:
        [started] = await watch.wait_for(mine)
    assert started["event_type"] == "sla.started"
    assert started["deadline_kind"] == "answer"
    assert datetime.fromisoformat(started["due_at"]) == due_at

    async with TopicWatcher(system.bootstrap, system.topic(topics.NOTIFICATION_OUTCOMES)) as watch:
        [outcome] = await watch.wait_for(mine)
    assert outcome["status"] == "sent"
    # One correlation id and one trace from the channel's message to the citizen's notification.
    assert registered["correlation_id"] == correlation
    assert outcome["correlation_id"] == correlation == started["correlation_id"]
    [outcome_headers] = watch.headers_of(mine)
    assert outcome_headers["traceparent"].decode() == traceparent
    assert outcome_headers["x-correlation-id"].decode() == correlation
    assert outcome["template"] == "appeal_registered"
    assert outcome["language"] == "ru"

    # Each service's own database holds its state.
    appeal = await system.db("intake")["appeals"].find_one({"_id": appeal_id})
    assert appeal["registration_number"] == registered["registration_number"]
    decision = await system.db("routing")["decisions"].find_one({"appeal_id": appeal_id})
    assert decision["agency_code"] == "astana-energy"
    timer = await system.db("sla")["timers"].find_one({"appeal_id": appeal_id})
    assert timer["state"] == "open" and timer["kind"] == "answer"
    notification = await eventually(
        lambda: system.db("notify")["notifications"].find_one({"appeal_id": appeal_id})
    )
    assert registered["registration_number"] in notification["text"]
    assert f"{due_at.astimezone(ALMATY):%d.%m.%Y %H:%M}" in notification["text"]

    # The citizen can look the appeal up by the number and code the notice gave them.
    code = registered["lookup_code"]
    assert code in notification["text"]
    async with system.http("intake") as client:
        number = registered["registration_number"]
        response = await client.get(f"/v1/appeals/{number}", params={"code": code})
    assert response.status_code == 200
    # The status follows the lifecycle intake consumes (its timeline); routing may or may not
    # have been recorded by the time we ask, but nothing is overdue.
    assert response.json()["status"] in {"registered", "routed"}


DOMAIN_METRIC = {
    "intake": "tyndau_intake_appeals_registered_total",
    "routing": "tyndau_routing_appeals_routed_total",
    "sla": "tyndau_sla_timers_started_total",
    "notify": "tyndau_notify_notifications_total",
}


async def test_every_service_reports_health_metrics_and_its_asyncapi(system: RunningSystem) -> None:
    for service, domain_metric in DOMAIN_METRIC.items():
        async with system.http(service) as client:
            health = await client.get("/health")
            metrics = await client.get("/metrics")
            asyncapi = await client.get("/docs/asyncapi.json")
        assert health.status_code == 200, health.text
        assert health.json()["checks"] == {"kafka": "ok", "mongodb": "ok"}
        assert metrics.status_code == 200
        assert "# TYPE faststream_received_messages_total counter" in metrics.text
        assert f"# TYPE {domain_metric} counter" in metrics.text
        assert asyncapi.json()["asyncapi"].startswith("3.")
        assert asyncapi.json()["info"]["title"] == f"Tyndau {service}"
        channels = asyncapi.json()["channels"]
        # Inputs and outputs are both documented.
        assert any(not name.startswith(f"{service}.publishes.") for name in channels)
        assert any(name.startswith(f"{service}.publishes.") for name in channels)
