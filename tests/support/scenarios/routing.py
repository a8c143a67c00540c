"""Routing's scenarios: RoutingService with its store, the events it would publish recorded.
One decision per (appeal, hop) whatever is redelivered, stale answers without effect, a
registry change that never re-routes what was already routed, redirects, triage and the
operator's decision."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    Category,
    ContestedAnswer,
    DeadlineExtended,
    DismissalReason,
    IncidentAnswered,
    TriageDecided,
    deterministic_id,
    topics,
)
from reference.agencies import AgencyRegistry
from services.common.clock import ManualClock
from services.routing.decisions import Rules
from services.routing.incident_service import IncidentService
from services.routing.incidents import DEFAULT_RULES
from services.routing.metrics import RoutingMetrics
from services.routing.records import DecisionRecord
from services.routing.service import RoutingService
from services.routing.store import DecisionStore
from tests.support.scenarios import Recorder

NOW = datetime.fromisoformat("2026-03-06T15:10:00+05:00")
Decided = TypeVar("Decided", AppealAccepted, AppealAnswered)


ALMATY = ZoneInfo("Asia/Almaty")


def service(store: DecisionStore, rules: Rules | None = None) -> tuple[RoutingService, Recorder]:
    recorder = Recorder()
    routing = RoutingService(
        store,
        recorder,
        rules or Rules.default(),
        RoutingMetrics(CollectorRegistry()),
        ManualClock(NOW),
    )
    return routing, recorder


def appeal(unique_id: str, **changes: object) -> AppealRegistered:
    return AppealRegistered.example().model_copy(
        update={
            "appeal_id": f"appeal-{unique_id}",
            "event_id": f"registered-{unique_id}",
            **changes,
        }
    )


def redirect(
    appeal_id: str, agency: str, event_id: str, action_id: str, suggested: str | None = None
) -> AppealRedirected:
    return AppealRedirected.example().model_copy(
        update={
            "appeal_id": appeal_id,
            "agency_code": agency,
            "event_id": event_id,
            "action_id": action_id,
            "suggested_agency_code": suggested,
        }
    )


def _decided_by(
    kind: type[Decided], agency: str, appeal_id: str, event_id: str, **changes: object
) -> Decided:
    """`kind`'s example, as `agency`'s decision `event_id` on `appeal_id`."""
    return kind.example().model_copy(
        update={
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "agency_code": agency,
            "event_id": event_id,
            "action_id": f"{agency}/{event_id}",
            **changes,
        }
    )


def accepted_by(agency: str, appeal_id: str, event_id: str) -> AppealAccepted:
    return _decided_by(AppealAccepted, agency, appeal_id, event_id)


def answered_by(agency: str, appeal_id: str, event_id: str, **changes: object) -> AppealAnswered:
    return _decided_by(AppealAnswered, agency, appeal_id, event_id, **changes)


def contesting(unique_id: str, answered_by: str = "astana-energy") -> AppealRegistered:
    """A repeat complaint against `answered_by`'s answer to another appeal."""
    return appeal(
        f"contest-{unique_id}",
        contests=ContestedAnswer(
            appeal_id=f"appeal-{unique_id}",
            registration_number="ZH-20260305-000123",
            answered_by=answered_by,
            answered_at=NOW,
            answer_event_id=f"answer-{unique_id}",
        ),
        repeat_of=f"appeal-{unique_id}",
    )


def unclassifiable(unique_id: str) -> AppealRegistered:
    """Category `other`, no addressee, and a text that names no competence: triage."""
    return appeal(
        unique_id,
        category=Category.OTHER,
        addressed_to=None,
        subject="Вопрос",
        text="Прошу рассмотреть моё обращение.",
    )


def minimal_record(appeal_id: str, hop: int) -> DecisionRecord:
    return DecisionRecord(
        appeal_id=appeal_id,
        hop=hop,
        trigger="registered",
        cause_event_id=f"cause-{hop}",
        cause_key=f"key-{hop}",
        category=Category.OTHER,
        declined_by=(),
        decided_at=NOW,
        outcome="triaged",
        event_id=f"event-{hop}",
        reason_code="low_confidence",
    )


