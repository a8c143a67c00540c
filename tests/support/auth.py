"""Bearer tokens for the tests, signed by the local issuer whose JWKS the services read
(the secrets directory; the session makes it, as `make run` does)."""

from __future__ import annotations

from services.common.auth.issuer import LocalIssuer
from services.common.secret_files import secrets_dir


def token(role: str | None, subject: str = "tester", **options: object) -> str:
    roles = [role] if role else []
    return LocalIssuer(secrets_dir()).token(subject, roles, **options)  # type: ignore[arg-type]


def bearer(role: str | None, subject: str = "tester", **options: object) -> dict[str, str]:
    """`Authorization` header of a caller holding `role` (None: a token with no role)."""
    return {"Authorization": f"Bearer {token(role, subject, **options)}"}
