"""The SLA's scenarios, written once and run on every `TimerStore` (in memory and on
FerretDB):

- `TimerStoreScenarios` — the store's contract: the due index read per owned shard, soonest
  first, bounded, nothing beyond the horizon; an appeal's timers and parked actions by
  prefix; compare-and-set updates; breaches recorded once; tallies that add up every
  instance's share.
- `SlaScenarios` — TimerService with its store, the events it would publish recorded and
  time moved by hand: arming, warnings, breach and escalation, a re-fire after a crash with
  the same ids, stop on answer, extension accepted and refused, acceptance closing a
  forwarding term, a redirect keeping the receipt date, an action that overtakes its routing
  decision, and the open-timer tallies.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRouted,
    DeadlineExtended,
    DeadlineKind,
    SlaTimerEvent,
    deterministic_id,
)
from reference.calendar import WorkingCalendar, load_bundled_calendar_data
from reference.decree import with_decree
from services.common.clock import ManualClock
from services.sla.metrics import SlaMetrics
from services.sla.replan import CalendarReplan
from services.sla.service import TimerService
from services.sla.store import TimerStore
from services.sla.tallies import Tallies
from services.sla.timers import Breach, Timer, TimerState, new_timer, timer_id
from tests.support.sla import ALMATY, CAL, POLICY, action, routed_event

T0 = datetime(2026, 3, 5, 13, tzinfo=UTC)
NOW = datetime(2026, 1, 12, 10, tzinfo=ALMATY)  # a Monday


def bare_timer(tid: str, shard: int, due_at: datetime, generation: int = 1) -> Timer:
    """A timer with only its deadline (no warnings), for the store's contract."""
    appeal = tid.split(":")[0]
    armed = new_timer(
        routed=AppealRouted.example().model_copy(update={"appeal_id": appeal}),
        kind=DeadlineKind.ANSWER,
        due_at=due_at,
        registered_at=due_at - timedelta(days=20),
        shard=shard,
        warnings=(),
        now=due_at - timedelta(days=20),
    )
    return replace(armed, timer_id=tid, generation=generation)


def entry_of(shard: int, seconds: float, tid: str):
    return bare_timer(tid, shard, T0 + timedelta(seconds=seconds)).due_entries()[0]


