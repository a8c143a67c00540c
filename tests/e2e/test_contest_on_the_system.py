"""The citizen's answer to the answer, on the running system (real broker and store): an
answered appeal is contested through the gateway, registered as a repeat complaint with its
own number and term, routed to the supervising body's inbox, which must say whether it is
substantiated — and the assessment counts it; a reply to the notice rates an answer, from
the applicant's phone only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import (
    AnswerOutcome,
    AppealAnswered,
    HttpGatewayAppeal,
    agency_actions,
    agency_inbox,
    topics,
)
from reference.agencies import AgencyRegistry
from tests.support.auth import bearer
from tests.support.kafka import wait_until_consumed
from tests.support.system import (
    E2E_CLIENT_KEY,
    E2E_SMS_OPERATOR_KEY,
    RunningSystem,
    TopicWatcher,
    eventually,
    running_system,
)

ALMATY = ZoneInfo("Asia/Almaty")
GATEWAY = {"X-Api-Key": E2E_CLIENT_KEY}
SMS_OPERATOR = {"X-Api-Key": E2E_SMS_OPERATOR_KEY}
REGISTRY = AgencyRegistry.default()


@pytest.fixture(scope="module")
async def own(infra, run_prefix: str) -> AsyncIterator[RunningSystem]:
    async with running_system(
        infra.kafka_bootstrap_servers, infra.mongodb_url, f"{run_prefix}contest-"
    ) as system:
        yield system


async def file_appeal(system: RunningSystem, channel_id: str, phone: str) -> dict:
    appeal = HttpGatewayAppeal.example().model_dump(mode="json")
    appeal["channel_appeal_id"] = channel_id
    appeal["submitted_at"] = (datetime.now(ALMATY) - timedelta(minutes=1)).isoformat()
    appeal["applicant"]["phone"] = phone
    async with system.http("intake") as http:
        answer = await http.post("/v1/appeals", json=appeal, headers=GATEWAY)
    assert answer.status_code == 201, answer.text
    return answer.json()


def of(appeal_id: str) -> Callable[[dict], bool]:
    return lambda event: event.get("appeal_id") == appeal_id


async def routed_to(system: RunningSystem, appeal_id: str) -> dict:
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_ROUTED)) as watch:
        [routed] = await watch.wait_for(of(appeal_id))
    return routed


def answer_of(appeal_id: str, body: str, n: str, **changes: object) -> AppealAnswered:
    return AppealAnswered.example().model_copy(
        update={
            "event_id": f"answer-{appeal_id}-{n}",
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "causation_id": None,
            "occurred_at": datetime.now(ALMATY),
            "action_id": f"{body}/answered/{appeal_id}/{n}",
            "agency_code": body,
            **changes,
        }
    )


async def answered(system: RunningSystem, registration: dict, body: str) -> None:
    """`body` answers the appeal, and intake's status shows it answered."""
    appeal_id = registration["appeal_id"]
    answer = answer_of(appeal_id, body, "1", outcome=AnswerOutcome.REJECTED)
    await system.publish(agency_actions(body), answer.model_dump(mode="json"), key=appeal_id)
    operator = bearer("call-centre-operator", "op.contest")

    async def status_answered() -> bool:
        async with system.http("intake") as http:
            number = registration["registration_number"]
            status = (await http.get(f"/v1/appeals/{number}", headers=operator)).json()
        return status["status"] == "answered"

    await eventually(status_answered)


