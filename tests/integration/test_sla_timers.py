"""The SLA service against the real broker and store, with a hand-moved clock: every timer
kind, warnings, breach and escalation, stop on answer, extension accepted and refused, a
redirect keeping the receipt date, and metrics.

One SLA instance serves the module (its own topic/database prefix); each test works on its
own appeal ids, arms them at the clock's present and moves the clock forward only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from contracts import (
    AppealAccepted,
    AppealAnswered,
    DeadlineExtended,
    deterministic_id,
    topics,
)
from services.common.clock import ManualClock
from services.sla.store import MongoTimerStore, from_document
from tests.conftest import Infra
from tests.support.sla import (
    ALMATY,
    CAL,
    PARTITIONS,
    SlaHarness,
    action,
    iso,
    of,
    owned_shards,
    routed_event,
    sla_harness,
)
from tests.support.system import TopicWatcher, eventually

# --- module fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    # Mon 12 Jan 2026, 10:00 in Astana; only ever moves forward.
    return ManualClock(datetime(2026, 1, 12, 10, tzinfo=ALMATY))


@pytest.fixture(scope="module")
async def harness(infra: Infra) -> AsyncIterator[SlaHarness]:
    async with sla_harness(infra, f"t{uuid.uuid4().hex[:8]}-sla-") as running:
        yield running


@pytest.fixture(scope="module")
async def sla(harness: SlaHarness, clock: ManualClock) -> AsyncIterator[Starlette]:
    async with harness.instance(clock) as app:
        await eventually(lambda: _async(len(owned_shards(app)) == PARTITIONS))
        yield app


@pytest.fixture(scope="module")
async def events(harness: SlaHarness) -> AsyncIterator[TopicWatcher]:
    async with TopicWatcher(
        harness.infra.kafka_bootstrap_servers, harness.topic(topics.SLA_EVENTS)
    ) as watcher:
        yield watcher


async def _async(value: Any) -> Any:
    return value


async def move_clock(clock: ManualClock, app: Starlette, moment: datetime) -> None:
    clock.set(moment)
    app.state.firing.wake()


def new_appeal() -> str:
    return str(uuid.uuid4())


# --- tests -------------------------------------------------------------------------------------


async def test_a_first_routing_arms_the_answer_timer_and_a_forwarding_term_its_own_timer(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    forward_due = CAL.deadline(CAL.registration_time(received), 3)
    await harness.send(
        topics.APPEALS_ROUTED, routed_event(appeal, received, forward_due_at=forward_due)
    )

    started = await events.wait_for(lambda e: of(appeal, "sla.started")(e), count=2)
    by_kind = {e["deadline_kind"]: e for e in started}
    assert by_kind["answer"]["timer_id"] == f"{appeal}:answer"
    assert by_kind["answer"]["generation"] == 1
    assert by_kind["forwarding"]["timer_id"] == f"{appeal}:forwarding:0"
    assert by_kind["forwarding"]["due_at"] == iso(forward_due)

    timer = await harness.db["timers"].find_one({"_id": f"{appeal}:answer"})
    assert timer["state"] == "open" and timer["shard"] in range(PARTITIONS)
    # 12 Jan + 15 working days = Mon 2 Feb; first warning at 09:00 with 3 days left (28 Jan).
    assert timer["due_at"] == datetime(2026, 2, 2, 18, tzinfo=ALMATY)
    # The due index holds the first moment's entry, with the whole schedule: both warnings
    # and the deadline (each fired entry puts in the next).
    [entry] = await MongoTimerStore(harness.db).entries_of(from_document(timer))
    assert entry.at == datetime(2026, 1, 28, 9, tzinfo=ALMATY)
    assert entry.moments == (
        datetime(2026, 1, 28, 9, tzinfo=ALMATY),
        datetime(2026, 1, 30, 9, tzinfo=ALMATY),
        timer["due_at"],
    )
    assert entry.key.startswith(f"{timer['shard']:04d}|")


async def test_warnings_then_a_breach_with_escalation_and_a_late_answer_counted_late(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    routed = routed_event(appeal, received)
    due = routed.answer_due_at
    await harness.send(topics.APPEALS_ROUTED, routed)
    await events.wait_for(of(appeal, "sla.started"))

    await move_clock(clock, sla, due - timedelta(days=14))
    await events.drain(0.3)
    assert events.events(of(appeal, "sla.warning")) == []

    three_left = CAL.deadline(CAL.registration_time(received), 12).replace(hour=9)
    await move_clock(clock, sla, three_left)
    [warning] = await events.wait_for(of(appeal, "sla.warning"))
    assert warning["working_days_left"] == 3
    assert warning["event_id"] == deterministic_id("sla.warning", f"{appeal}:answer", "1", "3")

    await move_clock(clock, sla, due + timedelta(seconds=1))
    [breach] = await events.wait_for(of(appeal, "sla.breached"))
    assert breach["escalate_to"] == ["astana-energy:head", "akimat-astana"]
    assert breach["breached_at"] == iso(due)
    assert breach["deadline_kind"] == "answer"
    # The 1-day warning was due before the breach came: it is superseded, not sent late.
    assert [w["working_days_left"] for w in events.events(of(appeal, "sla.warning"))] == [3]

    answered_at = due + timedelta(days=2)
    await move_clock(clock, sla, answered_at)
    await harness.send(topics.AGENCY_ACTIONS, action(AppealAnswered, appeal, answered_at))
    [stopped] = await events.wait_for(of(appeal, "sla.stopped"))
    assert stopped["on_time"] is False
    assert stopped["working_days_used"] == CAL.working_days_between(
        CAL.registration_time(received), answered_at
    )
    timer = await harness.db["timers"].find_one({"_id": f"{appeal}:answer"})
    assert timer["state"] == "stopped"
    assert len(events.events(of(appeal, "sla.breached"))) == 1


async def test_an_answer_in_time_stops_the_timer_and_nothing_fires_after(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    routed = routed_event(appeal, received)
    await harness.send(topics.APPEALS_ROUTED, routed)
    await events.wait_for(of(appeal, "sla.started"))

    answered_at = clock.now() + timedelta(days=3)
    await move_clock(clock, sla, answered_at)
    answer = action(AppealAnswered, appeal, answered_at)
    await harness.send(topics.AGENCY_ACTIONS, answer)
    await harness.send(topics.AGENCY_ACTIONS, answer)  # redelivered: one effect, same event
    stops = await events.wait_for(of(appeal, "sla.stopped"), count=2)
    assert len({s["event_id"] for s in stops}) == 1 and all(s == stops[0] for s in stops)
    stopped = stops[0]
    assert stopped["on_time"] is True
    assert stopped["stopped_by_event_id"] == answer.event_id
    assert stopped["working_days_used"] == CAL.working_days_between(
        CAL.registration_time(received), answered_at
    )

    await move_clock(clock, sla, routed.answer_due_at + timedelta(days=1))
    await events.drain(0.5)
    assert events.events(of(appeal, "sla.breached")) == []
    assert events.events(of(appeal, "sla.warning")) == []


async def test_an_extension_within_two_months_moves_the_deadline_to_a_new_generation(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    routed = routed_event(appeal, received)
    await harness.send(topics.APPEALS_ROUTED, routed)
    await events.wait_for(of(appeal, "sla.started"))

    decided = clock.now() + timedelta(days=5)
    await move_clock(clock, sla, decided)
    new_due = CAL.deadline(CAL.registration_time(received), 30)
    await harness.send(
        topics.AGENCY_ACTIONS, action(DeadlineExtended, appeal, decided, new_due_at=new_due)
    )
    [renewed] = await events.wait_for(of(appeal, "sla.started", generation=2))
    assert renewed["due_at"] == iso(new_due)

    await move_clock(clock, sla, routed.answer_due_at + timedelta(hours=1))
    await events.drain(0.5)
    assert events.events(of(appeal, "sla.breached")) == []

    await move_clock(clock, sla, new_due + timedelta(minutes=1))
    [breach] = await events.wait_for(of(appeal, "sla.breached"))
    assert breach["generation"] == 2 and breach["due_at"] == iso(new_due)
    assert breach["event_id"] == deterministic_id("sla.breached", f"{appeal}:answer", "2")


async def test_an_extension_beyond_two_months_from_receipt_is_refused_and_the_old_deadline_stands(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    routed = routed_event(appeal, received)
    await harness.send(topics.APPEALS_ROUTED, routed)
    await events.wait_for(of(appeal, "sla.started"))

    too_late = (received + timedelta(days=70)).replace(hour=18, minute=0)
    decided = clock.now() + timedelta(days=1)
    await move_clock(clock, sla, decided)
    await harness.send(
        topics.AGENCY_ACTIONS, action(DeadlineExtended, appeal, decided, new_due_at=too_late)
    )
    [refused] = await events.wait_for(of(appeal, "sla.extension_refused"))
    assert refused["reason"] == "exceeds_two_months_from_receipt"
    assert refused["due_at"] == iso(routed.answer_due_at)
    assert refused["generation"] == 1

    await move_clock(clock, sla, routed.answer_due_at + timedelta(seconds=1))
    [breach] = await events.wait_for(of(appeal, "sla.breached"))
    assert breach["generation"] == 1


async def test_acceptance_closes_the_forwarding_timer_and_an_unanswered_one_breaches(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    accepted, ignored = new_appeal(), new_appeal()
    received = clock.now()
    forward_due = CAL.deadline(CAL.registration_time(received), 3)
    for appeal in (accepted, ignored):
        await harness.send(
            topics.APPEALS_ROUTED, routed_event(appeal, received, forward_due_at=forward_due)
        )
        await events.wait_for(of(appeal, "sla.started", deadline_kind="forwarding"))

    accepted_at = clock.now() + timedelta(hours=2)
    await move_clock(clock, sla, accepted_at)
    await harness.send(topics.AGENCY_ACTIONS, action(AppealAccepted, accepted, accepted_at))
    [closed] = await events.wait_for(of(accepted, "sla.stopped"))
    assert closed["deadline_kind"] == "forwarding" and closed["on_time"] is True

    one_left = CAL.deadline(CAL.registration_time(received), 2).replace(hour=9)
    await move_clock(clock, sla, one_left)
    await events.wait_for(of(ignored, "sla.warning"))
    await move_clock(clock, sla, forward_due + timedelta(seconds=1))
    [breach] = await events.wait_for(of(ignored, "sla.breached"))
    assert breach["deadline_kind"] == "forwarding"
    assert breach["timer_id"] == f"{ignored}:forwarding:0"
    assert events.events(of(accepted, "sla.breached")) == []
    # Only the 1-day warning: "3 days left" would have been before the timer was armed.
    warnings = events.events(of(ignored, "sla.warning", deadline_kind="forwarding"))
    assert [w["working_days_left"] for w in warnings] == [1]


async def test_a_redirect_keeps_the_receipt_date_and_answer_deadline_and_arms_a_new_forwarding_term(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    first = routed_event(appeal, received)
    await harness.send(topics.APPEALS_ROUTED, first)
    await events.wait_for(of(appeal, "sla.started"))

    redirected_at = clock.now() + timedelta(days=2)
    await move_clock(clock, sla, redirected_at)
    new_forward_due = CAL.deadline(CAL.registration_time(redirected_at), 3)
    second = routed_event(
        appeal,
        received,
        agency="akimat-astana",
        hop=1,
        forward_due_at=new_forward_due,
        occurred_at=redirected_at,
    )
    await harness.send(topics.APPEALS_ROUTED, second)
    [forwarding] = await events.wait_for(of(appeal, "sla.started", deadline_kind="forwarding"))
    assert forwarding["timer_id"] == f"{appeal}:forwarding:1"
    assert forwarding["agency_code"] == "akimat-astana"
    assert forwarding["due_at"] == iso(new_forward_due)

    db = harness.db
    answer = await eventually(
        lambda: db["timers"].find_one({"_id": f"{appeal}:answer", "agency_code": "akimat-astana"})
    )
    assert answer["received_at"] == received
    assert answer["due_at"] == first.answer_due_at
    assert answer["generation"] == 1
    assert len(events.events(of(appeal, "sla.started", deadline_kind="answer"))) == 1
    # The answer deadline's pending entry (its first warning) now speaks for the new body.
    entries = await eventually(lambda: _entries_for(harness, answer, "akimat-astana"))
    assert [e.at for e in entries] == [min(w["at"] for w in answer["warnings"])]

    answered_at = redirected_at + timedelta(days=1)
    await move_clock(clock, sla, answered_at)
    await harness.send(
        topics.AGENCY_ACTIONS, action(AppealAnswered, appeal, answered_at, agency="akimat-astana")
    )
    stops = await events.wait_for(of(appeal, "sla.stopped"), count=2)
    assert {(s["deadline_kind"], s["agency_code"]) for s in stops} == {
        ("answer", "akimat-astana"),
        ("forwarding", "akimat-astana"),
    }
    answer_stop = next(s for s in stops if s["deadline_kind"] == "answer")
    # Counted from the original registration, not from the redirect.
    assert answer_stop["working_days_used"] == CAL.working_days_between(
        CAL.registration_time(received), answered_at
    )


async def test_an_answer_that_overtakes_its_routing_decision_still_stops_the_timer(
    harness: SlaHarness, sla: Starlette, clock: ManualClock, events: TopicWatcher
) -> None:
    appeal = new_appeal()
    received = clock.now()
    answered_at = received + timedelta(hours=3)
    await harness.send(topics.AGENCY_ACTIONS, action(AppealAnswered, appeal, answered_at))
    await eventually(lambda: harness.db["pending_actions"].find_one({"appeal_id": appeal}))
    await harness.send(topics.APPEALS_ROUTED, routed_event(appeal, received))
    [stopped] = await events.wait_for(of(appeal, "sla.stopped"))
    assert stopped["on_time"] is True


async def test_metrics_count_breaches_warnings_stops_and_open_timers_by_body_and_kind(
    sla: Starlette, events: TopicWatcher
) -> None:
    import httpx

    async def scrape() -> str:
        transport = httpx.ASGITransport(app=sla)
        async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
            return (await client.get("/metrics")).text

    text = await eventually(lambda: _gauge_ready(scrape))
    assert 'tyndau_sla_breaches_total{agency="astana-energy",kind="answer"}' in text
    assert 'tyndau_sla_breaches_total{agency="astana-energy",kind="forwarding"}' in text
    assert 'tyndau_sla_warnings_total{agency="astana-energy",kind="answer"}' in text
    assert (
        'tyndau_sla_timers_stopped_total{agency="astana-energy",kind="answer",on_time="true"}'
        in (text)
    )
    assert 'on_time="false"' in text
    assert "tyndau_sla_working_days_used_bucket" in text
    assert 'tyndau_sla_extensions_total{agency="astana-energy",result="refused"} 1.0' in text
    assert 'tyndau_sla_open_timers{agency="astana-energy",kind="answer",state="breached"}' in text


async def _gauge_ready(scrape) -> str | None:
    text = await scrape()
    return text if "tyndau_sla_open_timers{" in text else None


async def _entries_for(harness: SlaHarness, timer: dict, agency: str) -> list | None:
    entries = await MongoTimerStore(harness.db).entries_of(from_document(timer))
    return entries if all(e.timer.agency_code == agency for e in entries) else None
