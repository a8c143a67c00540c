"""The statute carried through the running system (real broker and store): a term a body
proposes that ends on a day off ends on the next working day — the gated event, sla's timer,
intake's status and the citizen's notice all say the same day, and why."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts import DeadlineExtended, deterministic_id, topics
from contracts.topics import agency_actions
from reference.calendar import WorkingCalendar
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.auth import bearer
from tests.support.system import RunningSystem, TopicWatcher, eventually

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
