"""Mass incidents on the running system (real broker and store): a burst of 50 calls about
one building is one incident with 50 members, in the body's inbox once; one answer to it
answers and notifies all 50 citizens once each; a burst across two districts of different
bodies is two incidents; replaying the sightings makes no new incident."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import IncidentAnswered, agency_actions, agency_inbox, deterministic_id, topics
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.kafka import wait_until_consumed
from tests.support.system import RunningSystem, TopicWatcher, eventually, running_system

ALMATY = ZoneInfo("Asia/Almaty")
BUILDING_KATO = "711210000"  # Astana, Almaty district


@pytest.fixture(scope="module")
async def own(infra, run_prefix: str) -> AsyncIterator[RunningSystem]:
    async with running_system(
        infra.kafka_bootstrap_servers, infra.mongodb_url, f"{run_prefix}incident-"
    ) as system:
        yield system


async def burst(system: RunningSystem, tag: str, n: int, topic_code: str, kato: str) -> list[str]:
    """`n` 1414 calls about one thing in one place, minutes apart; their appeal ids."""
    start = datetime.now(ALMATY) - timedelta(minutes=n + 5)
    ids = []
    for i in range(n):
        call_id = f"1414-{tag}-{i}"
        call = call_1414(call_id, start + timedelta(minutes=i))
        call |= {"topic_code": topic_code, "kato_code": kato, "summary": "Нет света во дворе."}
        await system.publish(topics.CHANNEL_1414, call, key=call_id)
        ids.append(deterministic_id("appeal", "1414", call_id))
    return ids


async def test_fifty_calls_about_one_building_are_one_incident_answered_once_for_all(
    own: RunningSystem, unique_id: str
) -> None:
    members = await burst(own, f"heat-{unique_id}", 50, "utilities.heating", BUILDING_KATO)
    mine = set(members)

    def of_this(event: dict) -> bool:
        listed = {m["appeal_id"] for m in event.get("members", [])}
        return bool(listed & mine) or event.get("member", {}).get("appeal_id") in mine

    async with TopicWatcher(own.bootstrap, own.topic(topics.INCIDENTS)) as incidents:
        grown = await incidents.wait_for(
            lambda e: of_this(e) and e["member_count"] == 50, timeout=90
        )
        events = incidents.events(of_this)
    [opened] = [e for e in events if e["event_type"] == "incident.opened"]
    incident_id = opened["incident_id"]
    assert {e["incident_id"] for e in events} == {incident_id}  # one incident
    assert opened["agency_code"] == "astana-energy" and opened["district_kato"] == "7112"
    assert opened["rule"].startswith("utilities.heating")
    assert grown[0]["event_type"] == "incident.grew"
    span = {"$gte": f"{incident_id}|", "$lt": f"{incident_id}|~"}
    stored = await own.db("routing")["incident_members"].find({"_id": span}).to_list()
    assert sorted(m["appeal_id"] for m in stored) == sorted(members)

    async with TopicWatcher(own.bootstrap, own.topic(agency_inbox("astana-energy"))) as inbox:
        in_inbox = await inbox.wait_for_distinct(
            lambda e: e.get("incident_id") == incident_id, count=46
        )
    # The incident once, then each member that joined: one incident of 50 in the inbox.
    kinds = [e["event_type"] for e in in_inbox]
    assert kinds == ["incident.opened"] + ["incident.grew"] * 45
    listed = {m["appeal_id"] for m in in_inbox[0]["members"]}
    listed |= {e["member"]["appeal_id"] for e in in_inbox[1:]}
    assert listed == mine and max(e["member_count"] for e in in_inbox) == 50

    # One answer to the incident: every member answered, every citizen told once.
    answer = IncidentAnswered.example().model_copy(
        update={
            "event_id": f"incident-answer-{unique_id}",
            "incident_id": incident_id,
            "action_id": f"astana-energy/incident/{unique_id}",
            "occurred_at": datetime.now(ALMATY),
        }
    )
    async with (
        TopicWatcher(own.bootstrap, own.topic(topics.AGENCY_ACTIONS)) as actions,
        TopicWatcher(own.bootstrap, own.topic(topics.INCIDENTS)) as incidents,
    ):
        await own.publish(
            agency_actions("astana-energy"), answer.model_dump(mode="json"), key=incident_id
        )
        answered = await actions.wait_for_distinct(
            lambda e: e["appeal_id"] in mine and e["event_type"] == "agency.answered",
            count=50,
            key="appeal_id",
            timeout=90,
        )
        [resolved] = await incidents.wait_for(
            lambda e: e["event_type"] == "incident.resolved" and e["incident_id"] == incident_id
        )
    assert sorted(e["appeal_id"] for e in answered) == sorted(members)
    assert sorted(resolved["answered"]) == sorted(members)

    async def all_told() -> list[dict]:
        notices = await (
            own.db("notify")["notifications"]
            .find({"appeal_id": {"$in": members}, "template": "appeal_answered"})
            .to_list()
        )
        return notices if len(notices) >= 50 else []

    notices = await eventually(all_told, timeout=90)
    assert sorted(n["appeal_id"] for n in notices) == sorted(members)  # each once


async def test_a_burst_across_two_districts_of_different_bodies_is_two_incidents(
    own: RunningSystem, unique_id: str
) -> None:
    almaty = await burst(own, f"light-a-{unique_id}", 5, "lighting", "711210000")
    baikonyr = await burst(own, f"light-b-{unique_id}", 5, "lighting", "711410000")
    ours = set(almaty) | set(baikonyr)
    async with TopicWatcher(own.bootstrap, own.topic(topics.INCIDENTS)) as incidents:
        opened = await incidents.wait_for(
            lambda e: (
                e["event_type"] == "incident.opened"
                and {m["appeal_id"] for m in e["members"]} <= ours
            ),
            count=2,
            timeout=60,
        )
    by_body = {e["agency_code"]: {m["appeal_id"] for m in e["members"]} for e in opened}
    assert by_body == {"akimat-astana-almaty": set(almaty), "akimat-astana-baikonyr": set(baikonyr)}

    # Replaying the sightings (as after a consumer's offsets were lost): no new incident.
    group = f"{own.prefix}tyndau-routing.incidents"
    sightings_topic = [own.topic(topics.INCIDENT_SIGHTINGS)]
    await wait_until_consumed(own.bootstrap, group, sightings_topic)
    async with TopicWatcher(own.bootstrap, own.topic(topics.INCIDENT_SIGHTINGS)) as sightings:
        replay = [(k, v) for k, v, _ in sightings.seen] if await sightings.read_to_end() else []
    async with TopicWatcher(own.bootstrap, own.topic(topics.INCIDENTS)) as before:
        known = {e["event_id"] for e in await before.read_to_end()}
    assert len(replay) >= 10
    for key, value in replay:
        await own.publish(topics.INCIDENT_SIGHTINGS, value, key=key.decode() if key else None)
    await wait_until_consumed(own.bootstrap, group, sightings_topic)
    async with TopicWatcher(own.bootstrap, own.topic(topics.INCIDENTS)) as after:
        assert {e["event_id"] for e in await after.read_to_end()} == known
