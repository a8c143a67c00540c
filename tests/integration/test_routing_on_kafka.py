"""Routing against the real broker and store, driven from the outside like intake, agencies
and the triage desk would: registrations in, assignments in the agency inbox, redirect chains
over the bodies' own decisions topics with loop protection and the hop limit, triage and the
operator's decision, idempotent redelivery, dead letters.

Routing runs alone here (its own topic and database prefix), so the events it reads are
exactly the ones these tests publish.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts import (
    AppealRedirected,
    AppealRegistered,
    Category,
    TriageDecided,
    agency_actions,
    deterministic_id,
    topics,
)
from tests.conftest import Infra
from tests.support.system import RunningSystem, TopicWatcher, running_system


@pytest.fixture(scope="module")
async def routing(infra: Infra, run_prefix: str) -> AsyncIterator[RunningSystem]:
    async with running_system(
        infra.kafka_bootstrap_servers,
        infra.mongodb_url,
        f"{run_prefix}routing-",
        services=("routing",),
    ) as running:
        yield running


def registered(unique_id: str, **changes: Any) -> AppealRegistered:
    appeal_id = f"appeal-{unique_id}"
    data = AppealRegistered.example().model_dump()
    data.update(
        appeal_id=appeal_id,
        correlation_id=appeal_id,
        event_id=deterministic_id("appeal.registered", appeal_id),
        registration_number=f"ZH-20260305-{unique_id[:8].upper()}",
        **changes,
    )
    return AppealRegistered.model_validate(data)


def redirected(appeal_id: str, agency: str, suggested: str | None = None) -> AppealRedirected:
    data = AppealRedirected.example().model_dump()
    action_id = f"{agency}/redirected/{appeal_id}"
    data.update(
        appeal_id=appeal_id,
        correlation_id=appeal_id,
        event_id=deterministic_id("agency.redirected", action_id),
        action_id=action_id,
        agency_code=agency,
        suggested_agency_code=suggested,
        reason="Не наша компетенция.",
    )
    return AppealRedirected.model_validate(data)


async def publish(system: RunningSystem, topic: str, event: Any) -> None:
    await system.publish(topic, event.model_dump_json().encode(), key=event.appeal_id)


async def test_the_competent_bodys_inbox_receives_the_assignment_with_what_it_needs(
    routing: RunningSystem, unique_id: str
) -> None:
    appeal = registered(unique_id)
    await publish(routing, topics.APPEALS_REGISTERED, appeal)
    mine = lambda e: e.get("appeal_id") == appeal.appeal_id  # noqa: E731

    inbox = routing.topic("agency.astana-energy.inbox.v1")
    async with TopicWatcher(routing.bootstrap, inbox) as watch:
        [assignment] = await watch.wait_for(mine)
    async with TopicWatcher(routing.bootstrap, routing.topic(topics.APPEALS_ROUTED)) as watch:
        [routed] = await watch.wait_for(mine)

    assert assignment["event_type"] == "agency.assignment"
    assert assignment["registration_number"] == appeal.registration_number
    assert assignment["kind"] == "complaint" and assignment["category"] == "utilities.heating"
    assert assignment["region_kato"] == "711210000" and assignment["address"] == appeal.address
    assert assignment["text"] == appeal.text
    assert assignment["applicant"]["phone"] == "+77017654321"
    assert assignment["answer_due_at"] == "2026-04-01T18:00:00+05:00"
    assert assignment["causation_id"] == routed["event_id"]
    assert routed["agency_code"] == "astana-energy"
    assert routed["inbox_topic"] == "agency.astana-energy.inbox.v1"
    assert routed["rule_id"] == "most-specific-competent-body"
    assert routed["rule_version"].startswith("2/")
    assert routed["causation_id"] == appeal.event_id


async def test_a_redelivered_registration_makes_no_second_decision(
    routing: RunningSystem, unique_id: str
) -> None:
    appeal = registered(unique_id)
    mine = lambda e: e.get("appeal_id") == appeal.appeal_id  # noqa: E731

    await publish(routing, topics.APPEALS_REGISTERED, appeal)
    async with TopicWatcher(routing.bootstrap, routing.topic(topics.APPEALS_ROUTED)) as watch:
        await watch.wait_for(mine)
        await publish(routing, topics.APPEALS_REGISTERED, appeal)
        republished = await watch.wait_for(mine, count=2)

    assert len({e["event_id"] for e in republished}) == 1
    assert republished[0] == republished[1]  # the stored event, not a new decision
    decisions = routing.db("routing")["decisions"]
    assert await decisions.count_documents({"appeal_id": appeal.appeal_id}) == 1


async def test_a_redirect_chain_never_loops_and_ends_in_triage_then_the_operator_decides(
    routing: RunningSystem, unique_id: str
) -> None:
    appeal = registered(unique_id)
    mine = lambda e: e.get("appeal_id") == appeal.appeal_id  # noqa: E731
    routed_topic = routing.topic(topics.APPEALS_ROUTED)

    await publish(routing, topics.APPEALS_REGISTERED, appeal)
    async with (
        TopicWatcher(routing.bootstrap, routed_topic) as routed,
        TopicWatcher(routing.bootstrap, routing.topic(topics.APPEALS_TRIAGE)) as triage,
    ):
        [hop0] = await routed.wait_for(mine)
        assert hop0["agency_code"] == "astana-energy"

        # The energy department declines and suggests the akimat; the akimat declines and
        # suggests the energy department again: the loop is refused.
        chain = [
            ("astana-energy", "akimat-astana", "akimat-astana"),
            ("akimat-astana", "astana-energy", "ministry-energy"),
            ("ministry-energy", None, "government-office"),
        ]
        for hop, (decliner, suggested, expected) in enumerate(chain, start=1):
            await publish(
                routing, agency_actions(decliner), redirected(appeal.appeal_id, decliner, suggested)
            )
            # This hop's decision (a redelivered earlier hop may be republished meanwhile).
            found = await routed.wait_for(lambda e, hop=hop: mine(e) and e["hop"] == hop)
            latest = found[0]
            assert latest["agency_code"] == expected
            assert latest["forwarded"] is True and latest["forward_due_at"]
            assert latest["declined_by"] == [d for d, _, _ in chain[:hop]]

        # A redelivered redirect changes nothing: no new hop.
        await publish(
            routing,
            agency_actions("ministry-energy"),
            redirected(appeal.appeal_id, "ministry-energy"),
        )
        # The fourth decline is more than the 3 redirections routing makes on its own.
        await publish(
            routing,
            agency_actions("government-office"),
            redirected(appeal.appeal_id, "government-office"),
        )
        [triaged] = await triage.wait_for(mine)
        assert triaged["declined_by"] == [
            "astana-energy",
            "akimat-astana",
            "ministry-energy",
            "government-office",
        ]
        assert "more than the 3 redirections" in triaged["reason"]

        decision = TriageDecided.example().model_copy(
            update={
                "appeal_id": appeal.appeal_id,
                "correlation_id": appeal.appeal_id,
                "event_id": deterministic_id("triage.decided", unique_id),
                "decision_id": f"desk/{unique_id}",
                "triage_event_id": triaged["event_id"],
                "agency_code": "akimat-astana-almaty",
                "category": Category.HOUSING,
            }
        )
        await publish(routing, topics.TRIAGE_DECISIONS, decision)
        found = await routed.wait_for(lambda e: mine(e) and e["hop"] == 5)

    [operator] = found
    assert operator["agency_code"] == "akimat-astana-almaty"
    assert operator["rule_id"] == "triage-operator-decision"
    assert "op.madina.s" in operator["reason"]
    assert operator["category"] == "housing"
    history = (
        await routing.db("routing")["decisions"].find({"appeal_id": appeal.appeal_id}).to_list(None)
    )
    assert sorted(d["hop"] for d in history) == [0, 1, 2, 3, 4, 5]


async def test_an_appeal_addressed_to_the_wrong_body_is_forwarded_with_its_deadline(
    routing: RunningSystem, unique_id: str
) -> None:
    appeal = registered(
        unique_id,
        category=Category.OTHER,
        addressed_to="ministry-agriculture",
        channel="eotinish",
        subject="Лифт",
        text="Лифт не работает вторую неделю.",
    )
    mine = lambda e: e.get("appeal_id") == appeal.appeal_id  # noqa: E731
    await publish(routing, topics.APPEALS_REGISTERED, appeal)

    async with TopicWatcher(
        routing.bootstrap, routing.topic("agency.astana-housing.inbox.v1")
    ) as watch:
        [assignment] = await watch.wait_for(mine)
    assert assignment["forwarded"] is True
    assert assignment["category"] == "lifts"
    # Registered Thu 5 Mar 2026: Fri 6 (1), Mon 9 off, Tue 10 (2), Wed 11 (3).
    assert assignment["forward_due_at"] == "2026-03-11T18:00:00+05:00"


async def test_bytes_that_are_not_an_agency_action_are_dead_lettered_by_routing(
    routing: RunningSystem, unique_id: str
) -> None:
    garbage = f'{{"event_type": "agency.redirected", "junk": "{unique_id}"}}'.encode()
    await routing.publish(agency_actions("akimat-astana"), garbage, key=unique_id)

    async with TopicWatcher(routing.bootstrap, routing.topic(topics.APPEALS_DLQ)) as watch:
        [letter] = await watch.wait_for(
            lambda e: base64.b64decode(e.get("payload_b64", "")) == garbage
        )
    assert letter["source_service"] == "routing"
    assert letter["topic"] == routing.topic(agency_actions("akimat-astana"))


async def test_routing_metrics_name_body_level_forwarding_triage_redirects_and_latency(
    routing: RunningSystem, unique_id: str
) -> None:
    appeal = registered(unique_id)
    await publish(routing, topics.APPEALS_REGISTERED, appeal)
    async with TopicWatcher(routing.bootstrap, routing.topic(topics.APPEALS_ROUTED)) as watch:
        await watch.wait_for(lambda e: e.get("appeal_id") == appeal.appeal_id)

    async with routing.http("routing") as client:
        metrics = (await client.get("/metrics")).text
    assert (
        'tyndau_routing_appeals_routed_total{agency="astana-energy",forwarded="false",'
        'level="city",rule="most-specific-competent-body"}'
    ) in metrics
    assert "# TYPE tyndau_routing_appeals_triaged_total counter" in metrics
    assert "# TYPE tyndau_routing_redirects_total counter" in metrics
    assert 'tyndau_routing_decision_seconds_bucket{le="0.1",trigger="registered"}' in metrics