class TimerStoreScenarios:
    """Subclasses provide a `store` fixture (a fresh, empty `TimerStore`)."""

    async def test_due_entries_come_per_owned_shard_soonest_first_up_to_the_horizon(
        self, store: TimerStore
    ) -> None:
        await store.add_due(
            [
                entry_of(1, 30, "b:answer"),
                entry_of(1, -3600, "a:answer"),
                entry_of(2, 0, "c:answer"),
                entry_of(12, -10, "other-shard:answer"),
                entry_of(1, 0.5, "d:forwarding:0"),
                entry_of(1, 90, "beyond-horizon:answer"),
            ]
        )
        await store.add_due([entry_of(1, 30, "b:answer")])  # a redelivered arm: no copy

        due, more = await store.due({1, 2}, T0 + timedelta(seconds=60), limit=10)

        assert [e.timer_id for e in due] == ["a:answer", "c:answer", "d:forwarding:0", "b:answer"]
        assert not more
        # An equal share per shard: shard 1's soonest and shard 2's only one; 1 has more.
        page, more = await store.due({1, 2}, T0 + timedelta(seconds=60), limit=2)
        assert [e.timer_id for e in page] == ["a:answer", "c:answer"] and more
        # Shard 1 is not a prefix of shard 12: ids are zero-padded.
        twelve, _ = await store.due({12}, T0, 10)
        assert [e.timer_id for e in twelve] == ["other-shard:answer"]

        # The next moment after T0 within a minute: d (T0 + 0.5 s) — not c (T0), not b.
        assert await store.next_moment({1, 2}, T0, T0 + timedelta(seconds=60)) == T0 + timedelta(
            seconds=0.5
        )
        assert await store.next_moment({2}, T0, T0 + timedelta(seconds=60)) is None

        await store.drop_due(e.key for e in due[:2])
        await store.drop_due(["never-there"])
        left, _ = await store.due({1, 2}, T0 + timedelta(seconds=60), limit=10)
        assert [e.timer_id for e in left] == ["d:forwarding:0", "b:answer"]
        assert left[0] == entry_of(1, 0.5, "d:forwarding:0")  # read back as written

    async def test_an_appeals_timers_and_parked_actions_are_found_by_id_prefix(
        self, store: TimerStore
    ) -> None:
        for tid in ("ap1:answer", "ap1:forwarding:0", "ap1:forwarding:1", "ap10:answer"):
            assert await store.insert(bare_timer(tid, 0, T0))
        assert not await store.insert(bare_timer("ap1:answer", 0, T0))
        assert sorted(t.timer_id for t in await store.of_appeal("ap1")) == [
            "ap1:answer",
            "ap1:forwarding:0",
            "ap1:forwarding:1",
        ]
        assert await store.get("ap1:answer") == bare_timer("ap1:answer", 0, T0)

        later, first, other = (
            action(AppealAccepted, "ap1", T0 + timedelta(seconds=5)),
            action(AppealAccepted, "ap1", T0),
            action(AppealAccepted, "ap10", T0),
        )
        assert not await store.may_have_parked("ap1")
        for parked in (later, first, other):
            await store.park(parked)
        await store.park(first)  # parked again: once
        assert await store.may_have_parked("ap1")
        assert [a.event_id for a in await store.parked("ap1")] == [first.event_id, later.event_id]
        await store.forget_parked("ap1")
        assert await store.parked("ap1") == []
        assert await store.may_have_parked("ap1")  # markers stay
        assert len(await store.parked("ap10")) == 1

    async def test_an_update_is_a_compare_and_set_on_the_revision(self, store: TimerStore) -> None:
        await store.insert(bare_timer("cas:answer", 0, T0))
        stale = await store.get("cas:answer")
        assert stale is not None

        moved, changed = await store.update(
            "cas:answer", lambda t: replace(t, agency_code="akimat-astana")
        )
        assert changed and moved is not None and moved.rev == stale.rev + 1

        seen: list[str] = []

        def stop(timer: Timer) -> Timer | None:
            seen.append(timer.agency_code)
            return replace(timer, state=TimerState.STOPPED)

        # Given the stale copy, the write misses and the decision is made again on the fresh one.
        stopped, changed = await store.update("cas:answer", stop, current=stale)
        assert changed and seen == [stale.agency_code, "akimat-astana"]
        assert stopped is not None and stopped.state is TimerState.STOPPED
        assert (await store.get("cas:answer")) == stopped
        unchanged, changed = await store.update("cas:answer", lambda t: None)
        assert unchanged == stopped and not changed
        assert await store.update("nobody:answer", stop) == (None, False)

    async def test_a_breach_is_recorded_once_per_generation(self, store: TimerStore) -> None:
        timer = bare_timer("br:answer", 0, T0)
        breach = Breach(
            timer_id=timer.timer_id,
            generation=1,
            appeal_id="br",
            kind=DeadlineKind.ANSWER,
            agency_code=timer.agency_code,
            breached_at=T0,
            escalate_to=("x:head",),
            fired_at=T0,
        )
        assert not await store.breached(timer)
        assert await store.record_breaches([breach]) == {"br:answer|1"}
        assert await store.record_breaches([breach]) == set()
        assert await store.breached(timer)
        assert not await store.breached(replace(timer, generation=2))

    async def test_tallies_add_up_every_instances_share_of_the_owned_shards(
        self, store: TimerStore
    ) -> None:
        a, b = Tallies(store, instance="a"), Tallies(store, instance="b")
        for _ in range(3):
            a.add(0, "answer", "akimat-astana", "open", +1)
        a.add(1, "answer", "akimat-astana", "open", +1)
        b.add(0, "answer", "akimat-astana", "open", -1)  # b stopped one of shard 0's timers
        b.add(0, "forwarding", "min.health", "breached", +1)  # a dot in a code is escaped
        await a.flush()
        await b.flush()
        a.add(0, "answer", "akimat-astana", "open", +2)
        await a.flush()

        assert await a.counts({0}) == {
            ("answer", "akimat-astana", "open"): 4,
            ("forwarding", "min.health", "breached"): 1,
        }
        assert await b.counts({0, 1}) == {
            ("answer", "akimat-astana", "open"): 5,
            ("forwarding", "min.health", "breached"): 1,
        }
        assert not any(a.pending.values())