async def decisions_of_the_holder(
    routing: RoutingService, unique_id: str
) -> tuple[AppealAccepted, AppealRedirected]:
    """Route a fresh appeal (to astana-energy); that body's acceptance and its redirect to
    akimat-astana, not yet checked."""
    registered = appeal(unique_id)
    await routing.route_registered(registered)
    accepted = accepted_by("astana-energy", registered.appeal_id, f"acc-{unique_id}")
    moved = redirect(
        registered.appeal_id, "astana-energy", f"red-{unique_id}", "r-1", "akimat-astana"
    )
    return accepted, moved


class RoutingScenarios:
    """Subclasses provide a `store` fixture (a fresh, empty `DecisionStore`)."""

    async def test_the_competent_body_gets_the_appeal_in_its_inbox_before_routed_is_told(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        routed = await routing.route_registered(appeal(unique_id))

        assert isinstance(routed, AppealRouted) and routed.agency_code == "astana-energy"
        assert recorder.topics() == ["agency.astana-energy.inbox.v1", topics.APPEALS_ROUTED]
        [record] = await store.history(f"appeal-{unique_id}")
        assert (record.hop, record.agency_code, record.rule_id) == (
            0,
            "astana-energy",
            routed.rule_id,
        )
        assert record.registered == appeal(unique_id)

    async def test_a_redelivered_registration_republishes_the_same_events_and_decides_nothing(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        first = await routing.route_registered(appeal(unique_id))
        again = await routing.route_registered(appeal(unique_id))

        assert again == first
        # The same events again, field for field: the assignment is rebuilt, not stored.
        assert recorder.sent[2:] == recorder.sent[:2]
        assert len(await store.history(f"appeal-{unique_id}")) == 1

    async def test_a_registry_change_never_re_routes_an_appeal_already_routed(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        before, _ = service(store)
        first = await before.route_registered(appeal(unique_id))

        # Version 2 of the registry takes heating away from the energy department.
        registry = AgencyRegistry.default()
        changed = [
            b.model_copy(update={"competences": b.competences - {Category.UTILITIES_HEATING}})
            if b.code == "astana-energy"
            else b
            for b in registry.by_code.values()
        ]
        v2 = AgencyRegistry("v2-test", changed, fallback=registry.fallback)
        after, recorder = service(store, Rules.default(v2))
        again = await after.route_registered(appeal(unique_id))
        fresh = await after.route_registered(appeal(f"{unique_id}-new"))

        assert again == first and again.agency_code == "astana-energy"
        assert recorder.topics()[:2] == ["agency.astana-energy.inbox.v1", "appeals.routed.v1"]
        assert fresh.agency_code == "akimat-astana" and fresh.rule_version.endswith("v2-test")

    async def test_a_redirect_goes_to_the_suggested_body_as_a_forwarding_with_its_deadline(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        registered = appeal(unique_id)
        await routing.route_registered(registered)

        moved = await routing.handle_action(
            redirect(
                registered.appeal_id, "astana-energy", f"ev-{unique_id}", "a-1", "akimat-astana"
            )
        )

        assert isinstance(moved, AppealRouted)
        assert (moved.hop, moved.agency_code, moved.rule_id) == (
            1,
            "akimat-astana",
            "redirect-to-suggested-body",
        )
        assert moved.forwarded and moved.forward_due_at is not None
        assert moved.declined_by == ["astana-energy"]
        assert routing.metrics.redirects.labels("astana-energy")._value.get() == 1

    async def test_the_same_agency_action_resent_with_a_new_event_id_makes_no_second_hop(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        registered = appeal(unique_id)
        await routing.route_registered(registered)

        action = redirect(registered.appeal_id, "astana-energy", f"ev1-{unique_id}", "act-1")
        resent = redirect(registered.appeal_id, "astana-energy", f"ev2-{unique_id}", "act-1")
        first = await routing.handle_action(action)
        second = await routing.handle_action(resent)
        redelivered = await routing.handle_action(action)

        assert first is not None and first.hop == 1
        assert second == first == redelivered
        assert [r.hop for r in await store.history(registered.appeal_id)] == [0, 1]
        # Each time, the body's inbox got the very same assignment of hop 1.
        inbox = [e for t, e in recorder.sent if t == f"agency.{first.agency_code}.inbox.v1"]
        assert len(inbox) == 3 and inbox[0] == inbox[1] == inbox[2]
        assert first.event_id == deterministic_id("appeal.routed", registered.appeal_id, "1")

    async def test_a_redirect_from_a_body_that_does_not_hold_the_appeal_has_no_effect(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        registered = appeal(unique_id)
        await routing.route_registered(registered)
        sent_before = len(recorder.sent)

        stale = redirect(registered.appeal_id, "akimat-shymkent", f"ev-{unique_id}", "x-1")
        unknown = redirect(f"nobody-{unique_id}", "astana-energy", f"ev-u-{unique_id}", "x-2")

        assert await routing.handle_action(stale) is None
        assert await routing.handle_action(unknown) is None
        assert len(recorder.sent) == sent_before
        assert routing.metrics.ignored.labels("stale")._value.get() == 1
        assert routing.metrics.ignored.labels("unknown_appeal")._value.get() == 1

    async def test_accepted_and_answered_actions_are_not_routings_business(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        accepted = AppealAccepted.example().model_copy(update={"appeal_id": f"appeal-{unique_id}"})
        assert await routing.handle_action(accepted) is None
        assert recorder.sent == []

    async def test_an_appeal_nobody_can_place_waits_in_triage_until_the_operator_decides(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        triaged = await routing.route_registered(unclassifiable(unique_id))
        assert isinstance(triaged, AppealTriaged)
        assert recorder.topics() == [topics.APPEALS_TRIAGE]

        decided = TriageDecided.example().model_copy(
            update={
                "appeal_id": triaged.appeal_id,
                "event_id": f"decided-{unique_id}",
                "decision_id": f"d-{unique_id}",
                "triage_event_id": triaged.event_id,
                "agency_code": "akimat-astana",
            }
        )
        routed = await routing.handle_triage_decision(decided)
        late = decided.model_copy(update={"event_id": f"late-{unique_id}", "decision_id": "d-2"})

        assert isinstance(routed, AppealRouted)
        assert (routed.hop, routed.agency_code, routed.rule_id) == (
            1,
            "akimat-astana",
            "triage-operator-decision",
        )
        assert await routing.handle_triage_decision(decided) == routed  # redelivered
        assert await routing.handle_triage_decision(late) is None  # the appeal left triage
        assert [r.outcome for r in await store.history(triaged.appeal_id)] == ["triaged", "routed"]

    async def test_an_operator_who_dismisses_an_appeal_ends_its_routing(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        triaged = await routing.route_registered(unclassifiable(unique_id))
        assert isinstance(triaged, AppealTriaged)
        decided = TriageDecided.example().model_copy(
            update={
                "appeal_id": triaged.appeal_id,
                "event_id": f"dismissed-{unique_id}",
                "decision_id": f"d-{unique_id}",
                "triage_event_id": triaged.event_id,
                "agency_code": None,
                "dismissal": DismissalReason.OFFENSIVE,
                "note": "Only insults, no matter to consider.",
            }
        )
        dismissed = await routing.handle_triage_decision(decided)

        assert isinstance(dismissed, AppealDismissed)
        assert (dismissed.reason_code, dismissed.note, dismissed.decided_by, dismissed.hop) == (
            DismissalReason.OFFENSIVE,
            "Only insults, no matter to consider.",
            decided.operator,
            1,
        )
        assert recorder.topics() == [topics.APPEALS_TRIAGE, topics.APPEALS_ROUTED]
        assert await routing.handle_triage_decision(decided) == dismissed  # redelivered: same
        # Nothing routes it again: a second operator's choice of a body is stale.
        routed_late = decided.model_copy(
            update={
                "event_id": f"late-{unique_id}",
                "decision_id": f"late-{unique_id}",
                "agency_code": "akimat-astana",
                "dismissal": None,
            }
        )
        assert await routing.handle_triage_decision(routed_late) is None
        history = await store.history(triaged.appeal_id)
        assert [r.outcome for r in history] == ["triaged", "dismissed"]
        assert history[-1].reason_code == "offensive"
        assert routing.metrics.dismissed.labels("offensive")._value.get() == 1

    # --- the gate of bodies' decisions ----------------------------------------------------------
    # (decisions_of_the_holder: an appeal routed to astana-energy, which accepts, then redirects)

    async def test_the_holders_decision_is_passed_on_and_a_redirect_routed(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        accepted, moved = await decisions_of_the_holder(routing, unique_id)

        assert (await routing.check_decision(accepted, "astana-energy")).accepted
        assert (await routing.check_decision(moved, "astana-energy")).accepted

        passed = [e for topic, e in recorder.sent if topic == topics.AGENCY_ACTIONS]
        assert [e.event_id for e in passed] == [accepted.event_id, moved.event_id]
        assert recorder.topics()[-2:] == ["agency.akimat-astana.inbox.v1", topics.APPEALS_ROUTED]
        assert routing.metrics.passed.labels("astana-energy", "agency.accepted")._value.get() == 1

    async def test_an_extension_to_a_day_off_is_passed_on_as_the_statute_has_it(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        accepted, _ = await decisions_of_the_holder(routing, unique_id)
        saturday = datetime(2026, 4, 11, 12, 0, tzinfo=ALMATY)
        extension = DeadlineExtended.example().model_copy(
            update={
                "appeal_id": accepted.appeal_id,
                "agency_code": "astana-energy",
                "event_id": f"ext-{unique_id}",
                "new_due_at": saturday,
            }
        )
        on_a_weekday = extension.model_copy(
            update={
                "event_id": f"ext2-{unique_id}",
                "new_due_at": datetime(2026, 4, 14, 18, 0, tzinfo=ALMATY),
            }
        )

        first = await routing.check_decision(extension, "astana-energy")
        again = await routing.check_decision(extension, "astana-energy")  # a redelivery
        await routing.check_decision(on_a_weekday, "astana-energy")

        passed = [e for topic, e in recorder.sent if topic == topics.AGENCY_ACTIONS]
        assert [e.event_id for e in passed] == [extension.event_id] * 2 + [on_a_weekday.event_id]
        moved = passed[0]
        assert isinstance(moved, DeadlineExtended)
        assert moved.new_due_at == datetime(2026, 4, 13, 18, 0, tzinfo=ALMATY)
        assert (moved.proposed_due_at, moved.moved_from_day_off) == (saturday, date(2026, 4, 11))
        assert passed[1] == moved and first.action == again.action == moved
        # A working day the body named is kept as it proposed it: nothing moved.
        assert passed[2] == on_a_weekday and passed[2].proposed_due_at is None

    async def test_a_decision_of_a_body_that_does_not_hold_the_appeal_is_refused(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        registered = appeal(unique_id)
        await routing.route_registered(registered)
        foreign = accepted_by("akimat-shymkent", registered.appeal_id, f"f-{unique_id}")
        unknown = accepted_by("akimat-shymkent", f"nobody-{unique_id}", f"u-{unique_id}")
        impostor = accepted_by("astana-energy", registered.appeal_id, f"i-{unique_id}")
        sent_before = len(recorder.sent)

        verdicts = [
            await routing.check_decision(foreign, "akimat-shymkent"),
            await routing.check_decision(unknown, "akimat-shymkent"),
            await routing.check_decision(impostor, "akimat-shymkent"),
        ]

        assert [v.reason_code for v in verdicts] == [
            "not_assigned",
            "unknown_appeal",
            "agency_mismatch",
        ]
        told = recorder.sent[sent_before:]
        assert [topic for topic, _ in told] == ["agency.akimat-shymkent.inbox.v1"] * 3
        assert all(e.event_type == "agency.action_refused" for _, e in told)
        assert topics.AGENCY_ACTIONS not in [topic for topic, _ in told]
        assert routing.metrics.refused.labels("akimat-shymkent", "not_assigned")._value.get() == 1

    async def test_a_redelivered_decision_gets_its_first_verdict_after_the_appeal_moved_on(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        accepted, moved = await decisions_of_the_holder(routing, unique_id)
        await routing.check_decision(accepted, "astana-energy")
        await routing.check_decision(moved, "astana-energy")  # now with the akimat

        again = await routing.check_decision(accepted, "astana-energy")

        assert again.accepted  # passed on again (same event id), not refused
        assert recorder.sent[-1] == (topics.AGENCY_ACTIONS, accepted)

    async def test_a_second_decision_under_an_event_id_already_used_is_refused(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, _ = service(store)
        first, second = appeal(f"{unique_id}-1"), appeal(f"{unique_id}-2")
        await routing.route_registered(first)
        await routing.route_registered(second)
        shared_id = f"same-{unique_id}"

        one = await routing.check_decision(
            accepted_by("astana-energy", first.appeal_id, shared_id), "astana-energy"
        )
        other = await routing.check_decision(
            accepted_by("astana-energy", second.appeal_id, shared_id), "astana-energy"
        )

        assert one.accepted
        assert other.reason_code == "event_id_in_use"

    async def test_a_long_history_comes_back_whole_and_in_order(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        appeal_id = f"appeal-history-{unique_id}"
        for hop in (3, 0, 10, 1, 2, 4, 5, 6, 7, 8, 9):
            assert await store.insert(minimal_record(appeal_id, hop))
        assert not await store.insert(minimal_record(appeal_id, 3))
        assert [r.hop for r in await store.history(appeal_id)] == list(range(11))
        assert await store.history(f"appeal-unknown-{unique_id}") == []
        assert await store.decision(appeal_id, 10) == minimal_record(appeal_id, 10)


class ContestScenarios:
    """The citizen's answer to the answer, at routing: the repeat complaint goes to the
    supervising body, whose answer must carry the verdict, which becomes an outcome."""

    async def test_a_repeat_complaint_goes_to_the_supervising_body_of_the_one_that_answered(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        routed = await routing.route_registered(contesting(unique_id))

        assert isinstance(routed, AppealRouted)
        assert (routed.agency_code, routed.rule_id) == (
            "akimat-astana",
            "contest-to-supervising-body",
        )
        [(inbox, assignment)] = [(t, e) for t, e in recorder.sent if t.startswith("agency.")]
        assert inbox == "agency.akimat-astana.inbox.v1"
        assert assignment.contests.answered_by == "astana-energy"

    async def test_its_answer_needs_a_verdict_which_is_published_once_as_an_outcome(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        complaint = contesting(unique_id)
        await routing.route_registered(complaint)
        bare = answered_by("akimat-astana", complaint.appeal_id, f"a1-{unique_id}")
        verdict = answered_by(
            "akimat-astana", complaint.appeal_id, f"a2-{unique_id}", substantiated=True
        )

        refused = await routing.check_decision(bare, "akimat-astana")
        passed = await routing.check_decision(verdict, "akimat-astana")
        await routing.check_decision(verdict, "akimat-astana")  # redelivered

        assert refused.reason_code == "verdict_required"
        assert passed.accepted
        outcomes = [e for t, e in recorder.sent if t == topics.APPEAL_OUTCOMES]
        assert len(outcomes) == 2 and outcomes[0] == outcomes[1]  # the same event again
        decided = outcomes[0]
        assert decided.event_type == "repeat_complaint.decided"
        assert (decided.agency_code, decided.decided_by) == ("astana-energy", "akimat-astana")
        assert decided.original_appeal_id == f"appeal-{unique_id}"
        assert decided.substantiated is True
        assert decided.decided_on == verdict.occurred_at.astimezone(ALMATY).date()  # its day

    async def test_a_verdict_on_an_appeal_that_contests_nothing_is_refused(
        self, store: DecisionStore, unique_id: str
    ) -> None:
        routing, recorder = service(store)
        registered = appeal(unique_id)
        await routing.route_registered(registered)
        answer = answered_by(
            "astana-energy", registered.appeal_id, f"a-{unique_id}", substantiated=False
        )

        verdict = await routing.check_decision(answer, "astana-energy")

        assert verdict.reason_code == "verdict_not_expected"
        assert topics.APPEAL_OUTCOMES not in [t for t, _ in recorder.sent]


class IncidentScenarios:
    """Mass incidents through routing: sightings from decisions, the detector, and a body's
    one answer to an incident answered to each member. Subclasses provide `store` (the
    decisions) and `incident_store`."""

    async def routed_burst(
        self, store: DecisionStore, incident_store, unique_id: str, n: int
    ) -> tuple[RoutingService, Recorder, IncidentService, list[AppealRegistered]]:
        recorder = Recorder()
        metrics = RoutingMetrics(CollectorRegistry())
        incidents = IncidentService(
            incident_store, recorder, dict(DEFAULT_RULES), metrics, ManualClock(NOW)
        )
        routing = RoutingService(
            store, recorder, Rules.default(), metrics, ManualClock(NOW), incidents=incidents
        )
        received = datetime.fromisoformat("2026-03-05T07:10:00+05:00")
        appeals = [
            appeal(
                f"{unique_id}-{i}",
                event_id=f"registered-{unique_id}-{i}",
                registration_number=f"ZH-20260305-{i:06d}",
                received_at=received + timedelta(minutes=i),
            )
            for i in range(n)
        ]
        for registered in appeals:
            await routing.route_registered(registered)
        for topic, sighted in list(recorder.sent):
            if topic == topics.INCIDENT_SIGHTINGS:
                await incidents.on_sighting(sighted)
        return routing, recorder, incidents, appeals

    async def test_a_burst_about_one_building_is_one_incident_in_the_bodys_inbox_once(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        _, recorder, _, appeals = await self.routed_burst(store, incident_store, unique_id, 12)

        sightings = [e for t, e in recorder.sent if t == topics.INCIDENT_SIGHTINGS]
        assert len(sightings) == 12 and len({s.cluster_key for s in sightings}) == 1
        on_topic = [e for t, e in recorder.sent if t == topics.INCIDENTS]
        assert [e.event_type for e in on_topic] == ["incident.opened"] + ["incident.grew"] * 7
        opened = on_topic[0]
        assert opened.member_count == 5 and on_topic[-1].member_count == 12
        assert opened.rule.startswith("utilities.heating: 5 appeals within 120 min")
        inbox = [
            e
            for t, e in recorder.sent
            if t == "agency.astana-energy.inbox.v1" and e.event_type.startswith("incident.")
        ]
        assert inbox == on_topic  # opened once, then each member that joined
        stored = await incident_store.members(opened.incident_id)
        assert [m.appeal_id for m in stored] == [a.appeal_id for a in appeals]

    async def test_a_crash_after_the_keys_state_is_written_counts_the_sighting_once(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        _, recorder, incidents, appeals = await self.routed_burst(
            store, incident_store, unique_id, 6
        )
        first = next(e for t, e in recorder.sent if t == topics.INCIDENT_SIGHTINGS)
        late = first.model_copy(
            update={
                "event_id": f"sighted-late-{unique_id}",
                "appeal_id": f"late-{unique_id}",
                "received_at": appeals[-1].received_at + timedelta(minutes=1),
            }
        )
        mark = incident_store.mark_sighted

        async def crash(_: str) -> None:
            raise ConnectionError("the process died before the sighting was marked handled")

        incident_store.mark_sighted = crash
        with pytest.raises(ConnectionError):
            await incidents.on_sighting(late)
        incident_store.mark_sighted = mark
        before = len(recorder.sent)
        await incidents.on_sighting(late)  # redelivered

        assert recorder.sent[before:] == []  # no second incident.grew
        grew = [e for t, e in recorder.sent if t == topics.INCIDENTS][-1]
        assert (grew.member.appeal_id, grew.member_count) == (late.appeal_id, 7)
        state = await incident_store.key_state(late.cluster_key)
        assert state.groups[0].count == 7
        assert await incident_store.sighted([late.appeal_id]) == {late.appeal_id}

    async def test_a_keys_sightings_of_one_batch_make_the_same_incident_in_a_few_commands(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        one_by_one = await self.routed_burst(store, incident_store, f"{unique_id}-a", 12)
        sightings = [e for t, e in one_by_one[1].sent if t == topics.INCIDENT_SIGHTINGS]

        calls: list[str] = []
        for name in ("sighted", "key_state", "save_key_state", "mark_sighted", "add_members"):
            method = getattr(incident_store, name)

            async def counted(*args, _method=method, _name=name):
                calls.append(_name)
                return await _method(*args)

            setattr(incident_store, name, counted)
        recorder = Recorder()
        metrics = RoutingMetrics(CollectorRegistry())
        together = IncidentService(
            incident_store, recorder, dict(DEFAULT_RULES), metrics, ManualClock(NOW)
        )
        renamed = [
            s.model_copy(
                update={"cluster_key": f"{s.cluster_key}|batch", "appeal_id": f"{s.appeal_id}-b"}
            )
            for s in sightings
        ]
        await together.on_sightings(renamed)

        batched = [e for t, e in recorder.sent if t == topics.INCIDENTS]
        singly = [e for t, e in one_by_one[1].sent if t == topics.INCIDENTS]
        assert [(e.event_type, e.member_count) for e in batched] == [
            (e.event_type, e.member_count) for e in singly
        ]
        # Twelve sightings, one key: each read and write once (members once per incident).
        assert sorted(calls) == [
            "add_members",
            "key_state",
            "mark_sighted",
            "save_key_state",
            "sighted",
        ]

    async def test_replaying_the_sightings_makes_no_new_incident_event(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        _, recorder, incidents, _ = await self.routed_burst(store, incident_store, unique_id, 7)
        before = len(recorder.sent)
        for topic, sighted in list(recorder.sent):
            if topic == topics.INCIDENT_SIGHTINGS:
                await incidents.on_sighting(sighted)
        assert recorder.sent[before:] == []

    async def test_one_answer_to_the_incident_answers_every_member_once(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        routing, recorder, _, appeals = await self.routed_burst(store, incident_store, unique_id, 9)
        [opened] = [e for t, e in recorder.sent if t == topics.INCIDENTS][:1]
        answer = IncidentAnswered.example().model_copy(
            update={
                "event_id": f"inc-answer-{unique_id}",
                "incident_id": opened.incident_id,
                "occurred_at": NOW,
            }
        )
        before = len(recorder.sent)
        await routing.answer_incident(answer, "astana-energy")
        await routing.answer_incident(answer, "astana-energy")  # redelivered

        told = recorder.sent[before:]
        answers = [e for t, e in told if t == topics.AGENCY_ACTIONS]
        assert sorted({a.appeal_id for a in answers}) == sorted(a.appeal_id for a in appeals)
        assert len({a.event_id for a in answers}) == 9  # the same nine, twice
        assert all(
            a.event_type == "agency.answered" and a.summary == answer.summary for a in answers
        )
        resolved = [e for t, e in told if t == topics.INCIDENTS]
        assert len({e.event_id for e in resolved}) == 1
        assert resolved[0].answered == [a.appeal_id for a in appeals]
        assert resolved[0].seconds_to_resolve >= 0

    async def test_a_replayed_backlog_opens_nothing_again_after_its_group_closed(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        routing, recorder, incidents, _ = await self.routed_burst(
            store, incident_store, unique_id, 8
        )
        [opened] = [e for t, e in recorder.sent if t == topics.INCIDENTS][:1]
        answer = IncidentAnswered.example().model_copy(
            update={"event_id": f"answer-{unique_id}", "incident_id": opened.incident_id}
        )
        await routing.answer_incident(answer, "astana-energy")
        sightings = [e for t, e in recorder.sent if t == topics.INCIDENT_SIGHTINGS]
        # A day later one more call: the answered incident's group is gone from the state.
        later = sightings[0].model_copy(
            update={
                "appeal_id": f"later-{unique_id}",
                "event_id": f"later-{unique_id}",
                "received_at": sightings[-1].received_at + timedelta(days=1),
            }
        )
        await incidents.on_sighting(later)
        before = len(recorder.sent)

        for sighted in [*sightings, later]:  # the whole backlog again, in order
            await incidents.on_sighting(sighted)

        assert recorder.sent[before:] == []
        assert len(await incident_store.members(opened.incident_id)) == 8

    async def test_another_bodys_answer_to_the_incident_is_refused(
        self, store: DecisionStore, incident_store, unique_id: str
    ) -> None:
        routing, recorder, _, _ = await self.routed_burst(store, incident_store, unique_id, 5)
        [opened] = [e for t, e in recorder.sent if t == topics.INCIDENTS]
        answer = IncidentAnswered.example().model_copy(
            update={
                "event_id": f"x-{unique_id}",
                "incident_id": opened.incident_id,
                "agency_code": "akimat-astana",
            }
        )
        before = len(recorder.sent)
        await routing.answer_incident(answer, "akimat-astana")

        [(topic, refused)] = recorder.sent[before:]
        assert topic == "agency.akimat-astana.inbox.v1"
        assert refused.reason_code == "unknown_incident"
