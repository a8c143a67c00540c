"""The local token issuer: stands in, on this machine and in the tests, for the government
SSO (an OIDC provider) that signs operators' and portals' tokens in production.

Its RSA key lives in the secrets directory (`issuer-key.pem`, 0600); the public half is
published as a JWKS (`jwks.json`), which is all a service reads. Tokens are RS256 JWTs with
`iss`, `aud`, `sub`, `iat`, `exp` and `roles`, and the key id (`kid`, the key's RFC 7638
thumbprint) in the header, as an OIDC provider's access tokens have.

Key rotation without restarting anything: `rotate_signing_key` adds a new key to the JWKS
and signs with it from then on; the old public key stays until `retire_key` removes it (after
the longest token life), and services reload the JWKS file when it changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.common.secret_files import ISSUER_KEY_FILE, JWKS_FILE, replace_private

ALGORITHM = "RS256"
DEFAULT_ISSUER = "tyndau-local"
DEFAULT_AUDIENCE = "tyndau"
DEFAULT_TOKEN_SECONDS = 15 * 60


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: the SHA-256 of the key's required members, base64url without padding."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": thumbprint(jwk), "use": "sig", "alg": ALGORITHM}


def new_signing_key() -> tuple[bytes, dict[str, Any]]:
    """A new RSA-3072 key: its private PEM and its public JWK."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_jwk(key)


class LocalIssuer:
    """Signs tokens with the key in `directory` (the secrets directory)."""

    def __init__(
        self,
        directory: Path,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
    ) -> None:
        self.directory, self.issuer, self.audience = directory, issuer, audience
        self._loaded: tuple[tuple[int, int, int], rsa.RSAPrivateKey, str] | None = None

    def _key(self) -> tuple[rsa.RSAPrivateKey, str]:
        """The signing key and its `kid`, parsed again only when the file changed (a
        rotation replaces it): an RSA-3072 parse and thumbprint per token is wasted work."""
        path = self.directory / ISSUER_KEY_FILE
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._loaded is None or self._loaded[0] != version:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self._loaded = (version, key, public_jwk(key)["kid"])
        return self._loaded[1], self._loaded[2]

    def token(
        self,
        subject: str,
        roles: list[str],
        *,
        seconds: int = DEFAULT_TOKEN_SECONDS,
        client: str | None = None,
        audience: str | None = None,
        issued_at: float | None = None,
    ) -> str:
        key, kid = self._key()
        now = int(issued_at if issued_at is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience or self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + seconds,
            "jti": uuid.uuid4().hex,
            "roles": roles,
        }
        if client:
            claims["azp"] = client
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def _write_jwks(directory: Path, keys: list[dict[str, Any]]) -> None:
    replace_private(directory / JWKS_FILE, json.dumps({"keys": keys}, indent=2).encode())


def rotate_signing_key(directory: Path) -> str:
    """Sign with a new key from now on; the old public key stays in the JWKS. Returns the
    new key id."""
    pem, jwk = new_signing_key()
    keys = json.loads((directory / JWKS_FILE).read_text(encoding="utf-8"))["keys"]
    _write_jwks(directory, [jwk, *keys])
    replace_private(directory / ISSUER_KEY_FILE, pem)
    return jwk["kid"]


def retire_key(directory: Path, kid: str) -> bool:
    """Remove key `kid` from the JWKS: every token it signed is refused from then on."""
    keys = json.loads((directory / JWKS_FILE).read_text(encoding="utf-8"))["keys"]
    kept = [key for key in keys if key.get("kid") != kid]
    if len(kept) == len(keys):
        return False
    _write_jwks(directory, kept)
    return True