class Sla:
    """A TimerService on a store, publishing into a list, on a hand-moved clock."""

    def __init__(self, store: TimerStore) -> None:
        self.store = store
        self.clock = ManualClock(NOW)
        self.published: list[SlaTimerEvent] = []
        self.metrics = SlaMetrics(CollectorRegistry())
        self.tallies = Tallies(store, instance="scenario")

        async def publish(event: SlaTimerEvent) -> None:
            self.published.append(event)

        self.service = TimerService(
            store, publish, self.clock, CAL, POLICY, self.metrics, tallies=self.tallies
        )

    async def arm(self, appeal_id: str) -> tuple[AppealRouted, Timer]:
        """Route `appeal_id` at NOW (shard 0); the decision and the answer timer armed."""
        routed = routed_event(appeal_id, NOW)
        await self.service.start_timers(routed, shard=0)
        answer = await self.store.get(f"{appeal_id}:answer")
        assert answer is not None
        return routed, answer

    async def fire_at(self, moment: datetime) -> list[SlaTimerEvent]:
        """Move time to `moment` and fire what has come due, as the firing loop would."""
        self.clock.set(moment)
        before = len(self.published)
        entries, _ = await self.store.due(range(6), moment, 1000)
        await self.service.fire(entries)
        return self.published[before:]

    def of(self, appeal_id: str, event_type: str) -> list[SlaTimerEvent]:
        return [
            e for e in self.published if e.appeal_id == appeal_id and e.event_type == event_type
        ]


def decreed_2026() -> WorkingCalendar:
    """The bundled calendar with a (made-up) amended 2026 decree: 30 Jan and 13 Feb off."""
    data = load_bundled_calendar_data()
    official = data["official_years"]["2026"]
    decree = {
        "year": 2026,
        "days_off": [*official["days_off"], "2026-01-30", "2026-02-13"],
        "kurban_ait": "2026-05-27",
    }
    return WorkingCalendar(with_decree(data, decree))


def new_appeal() -> str:
    return f"appeal-{uuid.uuid4().hex[:10]}"


