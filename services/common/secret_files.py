"""Where the services' secrets live, and how a local machine gets them at its first start.

Every secret is read from the environment first (production: injected from the secret store)
and otherwise from one file in the secrets directory,
`${TYNDAU_SECRETS_DIR:-${TYNDAU_STATE_DIR:-<repo>/.run}/secrets}` (mode 0700, files 0600,
never committed: `.run/` is ignored):

- Kafka passwords: `KAFKA_SASL_USERNAME`/`KAFKA_SASL_PASSWORD`, or `kafka-credentials.json`
  (every Kafka client, kafka_auth.py);
- the status lookup key: `INTAKE_LOOKUP_SECRET`, or `lookup-secret` (intake's lookup codes);
- the audit pseudonym key: `TYNDAU_AUDIT_KEY`, or `audit-key` (audit.py);
- the token verification keys: `TYNDAU_AUTH_JWKS` (a path or the IdP's jwks_uri), or
  `jwks.json` (every service with protected routes, auth/tokens.py);
- the local issuer's signing key, `issuer-key.pem` (this machine only: production tokens
  come from the SSO; `python -m services.common.auth token`).

`ensure_local_secrets()` (run by `make run` and by the test session)
makes whatever is missing; it never overwrites. The services only read: a missing secret is
one line at start naming the variable and the file (`MissingSecret`), so a production
replica can never invent a key its siblings do not share.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# The environment names this module reads (besides the files).
ENVIRONMENT = ("TYNDAU_SECRETS_DIR", "TYNDAU_STATE_DIR", "INTAKE_LOOKUP_SECRET", "TYNDAU_AUDIT_KEY")

LOOKUP_SECRET_FILE = "lookup-secret"
AUDIT_KEY_FILE = "audit-key"
ISSUER_KEY_FILE = "issuer-key.pem"
JWKS_FILE = "jwks.json"


class MissingSecret(RuntimeError):
    """A secret neither in the environment nor in its file: one line saying where to put it."""


class SecretRef:
    """One secret, read when first needed and then kept; `check()` at start makes a missing
    one fail the start (services/common/runtime.py) rather than the first request."""

    def __init__(self, env_name: str, file_name: str) -> None:
        self.env_name, self.file_name = env_name, file_name
        self._value: bytes | None = None

    def __repr__(self) -> str:  # never the value
        return f"SecretRef({self.env_name}, {self.file_name})"

    @classmethod
    def given(cls, value: bytes) -> SecretRef:
        """A secret handed over directly (tests, tools that already hold it)."""
        ref = cls("", "")
        ref._value = value
        return ref

    @property
    def value(self) -> bytes:
        if self._value is None:
            self._value = read_secret(self.env_name, self.file_name)
        return self._value

    def check(self) -> None:
        self.value  # noqa: B018 - reading it is the check


def secrets_dir() -> Path:
    if explicit := os.environ.get("TYNDAU_SECRETS_DIR"):
        return Path(explicit)
    state = Path(os.environ.get("TYNDAU_STATE_DIR") or REPO_ROOT / ".run")
    return state / "secrets"


def read_secret(env_name: str, file_name: str) -> bytes:
    """The secret from `env_name`, else from `file_name` in the secrets directory."""
    if value := os.environ.get(env_name):
        return value.encode()
    path = secrets_dir() / file_name
    try:
        value = path.read_bytes().strip()
    except FileNotFoundError:
        value = b""
    if not value:
        raise MissingSecret(
            f"no {file_name.replace('-', ' ')}: set {env_name} or create {path} "
            "(make run makes it: python -m services.common.secret_files)"
        )
    return value


def write_private(path: Path, content: bytes) -> bool:
    """Create `path` readable by its owner only; False if it already exists (kept as is)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return True


def replace_private(path: Path, content: bytes) -> None:
    """Write `path` readable by its owner only (its directory 0700), atomically: written
    aside and renamed, so a reader (a service reloading the JWKS, a client reading its
    password) never finds half a file or none."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(partial, path)


def ensure_local_secrets(directory: Path | None = None) -> list[str]:
    """Make the missing local secrets (random keys; an RSA key pair for the local token
    issuer and its JWKS). Returns the names of the files made."""
    from services.common.auth.issuer import new_signing_key

    directory = directory or secrets_dir()
    made = []
    for name in (LOOKUP_SECRET_FILE, AUDIT_KEY_FILE):
        if write_private(directory / name, secrets.token_urlsafe(32).encode()):
            made.append(name)
    if not (directory / ISSUER_KEY_FILE).exists():
        private_pem, jwk = new_signing_key()
        write_private(directory / ISSUER_KEY_FILE, private_pem)
        # The public half: readable by whoever verifies, still kept with the secrets.
        (directory / JWKS_FILE).unlink(missing_ok=True)
        write_private(directory / JWKS_FILE, json.dumps({"keys": [jwk]}, indent=2).encode())
        made += [ISSUER_KEY_FILE, JWKS_FILE]
    return made


def lookup_secret() -> SecretRef:
    return SecretRef("INTAKE_LOOKUP_SECRET", LOOKUP_SECRET_FILE)


def audit_key() -> SecretRef:
    return SecretRef("TYNDAU_AUDIT_KEY", AUDIT_KEY_FILE)


def ensure_kafka_admin(directory: Path | None = None) -> bool:
    """The broker admin's password in `kafka-credentials.json`, made if missing (for a
    broker formatted from it: docker compose; deploy/local/kafka.sh does the same itself)."""
    path = (directory or secrets_dir()) / "kafka-credentials.json"
    known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if known.get("admin"):
        return False
    known["admin"] = secrets.token_urlsafe(24)
    replace_private(path, json.dumps(known, indent=1, sort_keys=True).encode())
    return True


def main(argv: list[str] | None = None) -> int:
    """`python -m services.common.secret_files [--kafka-admin]`"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    made = ensure_local_secrets()
    if "--kafka-admin" in args and ensure_kafka_admin():
        made.append("kafka-credentials.json (admin)")
    where = secrets_dir()
    print(f"[secrets] {', '.join(made) or 'nothing'} made in {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
