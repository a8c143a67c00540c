"""The statute carried through the running system (real broker and store): a term a body
proposes that ends on a day off ends on the next working day — the gated event, sla's timer,
intake's status and the citizen's notice all say the same day, and why; silence past the
answer deadline (Art. 91) is told to the citizen, in the appeal's language, and to the
supervisors, once each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import DeadlineExtended, deterministic_id, topics
from contracts.topics import agency_actions
from reference.calendar import WorkingCalendar
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.auth import bearer
from tests.support.system import RunningSystem, TopicWatcher, eventually, running_system

ALMATY = ZoneInfo("Asia/Almaty")


async def test_an_extension_proposed_for_a_saturday_ends_on_monday_everywhere(
    system: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-saturday-{unique_id}"
    appeal_id = deterministic_id("appeal", "1414", call_id)
    mine = lambda event: event.get("appeal_id") == appeal_id  # noqa: E731
    # Received now (a decision is judged against the real deadline, so the receipt is real
    # too): the answer is due within five weeks, the extension cap is two months away.
    await system.publish(topics.CHANNEL_1414, call_1414(call_id), key=call_id)
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_ROUTED)) as watch:
        [routed] = await watch.wait_for(mine)
    body = routed["agency_code"]

    # The head of the body names the first Saturday a week after the deadline, at noon: the
    # term ends at the end of work on the next working day (a Monday, unless a holiday).
    due = datetime.fromisoformat(routed["answer_due_at"]).astimezone(ALMATY).date()
    saturday = due + timedelta(days=7 + (5 - (due + timedelta(days=7)).weekday()) % 7)
    proposed = datetime.combine(saturday, time(12, 0), tzinfo=ALMATY)
    calendar = WorkingCalendar.default()
    last_day = next(
        day
        for day in (saturday + timedelta(days=n) for n in range(1, 15))
        if calendar.is_working_day(day)
    )
    monday = datetime.combine(last_day, time(18, 0), tzinfo=ALMATY)
    extension = DeadlineExtended.example().model_copy(
        update={
            "event_id": deterministic_id("test.extension", unique_id),
            "appeal_id": appeal_id,
            "correlation_id": routed["correlation_id"],
            "causation_id": routed["event_id"],
            "occurred_at": datetime.now(ALMATY),
            "action_id": f"{body}/extended/{unique_id}",
            "agency_code": body,
            "new_due_at": proposed,
        }
    )
    async with (
        TopicWatcher(system.bootstrap, system.topic(topics.AGENCY_ACTIONS)) as actions,
        TopicWatcher(system.bootstrap, system.topic(topics.SLA_EVENTS)) as sla,
    ):
        await system.publish(agency_actions(body), extension.model_dump(mode="json"), key=appeal_id)
        [gated] = await actions.wait_for(mine)
        started = await sla.wait_for(
            lambda e: mine(e) and e["event_type"] == "sla.started" and e["generation"] == 2
        )
    assert datetime.fromisoformat(gated["new_due_at"]) == monday
    assert datetime.fromisoformat(gated["proposed_due_at"]) == proposed
    assert gated["moved_from_day_off"] == saturday.isoformat()
    assert gated["event_id"] == str(extension.event_id)  # the body's decision, as the law has it
    assert datetime.fromisoformat(started[0]["due_at"]) == monday

    operator = bearer("call-centre-operator", "op.statute")

    async def extended_status() -> dict | None:
        async with system.http("intake") as client:
            number = routed["registration_number"]
            status = (await client.get(f"/v1/appeals/{number}", headers=operator)).json()
        entries = [e for e in status["timeline"] if e["event_type"] == "agency.extended"]
        return status if entries and status["answer_due_at"] != routed["answer_due_at"] else None

    status = await eventually(extended_status)
    assert datetime.fromisoformat(status["answer_due_at"]) == monday
    [entry] = [e for e in status["timeline"] if e["event_type"] == "agency.extended"]
    assert entry["moved_from_day_off"] == saturday.isoformat()

    notice = await eventually(
        lambda: system.db("notify")["notifications"].find_one(
            {"appeal_id": appeal_id, "template": "deadline_extended"}
        )
    )
    assert f"{monday:%d.%m.%Y %H:%M}" in notice["text"]
    assert f"{saturday:%d.%m.%Y}" in notice["text"]  # and why: the day named was a day off


# Whom a breach of astana-energy's answer deadline escalates to (sla's default chain: the
# body's head, then its supervising body), as notify's staff directory knows them.
HEADS = {
    "astana-energy:head": {"supervisor": {"email": "head@energy.astana.kz", "language": "kk"}},
    "akimat-astana": {"supervisor": {"email": "control@akimat.astana.kz", "language": "ru"}},
}


@pytest.fixture(scope="module")
async def own(infra, run_prefix: str) -> AsyncIterator[RunningSystem]:  # noqa: ANN001
    # A system of its own, whose sla clock this module moves past deadlines without
    # breaching the appeals of every other test.
    async with running_system(
        infra.kafka_bootstrap_servers,
        infra.mongodb_url,
        f"{run_prefix}statute-",
        notify_directory=json.dumps(HEADS),
    ) as system:
        yield system


async def test_silence_past_the_answer_deadline_is_told_to_the_citizen_and_the_supervisor_once(
    own: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-silence-{unique_id}"
    appeal_id = deterministic_id("appeal", "1414", call_id)
    mine = lambda event: event.get("appeal_id") == appeal_id  # noqa: E731
    # Received Thu 5 March 2026 10:00, where this system's sla clock stands: due Wed 1 April
    # 18:00 (9 March and 23-25 March are off). Nobody decides.
    received = datetime(2026, 3, 5, 10, 0, tzinfo=ALMATY)
    await own.publish(topics.CHANNEL_1414, call_1414(call_id, received), key=call_id)
    async with TopicWatcher(own.bootstrap, own.topic(topics.SLA_EVENTS)) as sla:
        [started] = await sla.wait_for(lambda e: mine(e) and e["event_type"] == "sla.started")
        assert datetime.fromisoformat(started["due_at"]) == datetime(2026, 4, 1, 18, tzinfo=ALMATY)
        own.sla_clock.set(datetime(2026, 4, 1, 18, 0, 5, tzinfo=ALMATY))
        [breached] = await sla.wait_for(lambda e: mine(e) and e["event_type"] == "sla.breached")

    notices = own.db("notify")["notifications"]

    async def told() -> list[dict] | None:
        found = await notices.find({"cause_event_id": breached["event_id"]}).to_list()
        roles = {n["recipient_role"] for n in found}
        return found if {"citizen", "supervisor"} <= roles else None

    found = await eventually(told)
    # Every other notice of the appeal is made by now (the breach came last): wait for
    # notify's consumer to pass the breach, then count — a second notice would be here.
    async with TopicWatcher(own.bootstrap, own.topic(topics.NOTIFICATION_OUTCOMES)) as outcomes:
        await outcomes.wait_for(lambda e: e.get("cause_event_id") == breached["event_id"])
    found = await notices.find({"cause_event_id": breached["event_id"]}).to_list()
    citizen = [n for n in found if n["recipient_role"] == "citizen"]
    supervisors = [n for n in found if n["recipient_role"] == "supervisor"]
    assert len(citizen) == 1
    assert sorted(n["recipient"] for n in supervisors) == sorted(
        {f"supervisor:{code}" for code in breached["escalate_to"] or [breached["agency_code"]]}
    )
    [notice] = citizen
    assert notice["template"] == "answer_deadline_passed" and notice["mandatory"]
    assert notice["language"] == "ru"  # the appeal's
    assert "01.04.2026 18:00" in notice["text"] and "считается отказом" in notice["text"]
    assert "в суд" in notice["text"]
    assert all(n["template"] == "sla_breached" for n in supervisors)
