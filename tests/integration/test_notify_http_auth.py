"""Notify's routes on the running system (real broker, real store, the local issuer's keys
from the secrets directory): each protected route refuses no token (401) and the wrong role
(403) and serves the right one, and the audit trail in notify's database records who did
what — the citizen by pseudonym only."""

from __future__ import annotations

import random

import pytest

from services.common.audit import pseudonym
from services.common.secret_files import audit_key
from tests.support.auth import bearer
from tests.support.system import RunningSystem

IIN = f"8502024{random.randrange(10**5):05d}"

# (method, path, body, the role that may, a role that may not, the right role's status)
ROUTES = [
    ("GET", f"/v1/preferences/{IIN}", None, "citizen-portal", "supervisor", 200),
    ("PUT", f"/v1/preferences/{IIN}", {"opt_out": True}, "citizen-portal", "notify-operator", 200),
    ("GET", "/v1/notifications?appeal_id=a-1", None, "notify-operator", "citizen-portal", 200),
    # The guard lets the delivery team through; there is no such notification (a resend
    # of a real one is in test_notify_delivery).
    ("POST", "/v1/notifications/n-1/resend", None, "notify-operator", "supervisor", 404),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed", "refused", "status"), ROUTES)
async def test_each_protected_route_is_401_without_a_token_403_for_the_wrong_role_and_audited(
    system: RunningSystem,
    unique_id: str,
    method: str,
    path: str,
    body: dict | None,
    allowed: str,
    refused: str,
    status: int,
) -> None:
    audit = system.db("notify")["audit"]
    async with system.http("notify") as client:
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["error"] == "unauthenticated"

        wrong = await client.request(
            method, path, json=body, headers=bearer(refused, f"wrong-{unique_id}")
        )
        assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"

        right = await client.request(
            method, path, json=body, headers=bearer(allowed, f"right-{unique_id}")
        )
        assert right.status_code == status, right.text

    [denied] = await audit.find({"actor": f"wrong-{unique_id}"}).to_list()
    [served] = await audit.find({"actor": f"right-{unique_id}"}).to_list()
    assert denied["status"] == 403 and served["status"] == status
    assert served["method"] == method and served["roles"] == [allowed]
    assert await audit.count_documents({"actor": {"$exists": False}}) == 0  # 401s: no identity
    if "preferences" in path:
        assert served["target_kind"] == "citizen"
        assert served["target_ref"] == pseudonym(audit_key().value, "citizen", IIN)
        assert served["route"] == "/v1/preferences/{citizen}"
    stored = str(
        await audit.find({"actor": {"$in": [f"wrong-{unique_id}", f"right-{unique_id}"]}}).to_list()
    )
    assert IIN not in stored


async def test_a_change_through_the_portal_is_what_an_operator_then_reads(
    system: RunningSystem,
) -> None:
    iin = f"8502024{random.randrange(10**5):05d}"
    async with system.http("notify") as client:
        changed = await client.put(
            f"/v1/preferences/{iin}",
            json={"preferred_channel": "email", "opt_out": False},
            headers=bearer("citizen-portal"),
        )
        assert changed.status_code == 200
        read = await client.get(f"/v1/preferences/{iin}", headers=bearer("call-centre-operator"))
    assert read.json()["preferred_channel"] == "email"