async def test_a_contest_reaches_the_supervising_body_and_counts_when_substantiated(
    own: RunningSystem, unique_id: str
) -> None:
    original = await file_appeal(own, f"contest-{unique_id}", "+77471230001")
    routed = await routed_to(own, original["appeal_id"])
    body = routed["agency_code"]
    supervisor = REGISTRY.by_code[body].parent
    assert supervisor is not None
    feedback = f"/v1/appeals/{original['registration_number']}/feedback"
    contest = {
        "lookup_code": original["lookup_code"],
        "rating": "not_satisfied",
        "contest": {"text": "Ответ формальный: шұңқырлар әлі де бар.", "language": "ru"},
    }

    async with own.http("intake") as http:
        early = await http.post(feedback, json=contest, headers=GATEWAY)
        assert early.status_code == 409 and early.json()["error"] == "not_answered"
        wrong_code = await http.post(
            feedback, json={**contest, "lookup_code": "AAAA-BBBB"}, headers=GATEWAY
        )
        assert wrong_code.status_code == 404

    await answered(own, original, body)
    async with own.http("intake") as http:
        # A bare "not satisfied" by a reply first: the right to complain outlives it.
        bare = await http.post(
            "/v1/channels/sms-replies",
            json={"from": "+77471230001", "text": f"{original['registration_number']} 2"},
            headers=SMS_OPERATOR,
        )
        assert bare.status_code == 201 and bare.json()["contest"] is None
        first = await http.post(feedback, json=contest, headers=GATEWAY)
        again = await http.post(feedback, json=contest, headers=GATEWAY)
        otherwise = await http.post(
            feedback,
            json={"lookup_code": original["lookup_code"], "rating": "satisfied"},
            headers=GATEWAY,
        )
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["rating"] == "not_satisfied" and receipt["answered_by"] == body
    repeat = receipt["contest"]
    assert repeat["supervising_body"] == supervisor
    assert repeat["registration_number"].startswith("ZH-")
    assert repeat["registration_number"] != original["registration_number"]
    assert again.status_code == 200 and again.json()["contest"] == repeat  # one contest
    assert otherwise.status_code == 409 and otherwise.json()["error"] == "already_rated"

    # Routed to the supervising body's inbox, which sees what it contests.
    async with TopicWatcher(own.bootstrap, own.topic(agency_inbox(supervisor))) as inbox:
        [assignment] = await inbox.wait_for(
            lambda e: of(repeat["appeal_id"])(e) and e["event_type"] == "agency.assignment"
        )
        assert assignment["contests"]["appeal_id"] == original["appeal_id"]
        assert assignment["contests"]["answered_by"] == body
        repeat_routed = await routed_to(own, repeat["appeal_id"])
        assert repeat_routed["rule_id"] == "contest-to-supervising-body"

        # Its answer must carry the verdict; with it, the verdict is an outcome.
        bare = answer_of(repeat["appeal_id"], supervisor, "1")
        await own.publish(
            agency_actions(supervisor), bare.model_dump(mode="json"), key=repeat["appeal_id"]
        )
        [refused] = await inbox.wait_for(
            lambda e: of(repeat["appeal_id"])(e) and e["event_type"] == "agency.action_refused"
        )
        assert refused["reason_code"] == "verdict_required"
    async with TopicWatcher(own.bootstrap, own.topic(topics.APPEAL_OUTCOMES)) as outcomes:
        verdict = answer_of(repeat["appeal_id"], supervisor, "2", substantiated=True)
        await own.publish(
            agency_actions(supervisor), verdict.model_dump(mode="json"), key=repeat["appeal_id"]
        )
        [decided] = await outcomes.wait_for(of(repeat["appeal_id"]))
    assert decided["event_type"] == "repeat_complaint.decided"
    assert (decided["agency_code"], decided["decided_by"]) == (body, supervisor)
    assert decided["original_appeal_id"] == original["appeal_id"]
    assert decided["substantiated"] is True

    # The assessment counts it against the body whose answer was contested.
    await wait_until_consumed(
        own.bootstrap,
        f"{own.prefix}tyndau-sla.assessment",
        [own.topic(topics.APPEAL_OUTCOMES)],
    )
    today = datetime.now(ALMATY).date().isoformat()
    async with own.http("sla") as http:
        report = await http.get(
            "/v1/reports/assessment",
            params={"from": today, "to": today},
            headers=bearer("assessment-analyst"),
        )
    [row] = [r for r in report.json()["bodies"] if r["agency_code"] == body]
    assert (row["repeat_complaints"], row["repeat_substantiated"]) == (1, 1)

    # The citizen's status shows the rating as first given (by the reply, before the contest).
    async with own.http("intake") as http:
        status = await http.get(
            f"/v1/appeals/{original['registration_number']}",
            params={"code": original["lookup_code"]},
        )
    [rated] = [e for e in status.json()["timeline"] if e["event_type"] == "answer.rated"]
    assert (rated["rating"], rated["via"]) == ("not_satisfied", "sms_reply")
    assert rated["contest_appeal_id"] is None  # the contest came after; its receipt links it


async def test_a_reply_to_the_notice_rates_the_answer_from_the_applicants_phone_only(
    own: RunningSystem, unique_id: str
) -> None:
    phone = "+77471230002"
    original = await file_appeal(own, f"sms-{unique_id}", phone)
    routed = await routed_to(own, original["appeal_id"])
    await answered(own, original, routed["agency_code"])
    number = original["registration_number"]
    async with (
        own.http("intake") as http,
        TopicWatcher(own.bootstrap, own.topic(topics.ANSWER_FEEDBACK)) as feedback,
    ):
        not_an_operator = await http.post(
            "/v1/channels/sms-replies", json={"from": phone, "text": f"{number} 1"}, headers=GATEWAY
        )
        stranger = await http.post(
            "/v1/channels/sms-replies",
            json={"from": "+77000000000", "text": f"{number} 1"},
            headers=SMS_OPERATOR,
        )
        garbled = await http.post(
            "/v1/channels/sms-replies",
            json={"from": phone, "text": "спасибо"},
            headers=SMS_OPERATOR,
        )
        reply = await http.post(
            "/v1/channels/sms-replies",
            json={"from": "8 747 123 00 02", "text": f"{number.lower()} 1"},
            headers=SMS_OPERATOR,
        )
        [rated] = await feedback.wait_for(of(original["appeal_id"]))
    assert not_an_operator.status_code == 403
    assert not_an_operator.json()["error"] == "not_an_sms_operator"
    assert stranger.status_code == 404
    assert garbled.status_code == 422 and garbled.json()["reason"].startswith("text:")
    assert reply.status_code == 201, reply.text
    assert reply.json()["rating"] == "satisfied" and reply.json()["contest"] is None
    assert (rated["rating"], rated["via"]) == ("satisfied", "sms_reply")
    assert rated["agency_code"] == routed["agency_code"]
