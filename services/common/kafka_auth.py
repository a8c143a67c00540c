"""Who a Kafka client is, and how it proves it: the one place every client — the services,
provisioning, `send_appeal.py`, the bench and the tests — gets its Kafka credentials from.

The broker authenticates every connection with SASL/SCRAM-SHA-512 and authorises it by the
access plan (`services/common/provisioning/access.toml`). A client is a *principal*: each
service is `tyndau-<service>`, each channel `channel-<channel>`, each top-level body
`agency-<code>`, the triage desk `triage-desk`; `admin` is used by provisioning only.

Where the password comes from, first match wins:
1. `KAFKA_SASL_USERNAME` / `KAFKA_SASL_PASSWORD` in the environment (production: from the
   secret store; the username then overrides the principal's default name);
2. the credentials file `TYNDAU_KAFKA_CREDENTIALS` (default `kafka-credentials.json` in the
   secrets directory, services/common/secret_files.py; mode 0600): principal → password,
   written by `deploy/local/kafka.sh` (admin) and by provisioning (everyone else) at the
   first start, never committed, never logged.

Transport: `KAFKA_SECURITY_PROTOCOL` is `SASL_PLAINTEXT` on this machine (loopback) and
`SASL_SSL` in production, with `KAFKA_SSL_CAFILE` naming the CA that signed the brokers.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faststream.security import SASLScram512

from services.common.secret_files import secrets_dir

MECHANISM = "SCRAM-SHA-512"
# The environment names this module reads.
ENVIRONMENT = (
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SSL_CAFILE",
    "TYNDAU_KAFKA_CREDENTIALS",
)
ADMIN = "admin"


class MissingCredentials(RuntimeError):
    """No password is known for a principal: one line saying where it was looked for."""


def credentials_path() -> Path:
    if explicit := os.environ.get("TYNDAU_KAFKA_CREDENTIALS"):
        return Path(explicit)
    return secrets_dir() / "kafka-credentials.json"


def read_credentials_file(path: Path | None = None) -> dict[str, str]:
    path = path or credentials_path()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


@dataclass(frozen=True)
class KafkaIdentity:
    username: str
    password: str
    security_protocol: str = "SASL_PLAINTEXT"
    ssl_cafile: str | None = None

    def __repr__(self) -> str:  # never show the password
        return f"KafkaIdentity(username={self.username!r}, {self.security_protocol})"

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol == "SASL_SSL"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        return ssl.create_default_context(cafile=self.ssl_cafile)

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        options: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def faststream(self) -> SASLScram512:
        """The FastStream broker's `security=`."""
        return SASLScram512(
            username=self.username,
            password=self.password,
            ssl_context=self.ssl_context(),
            use_ssl=self.uses_tls,
        )

    def librdkafka(self) -> dict[str, str]:
        """Configuration for librdkafka clients (confluent-kafka, kcat)."""
        options = {
            "security.protocol": self.security_protocol,
            "sasl.mechanisms": MECHANISM,
            "sasl.username": self.username,
            "sasl.password": self.password,
        }
        if self.uses_tls and self.ssl_cafile:
            options["ssl.ca.location"] = self.ssl_cafile
        return options


def identity_for(principal: str) -> KafkaIdentity:
    """The credentials of `principal` (see the module docstring for where they come from)."""
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    if protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError(
            f"KAFKA_SECURITY_PROTOCOL must be SASL_PLAINTEXT or SASL_SSL, not {protocol}"
        )
    cafile = os.environ.get("KAFKA_SSL_CAFILE")
    username = os.environ.get("KAFKA_SASL_USERNAME")
    password = os.environ.get("KAFKA_SASL_PASSWORD")
    if username and password and principal != ADMIN:
        return KafkaIdentity(username, password, protocol, cafile)
    path = credentials_path()
    known = read_credentials_file(path)
    if principal not in known:
        raise MissingCredentials(
            f"no Kafka password for principal {principal!r}: set KAFKA_SASL_USERNAME and "
            f"KAFKA_SASL_PASSWORD, or provision it into {path} (make topics)"
        )
    return KafkaIdentity(principal, known[principal], protocol, cafile)
