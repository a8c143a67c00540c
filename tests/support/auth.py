"""Bearer tokens for the tests, signed by the local issuer whose JWKS the services read
(the secrets directory; the session makes it, as `make run` does)."""

from __future__ import annotations

from pathlib import Path

from services.common.auth.issuer import LocalIssuer
from services.common.secret_files import secrets_dir

_issuers: dict[Path, LocalIssuer] = {}


def token(role: str | None, subject: str = "tester", **options: object) -> str:
    roles = [role] if role else []
    # One issuer per secrets directory: it keeps the parsed key until the file changes.
    issuer = _issuers.setdefault(secrets_dir(), LocalIssuer(secrets_dir()))
    return issuer.token(subject, roles, **options)  # type: ignore[arg-type]


def bearer(role: str | None, subject: str = "tester", **options: object) -> dict[str, str]:
    """`Authorization` header of a caller holding `role` (None: a token with no role)."""
    return {"Authorization": f"Bearer {token(role, subject, **options)}"}
