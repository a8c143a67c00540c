"""The statute carried through the running system (real broker and store): a term a body
proposes that ends on a day off ends on the next working day — the gated event, sla's timer,
intake's status and the citizen's notice all say the same day, and why; silence past the
answer deadline (Art. 91) is told to the citizen, in the appeal's language, and to the
supervisors, once each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import DeadlineExtended, deterministic_id, topics
from contracts.topics import agency_actions
from reference.calendar import WorkingCalendar, load_bundled_calendar_data
from reference.decree import with_decree
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.auth import bearer
from tests.support.system import RunningSystem, TopicWatcher, eventually, running_system

ALMATY = ZoneInfo("Asia/Almaty")


def appeal_of(call_id: str) -> tuple[str, Callable[[dict], bool]]:
    """The id of the appeal a 1414 call becomes, and a predicate for its events."""
    appeal_id = deterministic_id("appeal", "1414", call_id)
    return appeal_id, lambda event: event.get("appeal_id") == appeal_id


async def test_an_extension_proposed_for_a_saturday_ends_on_monday_everywhere(
    system: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-saturday-{unique_id}"
    appeal_id, mine = appeal_of(call_id)
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


# An appeal received now, and a decree that makes the second working day after its
# registration a day off (an amended list for that day's year): every deadline counted over
# that day moves one working day later.
RECEIVED = datetime.now(ALMATY) - timedelta(minutes=2)


def decree_moving(received: datetime) -> tuple[dict, date]:
    calendar = WorkingCalendar.default()
    registered = calendar.registration_time(received).date()
    day = calendar.add_working_days(registered, 2)
    data = load_bundled_calendar_data()
    days_off = sorted(d.isoformat() for d in calendar.days_off(day.year) if d.isoweekday() < 6)
    kurban = data["kurban_ait"]["first_day"][str(day.year)]["date"]
    return {
        "year": day.year,
        "days_off": [*days_off, day.isoformat()],
        "kurban_ait": kurban,
    }, day


@pytest.fixture(scope="module")
async def own(
    infra,  # noqa: ANN001
    run_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningSystem]:
    # A system of its own, whose sla clock this module moves past deadlines without
    # breaching the appeals of every other test — and whose sla was restarted on a calendar
    # with a new decree (intake and routing still count on the calendar without it).
    calendar_file = tmp_path_factory.mktemp("calendar") / "calendar.json"
    decree, _ = decree_moving(RECEIVED)
    calendar_file.write_text(json.dumps(with_decree(load_bundled_calendar_data(), decree)))
    async with running_system(
        infra.kafka_bootstrap_servers,
        infra.mongodb_url,
        f"{run_prefix}statute-",
        notify_directory=json.dumps(HEADS),
        sla_calendar_file=str(calendar_file),
    ) as system:
        yield system


async def test_silence_past_the_answer_deadline_is_told_to_the_citizen_and_the_supervisor_once(
    own: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-silence-{unique_id}"
    appeal_id, mine = appeal_of(call_id)
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


async def test_a_decree_loaded_moves_the_open_deadlines_it_touches_once_and_tells_the_citizen(
    own: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-decree-{unique_id}"
    appeal_id, mine = appeal_of(call_id)
    # Filed before the decree was loaded: due on the old calendar; the decree's new day off
    # falls inside the term, so the answer is due one working day later.
    _, new_day_off = decree_moving(RECEIVED)
    await own.publish(topics.CHANNEL_1414, call_1414(call_id, RECEIVED), key=call_id)
    async with TopicWatcher(own.bootstrap, own.topic(topics.SLA_EVENTS)) as sla:
        await sla.wait_for(lambda e: mine(e) and e["event_type"] == "sla.started")
    async with TopicWatcher(own.bootstrap, own.topic(topics.APPEALS_ROUTED)) as routed_watch:
        [routed] = await routed_watch.wait_for(mine)
    provisional_due = datetime.fromisoformat(routed["answer_due_at"])
    old = WorkingCalendar.default()
    assert old.is_working_day(new_day_off) and new_day_off < provisional_due.date()
    next_day = old.add_working_days(provisional_due.astimezone(ALMATY).date(), 1)
    decreed_due = datetime.combine(next_day, time(18, 0), tzinfo=ALMATY)

    # sla's clock to the present (the module's other test left it in 2026's spring): the
    # re-planned generation's events are stamped after the routing decision, as they would be.
    own.sla_clock.set(datetime.now(ALMATY))
    operator = bearer("calendar-operator", "op.calendar")
    async with own.http("sla") as client:
        calendar = (await client.get("/v1/calendar")).json()
        assert new_day_off.year not in calendar["provisional_years"]
        assert calendar["version"] != old.version
        assert (await client.get("/v1/calendar/replan")).status_code == 401
        preview = (await client.get("/v1/calendar/replan", headers=operator)).json()
        assert preview["applied"] is False
        [planned] = [m for m in preview["moves"] if m["appeal_id"] == appeal_id]
        assert datetime.fromisoformat(planned["previous_due_at"]) == provisional_due
        assert datetime.fromisoformat(planned["due_at"]) == decreed_due
        async with TopicWatcher(own.bootstrap, own.topic(topics.SLA_EVENTS)) as sla:
            applied = (await client.post("/v1/calendar/replan", headers=operator)).json()
            [moved] = await sla.wait_for(
                lambda e: mine(e) and e["event_type"] == "sla.started" and e["previous_due_at"]
            )
            again = (await client.post("/v1/calendar/replan", headers=operator)).json()
    assert appeal_id in {m["appeal_id"] for m in applied["moves"]}
    assert appeal_id not in {m["appeal_id"] for m in again["moves"]}  # once
    assert datetime.fromisoformat(moved["due_at"]) == decreed_due
    assert moved["calendar_version"] == calendar["version"] == applied["calendar_version"]
    shown = f"{decreed_due:%d.%m.%Y %H:%M} instead of {provisional_due:%d.%m.%Y %H:%M}"
    assert shown in moved["moved_because"]

    async def moved_status() -> dict | None:
        async with own.http("intake") as client:
            status = (
                await client.get(
                    f"/v1/appeals/{routed['registration_number']}",
                    headers=bearer("call-centre-operator", "op.decree"),
                )
            ).json()
        return status if datetime.fromisoformat(status["answer_due_at"]) == decreed_due else None

    status = await eventually(moved_status)
    assert any(e.get("previous_due_at") for e in status["timeline"])
    # Whether the status calls the deadline provisional is intake's calendar's word.
    assert status["deadline_provisional"] is old.is_provisional(decreed_due.year)

    notices = own.db("notify")["notifications"]
    notice = await eventually(
        lambda: notices.find_one({"appeal_id": appeal_id, "template": "answer_date_moved"})
    )
    assert notice["language"] == "ru" and notice["mandatory"]
    assert (
        f"до {decreed_due:%d.%m.%Y %H:%M} вместо {provisional_due:%d.%m.%Y %H:%M}" in notice["text"]
    )
    # Told once: the second run republished the same event, which notify knows.
    async with TopicWatcher(own.bootstrap, own.topic(topics.NOTIFICATION_OUTCOMES)) as outcomes:
        await outcomes.wait_for(lambda e: e.get("cause_event_id") == moved["event_id"])
    assert await notices.count_documents({"cause_event_id": moved["event_id"]}) == 1
