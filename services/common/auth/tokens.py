"""Bearer tokens: who is calling, checked the way a service behind a government SSO checks
an OIDC access token — an RS256 JWT whose signature verifies against the issuer's JWKS, from
the issuer we trust (`iss`), for us (`aud`), not expired (`exp`, `nbf`; 30 s leeway for
clock skew), with a subject. Only asymmetric algorithms are accepted, so neither `none` nor
an HMAC token made with the public key passes.

The JWKS comes from a file (local issuer, or a file the secret store mounts) re-read when it
changes, or from the IdP's URL (`jwks_uri`), cached and re-fetched when a token names a key
it does not have — either way a rotated key is picked up without a restart.

`verify` raises `Unauthenticated` with a reason a client can act on ("the token has
expired"), never with the token or its claims.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt

from services.common.auth.roles import Permission, permissions_of

ACCEPTED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
LEEWAY_SECONDS = 30


class Unauthenticated(Exception):
    """No usable credentials; `reason` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The service cannot get the issuer's keys (file missing, IdP unreachable)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the token's subject, the client it came through (`azp`),
    and its roles."""

    subject: str
    roles: frozenset[str]
    client: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions


class KeySource(Protocol):
    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The verification key named `kid` (the only key when `kid` is None), or None."""
        ...


def _pick(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((key for key in keys.keys if key.key_id == kid), None)


class JwksFile:
    """A JWKS file, re-read whenever its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._keys: jwt.PyJWKSet | None = None

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise KeysUnavailable(f"no JWKS at {self.path}") from None
        if self._keys is None or self._seen != (stat.st_mtime_ns, stat.st_size):
            try:
                document = json.loads(self.path.read_text(encoding="utf-8"))
                self._keys = jwt.PyJWKSet.from_dict(document)
            except (ValueError, jwt.PyJWKSetError) as exc:
                raise KeysUnavailable(f"the JWKS at {self.path} is not usable: {exc}") from None
            self._seen = (stat.st_mtime_ns, stat.st_size)
        return _pick(self._keys, kid)


class JwksUrl:
    """The IdP's `jwks_uri`: PyJWT's client (cached for 5 minutes, re-fetched on an unknown
    key id), run in a thread so a slow IdP does not stall the event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5)

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        try:
            keys = await asyncio.to_thread(self._client.get_jwk_set, False)
            found = _pick(keys, kid)
            if found is None and kid is not None:  # maybe a key rotated in since
                found = _pick(await asyncio.to_thread(self._client.get_jwk_set, True), kid)
            return found
        except jwt.PyJWKClientError as exc:
            raise KeysUnavailable(f"the JWKS at {self.url} is not reachable: {exc}") from None


def key_source(location: str) -> KeySource:
    if location.startswith(("https://", "http://")):
        return JwksUrl(location)
    return JwksFile(Path(location))


class TokenVerifier:
    def __init__(
        self, keys: KeySource, issuer: str, audience: str, roles_claim: str = "roles"
    ) -> None:
        self.keys, self.issuer, self.audience = keys, issuer, audience
        self.roles_path = roles_claim.split(".")

    async def verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        if header.get("alg") not in ACCEPTED_ALGORITHMS:
            raise Unauthenticated(f"tokens signed with {header.get('alg')!r} are not accepted")
        kid = header.get("kid")
        key = await self.keys.key(kid)
        if key is None:
            raise Unauthenticated(f"the token's key ({kid}) is not one this service knows")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ACCEPTED_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(_reason(exc)) from None
        return Caller(
            subject=str(claims["sub"]),
            roles=frozenset(_roles(claims, self.roles_path)),
            client=claims.get("azp") or claims.get("client_id"),
        )


def _roles(claims: dict[str, Any], path: list[str]) -> list[str]:
    value: Any = claims
    for part in path:  # e.g. Keycloak's realm_access.roles
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return value.split()
    return [role for role in value or [] if isinstance(role, str)]


def _reason(exc: jwt.PyJWTError) -> str:
    match exc:
        case jwt.ExpiredSignatureError():
            return "the token has expired"
        case jwt.ImmatureSignatureError():
            return "the token is not valid yet"
        case jwt.InvalidAudienceError():
            return "the token is meant for another audience"
        case jwt.InvalidIssuerError():
            return "the token comes from an issuer this service does not trust"
        case jwt.InvalidSignatureError():
            return "the token's signature does not verify"
        case jwt.MissingRequiredClaimError():
            return f"the token lacks the {exc.claim!r} claim"
        case _:
            return "the bearer token is not valid"
