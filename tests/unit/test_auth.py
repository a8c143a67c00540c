"""Bearer tokens and protected routes, with a real RSA key set in a temporary directory:
what verifies, what is refused and why, key rotation and retirement without a restart, the
IdP's jwks_uri served over real HTTP, and the guard's 401/403/503 and audit records."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common.audit import MemoryAuditLog, Target, pseudonym
from services.common.auth.guard import AuthMetrics, Guard
from services.common.auth.issuer import LocalIssuer, retire_key, rotate_signing_key
from services.common.auth.roles import Permission, permissions_of
from services.common.auth.tokens import (
    Caller,
    JwksFile,
    JwksUrl,
    KeysUnavailable,
    TokenVerifier,
    Unauthenticated,
)
from services.common.clock import ManualClock
from services.common.openapi import Operation
from services.common.secret_files import SecretRef, ensure_local_secrets

ISSUER, AUDIENCE = "tyndau-local", "tyndau"


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    ensure_local_secrets(tmp_path)
    return tmp_path


def issuer(directory: Path) -> LocalIssuer:
    return LocalIssuer(directory, ISSUER, AUDIENCE)


def verifier(directory: Path, roles_claim: str = "roles") -> TokenVerifier:
    return TokenVerifier(JwksFile(directory / "jwks.json"), ISSUER, AUDIENCE, roles_claim)


async def refusal(directory: Path, token: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        await verifier(directory).verify(token)
    return refused.value.reason


async def test_a_token_of_the_local_issuer_names_its_subject_client_and_roles(keys: Path) -> None:
    token = issuer(keys).token("aigerim", ["call-centre-operator"], client="ikomek-109")
    caller = await verifier(keys).verify(token)
    assert caller == Caller("aigerim", frozenset({"call-centre-operator"}), "ikomek-109")
    assert caller.may(Permission.APPEALS_READ) and not caller.may(Permission.NOTIFICATIONS_RESEND)


async def test_expired_early_foreign_and_misdirected_tokens_are_refused_with_the_reason(
    keys: Path,
) -> None:
    hour_ago = time.time() - 3600
    expired = issuer(keys).token("a", ["supervisor"], seconds=60, issued_at=hour_ago)
    assert await refusal(keys, expired) == "the token has expired"
    early = issuer(keys).token("a", ["supervisor"], issued_at=time.time() + 3600)
    assert await refusal(keys, early) == "the token is not valid yet"
    other_audience = issuer(keys).token("a", ["supervisor"], audience="another-system")
    assert await refusal(keys, other_audience) == "the token is meant for another audience"
    other_issuer = LocalIssuer(keys, "https://idp.example", AUDIENCE).token("a", ["supervisor"])
    assert "issuer this service does not trust" in await refusal(keys, other_issuer)
    assert await refusal(keys, "not-a-token") == "the bearer token is not a JWT"


async def test_a_token_signed_by_another_key_or_altered_is_refused(
    keys: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stranger = tmp_path_factory.mktemp("stranger")
    ensure_local_secrets(stranger)
    foreign = issuer(stranger).token("a", ["supervisor"])
    assert "is not one this service knows" in await refusal(keys, foreign)

    token = issuer(keys).token("a", ["citizen-portal"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["supervisor"]  # a caller promoting itself
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert await refusal(keys, f"{header}.{forged}.{signature}") == (
        "the token's signature does not verify"
    )


async def test_unsigned_and_hmac_tokens_are_refused_before_any_key_is_tried(keys: Path) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "a", "iat": 0, "exp": 2**31, "roles": []}
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert await refusal(keys, unsigned) == "tokens signed with 'none' are not accepted"
    # The classic confusion is an HMAC token keyed with something public; any HMAC is refused.
    hmac_token = jwt.encode(claims, b"a shared secret of 32 bytes or more", algorithm="HS256")
    assert await refusal(keys, hmac_token) == "tokens signed with 'HS256' are not accepted"


async def test_a_token_without_a_subject_is_refused(keys: Path) -> None:
    key = (keys / "issuer-key.pem").read_bytes()
    kid = json.loads((keys / "jwks.json").read_text())["keys"][0]["kid"]
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    assert await refusal(keys, token) == "the token lacks the 'sub' claim"


async def test_roles_can_be_read_from_a_nested_claim_as_keycloak_puts_them(keys: Path) -> None:
    key = (keys / "issuer-key.pem").read_bytes()
    kid = json.loads((keys / "jwks.json").read_text())["keys"][0]["kid"]
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "s",
        "iat": now,
        "exp": now + 60,
        "realm_access": {"roles": ["supervisor", "offline_access"]},
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    caller = await verifier(keys, "realm_access.roles").verify(token)
    assert caller.roles == {"supervisor", "offline_access"}
    assert caller.permissions == permissions_of(frozenset({"supervisor"}))


async def test_a_rotated_key_is_picked_up_and_a_retired_one_refused_without_a_restart(
    keys: Path,
) -> None:
    checking = verifier(keys)  # one verifier throughout, as in a running service
    before = issuer(keys).token("a", ["supervisor"])
    old_kid = jwt.get_unverified_header(before)["kid"]
    assert (await checking.verify(before)).subject == "a"

    new_kid = rotate_signing_key(keys)
    after = issuer(keys).token("b", ["supervisor"])
    assert jwt.get_unverified_header(after)["kid"] == new_kid != old_kid
    assert (await checking.verify(after)).subject == "b"
    assert (await checking.verify(before)).subject == "a"  # still inside its lifetime

    assert retire_key(keys, old_kid)
    with pytest.raises(Unauthenticated, match="is not one this service knows"):
        await checking.verify(before)
    assert (await checking.verify(after)).subject == "b"
    assert not retire_key(keys, old_kid)


async def test_the_keys_of_an_identity_provider_are_fetched_from_its_jwks_uri(
    keys: Path,
) -> None:
    document = (keys / "jwks.json").read_bytes()
    fetched: list[str] = []

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = (
            f"http://127.0.0.1:{server.server_address[1]}/realms/gov/protocol/openid-connect/certs"
        )
        checking = TokenVerifier(JwksUrl(url), ISSUER, AUDIENCE)
        for subject in ("a", "b"):
            caller = await checking.verify(issuer(keys).token(subject, ["supervisor"]))
            assert caller.subject == subject
        assert fetched == ["/realms/gov/protocol/openid-connect/certs"]  # cached
    finally:
        server.shutdown()
    with pytest.raises(KeysUnavailable):
        await JwksUrl(url).key("any")


# --- the guard ------------------------------------------------------------------------------

IIN = "900101300017"


class Harness:
    def __init__(self, keys: Path) -> None:
        self.audit = MemoryAuditLog()
        self.registry = CollectorRegistry()
        self.audit_key = keys / "audit-key"
        self.guard = Guard(
            verifier(keys),
            self.audit,
            SecretRef.given(self.audit_key.read_bytes().strip()),
            "notify",
            AuthMetrics(self.registry),
            ManualClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
        )

        async def change(request: Request, caller: Caller) -> JSONResponse:
            return JSONResponse({"changed_by": caller.subject})

        route = self.guard.route(
            "/v1/preferences/{citizen}",
            change,
            methods=["PUT"],
            permission=Permission.PREFERENCES_WRITE,
            operation=Operation("Change a citizen's settings", "test", ()),
            target=lambda r: Target("citizen", r.path_params["citizen"], personal=True),
        )
        self.app = Starlette(routes=[route])

    async def put(self, headers: dict[str, str] | None = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.put(f"/v1/preferences/{IIN}", headers=headers or {})

    def count(self, outcome: str) -> float:
        labels = {"route": "/v1/preferences/{citizen}", "outcome": outcome}
        return self.registry.get_sample_value("tyndau_http_auth_total", labels) or 0.0


def bearer_for(keys: Path, roles: list[str], subject: str = "aigerim") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer(keys).token(subject, roles)}"}


async def test_no_credentials_is_401_with_a_bearer_challenge_and_nothing_audited(
    keys: Path,
) -> None:
    harness = Harness(keys)
    response = await harness.put()
    assert response.status_code == 401
    assert response.json() == {
        "error": "unauthenticated",
        "reason": "this route needs a bearer token",
    }
    assert response.headers["www-authenticate"] == 'Bearer realm="tyndau"'
    basic = await harness.put({"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert basic.status_code == 401 and "Bearer <token>" in basic.json()["reason"]
    assert harness.audit.records == [] and harness.count("unauthenticated") == 2


async def test_a_bad_token_is_401_invalid_token_with_the_reason(keys: Path) -> None:
    harness = Harness(keys)
    expired = issuer(keys).token("a", ["citizen-portal"], seconds=1, issued_at=time.time() - 600)
    response = await harness.put({"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["reason"] == "the token has expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_the_wrong_role_is_403_naming_the_permission_and_is_audited(keys: Path) -> None:
    harness = Harness(keys)
    response = await harness.put(bearer_for(keys, ["notify-operator"], subject="dana"))
    assert response.status_code == 403
    body = response.json()
    assert body["permission"] == "preferences:write"
    assert "call-centre-operator, citizen-portal" in body["reason"]
    assert "notify-operator" in body["reason"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    [record] = harness.audit.records
    assert (record.actor, record.status, record.permission) == ("dana", 403, "preferences:write")
    assert harness.count("forbidden") == 1


async def test_the_right_role_reaches_the_handler_and_the_change_is_audited_without_the_iin(
    keys: Path,
) -> None:
    harness = Harness(keys)
    response = await harness.put(bearer_for(keys, ["citizen-portal"], subject="portal-1"))
    assert response.status_code == 200 and response.json() == {"changed_by": "portal-1"}
    [record] = harness.audit.records
    assert record.actor == "portal-1" and record.roles == ["citizen-portal"]
    assert record.method == "PUT" and record.route == "/v1/preferences/{citizen}"
    assert record.at == datetime(2026, 12, 4, 9, 0, tzinfo=UTC) and record.status == 200
    assert IIN not in repr(record)
    key = harness.audit_key.read_bytes().strip()
    assert record.target_ref == pseudonym(key, "citizen", IIN)
    assert harness.count("allowed") == 1


async def test_when_the_keys_cannot_be_read_nobody_gets_in(keys: Path) -> None:
    harness = Harness(keys)
    headers = bearer_for(keys, ["citizen-portal"])
    (keys / "jwks.json").unlink()
    response = await harness.put(headers)
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert harness.audit.records == [] and harness.count("keys_unavailable") == 1
