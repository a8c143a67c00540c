"""RoutingService against the real store, with the events it would publish recorded instead
of sent: one decision per (appeal, hop) whatever is redelivered, stale answers without
effect, and a registry change that never re-routes what was already routed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts import AppealRedirected, AppealRegistered, Category, Event, deterministic_id
from reference.agencies import AgencyRegistry
from services.common.clock import ManualClock
from services.routing.decisions import Rules
from services.routing.metrics import RoutingMetrics
from services.routing.service import RoutingService
from services.routing.store import DecisionStore, decision_key, ensure_indexes
from tests.conftest import Infra


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Event]] = []

    async def __call__(self, topic: str, event: Event) -> None:
        self.sent.append((topic, event))


@pytest.fixture
async def store(infra: Infra, run_prefix: str, unique_id: str) -> AsyncIterator[DecisionStore]:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    db = client[f"{run_prefix}routing-store-{unique_id}"]
    await ensure_indexes(db)
    try:
        yield DecisionStore(db)
    finally:
        await client.drop_database(db.name)
        await client.close()


def service(store: DecisionStore, rules: Rules | None = None) -> tuple[RoutingService, Recorder]:
    recorder = Recorder()
    clock = ManualClock(datetime.fromisoformat("2026-03-06T15:10:00+05:00"))
    routing = RoutingService(
        store, recorder, rules or Rules.default(), RoutingMetrics(CollectorRegistry()), clock
    )
    return routing, recorder


def appeal(unique_id: str) -> AppealRegistered:
    return AppealRegistered.example().model_copy(
        update={"appeal_id": f"appeal-{unique_id}", "event_id": f"registered-{unique_id}"}
    )


def redirect(appeal_id: str, agency: str, event_id: str, action_id: str) -> AppealRedirected:
    return AppealRedirected.example().model_copy(
        update={
            "appeal_id": appeal_id,
            "agency_code": agency,
            "event_id": event_id,
            "action_id": action_id,
            "suggested_agency_code": None,
        }
    )


async def test_a_registry_change_never_re_routes_an_appeal_already_routed(
    store: DecisionStore, unique_id: str
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
    assert [topic for topic, _ in recorder.sent][:2] == [
        "agency.astana-energy.inbox.v1",
        "appeals.routed.v1",
    ]
    assert fresh.agency_code == "akimat-astana" and fresh.rule_version.endswith("v2-test")


async def test_the_same_agency_action_resent_with_a_new_event_id_makes_no_second_hop(
    store: DecisionStore, unique_id: str
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
    assert [d["hop"] for d in await store.history(registered.appeal_id)] == [0, 1]
    assert first.event_id == deterministic_id("appeal.routed", registered.appeal_id, "1")


async def test_a_redirect_from_a_body_that_does_not_hold_the_appeal_has_no_effect(
    store: DecisionStore, unique_id: str
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
    store: DecisionStore, unique_id: str
) -> None:
    from contracts import AppealAccepted

    routing, recorder = service(store)
    accepted = AppealAccepted.example().model_copy(update={"appeal_id": f"appeal-{unique_id}"})
    assert await routing.handle_action(accepted) is None
    assert recorder.sent == []


async def test_a_long_history_is_read_whole_by_id_and_the_old_index_is_dropped(
    store: DecisionStore, unique_id: str
) -> None:
    # More hops than one read of eight keys takes: the history still comes back whole.
    appeal_id = f"appeal-history-{unique_id}"
    for hop in range(11):
        assert await store.insert(
            {"_id": decision_key(appeal_id, hop), "appeal_id": appeal_id, "hop": hop}
        )
    assert [d["hop"] for d in await store.history(appeal_id)] == list(range(11))
    assert await store.history(f"appeal-unknown-{unique_id}") == []

    decisions = store.decisions
    await decisions.create_index([("appeal_id", 1), ("hop", 1)])
    await ensure_indexes(decisions.database)
    assert "appeal_id_1_hop_1" not in await decisions.index_information()
    await ensure_indexes(decisions.database)  # nothing left to drop is fine
