"""The public status lookup on the running system: a registration number alone opens
nothing, numbers cannot be walked (only 404 and 429 come back), a crime report is never shown
to an anonymous caller, and an operator's token shows any appeal in full."""

from __future__ import annotations

import random
from collections import Counter

import httpx

from contracts import deterministic_id, topics
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.auth import bearer
from tests.support.system import RunningSystem, TopicWatcher


async def registered(system: RunningSystem, *calls: dict) -> list[dict]:
    """Publish 1414 calls; their registration events, in the same order."""
    ids = [deterministic_id("appeal", "1414", call["call_id"]) for call in calls]
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_REGISTERED)) as watch:
        for call in calls:
            await system.publish(topics.CHANNEL_1414, call, key=call["call_id"])
        events = await watch.wait_for(lambda e: e.get("appeal_id") in ids, count=len(ids))
    by_id = {event["appeal_id"]: event for event in events}
    return [by_id[appeal_id] for appeal_id in ids]


def from_address(system: RunningSystem, address: str) -> httpx.AsyncClient:
    """A client at its own address: each has its own rate-limit bucket."""
    transport = httpx.ASGITransport(app=system.apps["intake"], client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://intake")


async def test_walking_a_thousand_guessed_numbers_gets_nothing_but_404_and_429(
    system: RunningSystem, unique_id: str
) -> None:
    real = await registered(system, *(call_1414(f"walk-{n}-{unique_id}") for n in range(5)))
    kind, day, _ = real[0]["registration_number"].split("-")
    guesses = [f"{kind}-{day}-{n:06d}" for n in range(1, 1001)]
    known = {event["registration_number"] for event in real}
    assert known <= set(guesses)  # the walk passes over appeals that exist

    # One address walking: the code is wrong every time, and the limiter soon stops it.
    async with from_address(system, "198.51.100.7") as client:
        answers = [
            await client.get(f"/v1/appeals/{number}", params={"code": "P3RM-9TQ5"})
            for number in guesses
        ]
    statuses = Counter(response.status_code for response in answers)
    assert set(statuses) == {404, 429}, statuses
    assert statuses[429] >= 980
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "rate_limited"

    # A thousand addresses, one guess each (no limit applies): the code still holds.
    rng = random.Random(unique_id)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    statuses = Counter()
    for n, number in enumerate(guesses):
        code = "".join(rng.choice(alphabet) for _ in range(8))
        async with from_address(system, f"10.{n // 250}.{n % 250}.1") as client:
            response = await client.get(f"/v1/appeals/{number}", params={"code": code})
        statuses[response.status_code] += 1
        assert "category" not in response.text
    assert statuses == Counter({404: 1000})


async def test_the_number_and_its_code_open_the_public_view_cut_to_the_district(
    system: RunningSystem, unique_id: str
) -> None:
    [event] = await registered(system, call_1414(f"pub-{unique_id}"))
    number, code = event["registration_number"], event["lookup_code"]
    async with from_address(system, "198.51.100.20") as client:
        missing = await client.get(f"/v1/appeals/{number}")
        shown = await client.get(f"/v1/appeals/{number}", params={"code": code.lower()})
        by_header = await client.get(f"/v1/appeals/{number}", headers={"X-Lookup-Code": code})
    assert missing.status_code == 400 and missing.json()["error"] == "lookup_code_required"
    assert shown.status_code == 200 and by_header.status_code == 200
    status = shown.json()
    assert status["registration_number"] == number
    assert status["district_kato"] == "711200000" and "711210000" not in shown.text
    assert "repeat_of" not in status and "urgent" not in status
    for personal in ("900101300017", "Ахметов", "Кенесары", "701 123"):
        assert personal not in shown.text


async def test_a_crime_report_is_never_shown_to_an_anonymous_caller_but_is_to_an_operator(
    system: RunningSystem, unique_id: str
) -> None:
    report = call_1414(f"police-{unique_id}")
    report |= {"is_anonymous": True, "caller": report["caller"] | {"iin": None}}
    report["topic_code"] = "police"
    [event] = await registered(system, report)
    assert event["urgent"] is True and event["lookup_code"]
    number = event["registration_number"]
    async with from_address(system, "198.51.100.30") as client:
        anonymous = await client.get(f"/v1/appeals/{number}", params={"code": event["lookup_code"]})
        operator = await client.get(
            f"/v1/appeals/{number}", headers=bearer("supervisor", f"sup-{unique_id}")
        )
    assert anonymous.status_code == 404 and anonymous.json()["error"] == "not_found"
    assert operator.status_code == 200
    assert operator.json()["urgent"] is True and operator.json()["region_kato"] == "711210000"
    audited = await system.db("intake")["audit"].find_one({"actor": f"sup-{unique_id}"})
    assert audited is not None and audited["target_ref"] == number
    assert audited["permission"] == "appeals:read" and audited["status"] == 200


async def test_a_token_without_appeals_read_is_403_and_a_bad_token_401_even_with_a_code(
    system: RunningSystem, unique_id: str
) -> None:
    [event] = await registered(system, call_1414(f"tok-{unique_id}"))
    number, code = event["registration_number"], event["lookup_code"]
    async with from_address(system, "198.51.100.40") as client:
        portal = await client.get(
            f"/v1/appeals/{number}", params={"code": code}, headers=bearer("citizen-portal")
        )
        garbage = await client.get(
            f"/v1/appeals/{number}", params={"code": code}, headers={"Authorization": "Bearer x"}
        )
    assert portal.status_code == 403 and portal.json()["permission"] == "appeals:read"
    assert garbage.status_code == 401
