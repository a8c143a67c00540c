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

    def _key(self) -> rsa.RSAPrivateKey:
        pem = (self.directory / "issuer-key.pem").read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

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
        key = self._key()
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
        kid = public_jwk(key)["kid"]
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def _jwks_path(directory: Path) -> Path:
    return directory / "jwks.json"


def _write_jwks(directory: Path, keys: list[dict[str, Any]]) -> None:
    # Written aside and renamed: a service reloading it never reads half a file.
    path = _jwks_path(directory)
    partial = path.with_suffix(".json.new")
    partial.write_text(json.dumps({"keys": keys}, indent=2), encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(path)


def rotate_signing_key(directory: Path) -> str:
    """Sign with a new key from now on; the old public key stays in the JWKS. Returns the
    new key id."""
    pem, jwk = new_signing_key()
    keys = json.loads(_jwks_path(directory).read_text(encoding="utf-8"))["keys"]
    _write_jwks(directory, [jwk, *keys])
    partial = directory / "issuer-key.pem.new"
    partial.write_bytes(pem)
    partial.chmod(0o600)
    partial.replace(directory / "issuer-key.pem")
    return jwk["kid"]


def retire_key(directory: Path, kid: str) -> bool:
    """Remove key `kid` from the JWKS: every token it signed is refused from then on."""
    keys = json.loads(_jwks_path(directory).read_text(encoding="utf-8"))["keys"]
    kept = [key for key in keys if key.get("kid") != kid]
    if len(kept) == len(keys):
        return False
    _write_jwks(directory, kept)
    return True