class SlaScenarios:
    """Subclasses provide a `store` fixture (a fresh, empty `TimerStore`)."""

    async def test_a_first_routing_arms_the_answer_timer_and_the_forwarding_term_its_own(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        forward_due = CAL.deadline(CAL.registration_time(NOW), 3)
        routed = routed_event(appeal, NOW, forward_due_at=forward_due)

        started = await sla.service.start_timers(routed, shard=2)

        assert [(e.deadline_kind, e.timer_id, e.generation) for e in started] == [
            (DeadlineKind.ANSWER, f"{appeal}:answer", 1),
            (DeadlineKind.FORWARDING, f"{appeal}:forwarding:0", 1),
        ]
        assert sla.published == started
        answer = await store.get(f"{appeal}:answer")
        assert answer is not None and answer.due_at == routed.answer_due_at
        assert (answer.state, answer.shard) == (TimerState.OPEN, 2)
        # One due entry, the first warning's; it carries the whole schedule (two warnings
        # and the deadline) to put in the next when it fires.
        [entry] = await store.entries_of(answer)
        assert entry.at == answer.moments[0] and len(entry.moments) == 3
        assert entry.days == (3, 1, None)

    async def test_a_redelivered_routing_decision_arms_nothing_twice(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        first = await sla.service.start_timers(routed, shard=0)
        again = await sla.service.start_timers(routed, shard=0)

        assert [e.event_id for e in again] == [e.event_id for e in first]
        assert sla.metrics.started.labels("answer")._value.get() == 1
        assert len(await store.of_appeal(appeal)) == 1

    async def test_warnings_then_a_breach_with_escalation_then_a_late_answer_counted_late(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        await sla.service.start_timers(routed, shard=0)
        answer = await store.get(f"{appeal}:answer")
        assert answer is not None
        three_left, one_left = (w.at for w in answer.warnings)

        assert await sla.fire_at(three_left - timedelta(seconds=1)) == []
        [warning] = await sla.fire_at(three_left)
        assert warning.event_type == "sla.warning" and warning.working_days_left == 3
        assert warning.event_id == deterministic_id("sla.warning", f"{appeal}:answer", "1", "3")
        [breach] = await sla.fire_at(routed.answer_due_at + timedelta(seconds=1))  # 1-day missed
        assert breach.event_type == "sla.breached"
        assert breach.escalate_to == ["astana-energy:head", "akimat-astana"]
        assert await sla.fire_at(routed.answer_due_at + timedelta(days=3)) == []

        late = routed.answer_due_at + timedelta(days=2)
        [stopped] = await sla.service.apply_action(action(AppealAnswered, appeal, late))
        assert stopped.on_time is False
        assert stopped.working_days_used == CAL.working_days_between(answer.registered_at, late)
        assert (await store.get(f"{appeal}:answer")).state is TimerState.STOPPED  # type: ignore[union-attr]

    async def test_the_due_index_holds_one_entry_per_timer_each_firing_putting_in_the_next(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed, answer = await sla.arm(appeal)
        three_left, one_left = (w.at for w in answer.warnings)

        async def stored_moments() -> list[datetime]:
            return [e.at for e in await store.entries_of(answer)]

        assert await stored_moments() == [three_left]
        [warning] = await sla.fire_at(three_left)
        assert warning.working_days_left == 3 and await stored_moments() == [one_left]
        [warning] = await sla.fire_at(one_left)
        assert warning.working_days_left == 1
        assert await stored_moments() == [routed.answer_due_at]
        [breach] = await sla.fire_at(routed.answer_due_at)
        assert breach.event_type == "sla.breached" and await stored_moments() == []

    async def test_after_downtime_the_one_entry_fires_the_latest_moment_and_keeps_the_rest(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed, answer = await sla.arm(appeal)
        _, one_left = (w.at for w in answer.warnings)

        [warning] = await sla.fire_at(one_left + timedelta(hours=2))  # both warnings passed

        assert warning.working_days_left == 1  # the older one is not sent late
        assert [e.at for e in await store.entries_of(answer)] == [routed.answer_due_at]
        [breach] = await sla.fire_at(routed.answer_due_at + timedelta(minutes=1))
        assert breach.event_type == "sla.breached"

    async def test_a_next_entry_put_in_as_the_timer_was_stopped_is_taken_out_again(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed, answer = await sla.arm(appeal)
        three_left = answer.warnings[0].at
        sla.clock.set(three_left)
        come, _ = await store.due({0}, three_left, 1000)
        # The answer lands between the firing loop's read and its firing.
        await sla.service.apply_action(action(AppealAnswered, appeal, three_left))

        await sla.service.fire([e for e in come if e.timer.appeal_id == appeal])

        assert await store.entries_of(answer) == []
        assert await sla.fire_at(routed.answer_due_at + timedelta(days=1)) == []

    async def test_a_next_entry_put_in_as_the_appeal_was_redirected_follows_the_new_body(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed, answer = await sla.arm(appeal)
        three_left, one_left = (w.at for w in answer.warnings)
        sla.clock.set(three_left)
        come, _ = await store.due({0}, three_left, 1000)
        redirected = routed_event(appeal, NOW, agency="akimat-astana", hop=1)
        await sla.service.start_timers(redirected, shard=0)  # between the read and the firing

        await sla.service.fire([e for e in come if e.timer.appeal_id == appeal])

        [following] = await store.entries_of(answer)
        assert (following.at, following.timer.agency_code) == (one_left, "akimat-astana")
        [warning] = await sla.fire_at(one_left)
        assert warning.agency_code == "akimat-astana"

    async def test_a_successor_left_unchecked_by_a_crash_is_checked_when_it_comes_due(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        _, answer = await sla.arm(appeal)
        three_left, one_left = (w.at for w in answer.warnings)
        first = answer.first_due_entry()
        orphan = first.successor(three_left)
        assert orphan is not None and orphan.checked and orphan.at == one_left
        # The firing put the successor in, then died before checking it; meanwhile the
        # appeal was answered (the stop dropped the first entry, the successor was not yet).
        await sla.service.apply_action(action(AppealAnswered, appeal, three_left))
        await store.add_due([orphan])

        assert await sla.fire_at(one_left) == []  # the timer is stopped: nothing is sent
        assert await store.entries_of(answer) == []

        # A successor whose timer moved to another body speaks for that body.
        other = new_appeal()
        _, timer = await sla.arm(other)
        await store.drop_due([timer.first_due_entry().key])
        successor = timer.first_due_entry().successor(timer.warnings[0].at)
        assert successor is not None
        await store.add_due([successor])
        await sla.service.start_timers(
            routed_event(other, NOW, agency="akimat-astana", hop=1), shard=0
        )
        await store.add_due([successor])  # as if put in again with the old body
        [warning] = await sla.fire_at(timer.warnings[1].at)
        assert warning.agency_code == "akimat-astana"

    async def test_entries_stored_one_per_moment_before_entries_rolled_still_fire_once_each(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed, answer = await sla.arm(appeal)
        await store.drop_due(e.key for e in answer.due_entries())
        await store.add_due([replace(e, days=None) for e in answer.due_entries()])
        three_left, one_left = (w.at for w in answer.warnings)

        [warning] = await sla.fire_at(three_left)
        assert warning.working_days_left == 3
        assert [e.at for e in await store.entries_of(answer)] == [one_left, routed.answer_due_at]
        [breach] = await sla.fire_at(routed.answer_due_at + timedelta(hours=1))  # 1-day missed
        assert breach.event_type == "sla.breached" and await store.entries_of(answer) == []

    async def test_a_firing_repeated_after_a_crash_sends_the_same_event_ids_and_counts_once(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        await sla.service.start_timers(routed, shard=0)
        due = routed.answer_due_at + timedelta(seconds=1)
        sla.clock.set(due)
        entries, _ = await store.due({0}, due, 1000)
        mine = [e for e in entries if e.timer.appeal_id == appeal]

        await sla.service.fire(mine)
        await sla.service.fire(mine)  # as if the drop had not happened before a crash

        breaches = sla.of(appeal, "sla.breached")
        assert len(breaches) == 2 and breaches[0].event_id == breaches[1].event_id
        await sla.tallies.flush()
        counts = await sla.tallies.counts({0})
        assert counts[("answer", "astana-energy", "breached")] == 1
        assert counts.get(("answer", "astana-energy", "open"), 0) == 0

    async def test_an_answer_in_time_stops_the_timer_and_nothing_fires_after(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        await sla.service.start_timers(routed, shard=0)
        answered = action(AppealAnswered, appeal, NOW + timedelta(days=3))

        [stopped] = await sla.service.apply_action(answered)
        again = await sla.service.apply_action(answered)  # redelivered

        assert stopped.on_time is True and stopped.stopped_by_event_id == answered.event_id
        assert again == [stopped]
        timer = await store.get(f"{appeal}:answer")
        assert timer is not None and await store.entries_of(timer) == []
        assert await sla.fire_at(routed.answer_due_at + timedelta(days=1)) == []

    async def test_a_dismissal_stops_every_timer_of_the_appeal_and_nothing_breaches(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        forward_due = CAL.deadline(CAL.registration_time(NOW), 3)
        routed = routed_event(appeal, NOW, forward_due_at=forward_due)
        await sla.service.start_timers(routed, shard=0)
        dismissed = AppealDismissed.example().model_copy(
            update={
                "appeal_id": appeal,
                "event_id": f"dismissed-{appeal}",
                "occurred_at": NOW + timedelta(days=1),
            }
        )

        stopped = await sla.service.dismiss(dismissed)
        again = await sla.service.dismiss(dismissed)  # redelivered

        assert sorted(e.deadline_kind for e in stopped) == [
            DeadlineKind.ANSWER,
            DeadlineKind.FORWARDING,
        ]
        assert all(
            e.dismissed and e.stopped_by_event_id == dismissed.event_id and e.answered_by is None
            for e in stopped
        )
        assert sorted(e.event_id for e in again) == sorted(e.event_id for e in stopped)
        # A redelivery publishes the same events again (same ids), as an answer's does.
        assert sla.published[-2:] == stopped and len(sla.of(appeal, "sla.stopped")) == 4
        # No body answered: the answer metrics do not count it; no timer is left to fire.
        assert sla.metrics.stopped.labels("answer", routed.agency_code, "true")._value.get() == 0
        assert await sla.fire_at(routed.answer_due_at + timedelta(days=1)) == []
        assert sla.of(appeal, "sla.breached") == []

    async def test_an_extension_within_two_months_moves_the_deadline_to_a_new_generation(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        await sla.service.start_timers(routed, shard=0)
        new_due = routed.answer_due_at + timedelta(days=14)
        extended = action(DeadlineExtended, appeal, NOW + timedelta(days=5), new_due_at=new_due)

        [renewed] = await sla.service.apply_action(extended)
        assert renewed.event_type == "sla.started" and renewed.generation == 2
        assert renewed.due_at == new_due
        timer = await store.get(f"{appeal}:answer")
        assert timer is not None
        assert [e.generation for e in await store.entries_of(timer)] == [2]
        old_entries, _ = await store.due({0}, routed.answer_due_at + timedelta(days=1), 1000)
        assert all(e.generation == 2 for e in old_entries if e.timer.appeal_id == appeal)

        assert await sla.fire_at(routed.answer_due_at + timedelta(hours=1)) == []
        breaches = [
            e
            for e in await sla.fire_at(new_due + timedelta(minutes=1))
            if e.event_type == "sla.breached"
        ]
        assert [(b.generation, b.due_at) for b in breaches] == [(2, new_due)]

    async def test_a_new_calendar_moves_open_deadlines_once_and_says_why(
        self, store: TimerStore
    ) -> None:
        sla = Sla(store)
        computed, proposed = new_appeal(), new_appeal()
        _, before = await sla.arm(computed)  # routed Mon 12 Jan 2026: due Mon 2 Feb
        assert before.due_at == datetime(2026, 2, 2, 18, tzinfo=ALMATY)
        await sla.arm(proposed)
        friday_13 = datetime(2026, 2, 13, 18, tzinfo=ALMATY)
        extended = action(DeadlineExtended, proposed, NOW + timedelta(days=1), new_due_at=friday_13)
        await sla.service.apply_action(extended)

        # The decree: Fri 30 Jan and Fri 13 Feb 2026 off. The service restarts on it.
        sla.service.calendar = decreed_2026()
        replan = CalendarReplan(sla.service)
        preview = {m.appeal_id: m for m in await replan.moves(apply=False)}
        assert (preview[computed].previous_due_at, preview[computed].due_at) == (
            before.due_at,
            datetime(2026, 2, 3, 18, tzinfo=ALMATY),  # one working day later
        )
        # The body's own date, now a day off, ends on the next working day, Mon 16 Feb.
        assert preview[proposed].due_at == datetime(2026, 2, 16, 18, tzinfo=ALMATY)
        still = await store.get(f"{computed}:answer")
        assert still is not None and still.due_at == before.due_at  # a preview writes nothing

        moved = {m.appeal_id for m in await replan.moves(apply=True)}
        assert {computed, proposed} <= moved
        assert not {computed, proposed} & {m.appeal_id for m in await replan.moves(apply=True)}
        started, *republished = [e for e in sla.of(computed, "sla.started") if e.previous_due_at]
        assert all(e == started for e in republished)
        assert started.due_at == datetime(2026, 2, 3, 18, tzinfo=ALMATY)
        assert started.previous_due_at == before.due_at and started.generation == 2
        assert started.calendar_version == sla.service.calendar.version
        assert "03.02.2026 18:00 instead of 02.02.2026 18:00" in (started.moved_because or "")
        # The second run republished the same event (same id), and moved nothing.
        assert len({e.event_id for e in sla.of(computed, "sla.started") if e.previous_due_at}) == 1
        # The forwarding term (3 working days, 15 Jan) is untouched: before 30 Jan.
        assert all(
            e.deadline_kind is DeadlineKind.ANSWER
            for e in sla.published
            if getattr(e, "previous_due_at", None)
        )
        # The moved deadline is the one that fires.
        fired = await sla.fire_at(before.due_at + timedelta(minutes=1))
        assert not [e for e in fired if e.appeal_id == computed and e.event_type == "sla.breached"]
        fired = await sla.fire_at(datetime(2026, 2, 3, 18, 1, tzinfo=ALMATY))
        [breach] = [e for e in fired if e.appeal_id == computed and e.event_type == "sla.breached"]
        assert breach.generation == 2

    async def test_a_re_plan_that_loses_the_race_to_an_answer_leaves_no_entry_behind(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        await sla.arm(appeal)
        sla.service.calendar = decreed_2026()
        answered = action(AppealAnswered, appeal, NOW + timedelta(days=2))
        update = store.update
        raced = False

        async def answer_first(tid, mutate, current=None):  # noqa: ANN001, ANN202
            nonlocal raced
            if not raced:  # the body's answer lands between the re-plan's read and write
                raced = True
                await sla.service.apply_action(answered)
                current = None
            return await update(tid, mutate, current=current)

        store.update = answer_first  # type: ignore[method-assign]
        try:
            moved = await CalendarReplan(sla.service).moves(apply=True)
        finally:
            store.update = update  # type: ignore[method-assign]
        assert appeal not in {m.appeal_id for m in moved}
        ids, _ = await store.pending_timer_ids("", 1000)
        assert f"{appeal}:answer" not in ids  # the entry put in ahead went again
        fired = await sla.fire_at(datetime(2026, 2, 3, 18, 1, tzinfo=ALMATY))
        assert not [e for e in fired if e.appeal_id == appeal]  # nothing fires for it

    async def test_an_extension_beyond_two_months_is_refused_and_the_old_deadline_stands(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        await sla.service.start_timers(routed, shard=0)
        too_late = routed.received_at + timedelta(days=70)
        extended = action(DeadlineExtended, appeal, NOW + timedelta(days=1), new_due_at=too_late)

        [refused] = await sla.service.apply_action(extended)
        assert refused.event_type == "sla.extension_refused"
        assert refused.reason == "exceeds_two_months_from_receipt"
        assert (refused.due_at, refused.generation) == (routed.answer_due_at, 1)
        [breach] = await sla.fire_at(routed.answer_due_at + timedelta(seconds=1))
        assert breach.generation == 1

    async def test_acceptance_closes_the_forwarding_timer_and_an_unanswered_one_breaches(
        self, store: TimerStore
    ) -> None:
        sla = Sla(store)
        accepted_appeal, ignored_appeal = new_appeal(), new_appeal()
        forward_due = CAL.deadline(CAL.registration_time(NOW), 3)
        for appeal in (accepted_appeal, ignored_appeal):
            await sla.service.start_timers(
                routed_event(appeal, NOW, forward_due_at=forward_due), shard=0
            )

        [closed] = await sla.service.apply_action(
            action(AppealAccepted, accepted_appeal, NOW + timedelta(hours=2))
        )
        fired = await sla.fire_at(forward_due + timedelta(seconds=1))

        assert closed.deadline_kind is DeadlineKind.FORWARDING and closed.on_time is True
        breaches = [e for e in fired if e.event_type == "sla.breached"]
        assert [b.timer_id for b in breaches] == [f"{ignored_appeal}:forwarding:0"]
        assert (await store.get(f"{accepted_appeal}:answer")).state is TimerState.OPEN  # type: ignore[union-attr]

    async def test_a_redirect_keeps_the_receipt_date_and_deadline_and_arms_a_new_forwarding_term(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        routed = routed_event(appeal, NOW)
        await sla.service.start_timers(routed, shard=0)
        moved_at = NOW + timedelta(days=1)
        await sla.service.apply_action(
            action(AppealRedirected, appeal, moved_at, suggested_agency_code="akimat-astana")
        )
        forward_due = CAL.deadline(CAL.registration_time(moved_at), 3)
        redirected = routed_event(
            appeal,
            NOW,
            agency="akimat-astana",
            hop=1,
            forward_due_at=forward_due,
            occurred_at=moved_at,
        )

        started = await sla.service.start_timers(redirected, shard=0)

        assert [(e.timer_id, e.agency_code) for e in started] == [
            (f"{appeal}:forwarding:1", "akimat-astana")
        ]
        answer = await store.get(f"{appeal}:answer")
        assert answer is not None
        assert (answer.agency_code, answer.due_at) == ("akimat-astana", routed.answer_due_at)
        assert answer.received_at == routed.received_at
        entries = await store.entries_of(answer)
        assert entries and all(e.timer.agency_code == "akimat-astana" for e in entries)

    async def test_an_answer_that_overtakes_its_routing_decision_still_stops_the_timer(
        self, store: TimerStore
    ) -> None:
        sla, appeal = Sla(store), new_appeal()
        answered = action(AppealAnswered, appeal, NOW + timedelta(hours=1))
        assert await sla.service.apply_action(answered) == []  # no timer yet: parked

        await sla.service.start_timers(routed_event(appeal, NOW), shard=0)

        [stopped] = sla.of(appeal, "sla.stopped")
        assert stopped.stopped_by_event_id == answered.event_id
        assert (await store.get(timer_id(appeal, DeadlineKind.ANSWER))).state is TimerState.STOPPED  # type: ignore[union-attr]
        assert await store.parked(appeal) == []

    async def test_the_tallies_count_open_and_breached_timers_by_kind_and_body(
        self, store: TimerStore
    ) -> None:
        sla = Sla(store)
        appeals = [new_appeal() for _ in range(3)]
        for appeal in appeals:
            await sla.service.start_timers(routed_event(appeal, NOW), shard=4)
        await sla.service.apply_action(action(AppealAnswered, appeals[0], NOW + timedelta(days=1)))
        await sla.fire_at(routed_event(appeals[1], NOW).answer_due_at + timedelta(seconds=1))
        await sla.tallies.flush()

        counts = await sla.tallies.counts({4})
        assert counts.get(("answer", "astana-energy", "open"), 0) == 0  # 3 armed, 1 answered
        assert counts[("answer", "astana-energy", "breached")] == 2
