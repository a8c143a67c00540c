"""From the outside, like a 1414 operator: an appeal sent to the call centre's topic can be
looked up by its registration number, and its status follows what routing and sla did."""

from __future__ import annotations

import json
from datetime import datetime

from contracts import deterministic_id, topics
from tests.e2e.test_walking_skeleton import call_1414
from tests.support.auth import bearer
from tests.support.system import RunningSystem, TopicWatcher, eventually


async def test_the_operator_sees_where_the_appeal_went_and_its_timer_without_personal_data(
    system: RunningSystem, unique_id: str
) -> None:
    call_id = f"1414-status-{unique_id}"
    appeal_id = deterministic_id("appeal", "1414", call_id)
    await system.publish(topics.CHANNEL_1414, call_1414(call_id), key=call_id)
    async with TopicWatcher(system.bootstrap, system.topic(topics.APPEALS_ROUTED)) as watch:
        [routed] = await watch.wait_for(lambda e: e.get("appeal_id") == appeal_id)

    operator = bearer("call-centre-operator", "op.zhanar.k")

    async def routed_and_timed() -> dict | None:
        async with system.http("intake") as client:
            number = routed["registration_number"]
            status = (await client.get(f"/v1/appeals/{number}", headers=operator)).json()
        types = {entry["event_type"] for entry in status["timeline"]}
        return status if {"appeal.routed", "sla.started"} <= types else None

    status = await eventually(routed_and_timed)
    # The call was in March 2026, so the answer timer may already have fired a breach.
    assert status["status"] in {"routed", "forwarded", "overdue"}
    assert status["current_body"] == routed["agency_code"]
    assert datetime.fromisoformat(status["answer_due_at"]).tzinfo is not None
    assert status["timeline"][0]["event_type"] == "appeal.registered"
    text = json.dumps(status, ensure_ascii=False)
    assert "900101300017" not in text and "+77011234567" not in text and "Ахметов" not in text
