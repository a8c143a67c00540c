"""Intake's settings: the shared `ServiceSettings` plus intake's own, from `INTAKE_*`.

- `INTAKE_API_KEYS` (default empty: the gateway refuses everything) — HTTP gateway clients
  and their keys, `reception:KEY1,emailbridge:KEY2`;
- `INTAKE_REPEAT_WINDOW_DAYS` (default 90) — the same IIN on the same category and KATO
  code within this many days makes an appeal a repeat (`repeat_of`);
- `INTAKE_CONTEST_PERIOD_DAYS` (default 90) — how long after its answer an appeal can be
  rated or contested (services/intake/feedback.py);
- `INTAKE_SMS_REPLY_CLIENTS` (default empty: nobody) — the gateway clients that are SMS
  operators and may forward replies to notices (`POST /v1/channels/sms-replies`);
- `INTAKE_MAX_BODY_BYTES` (default 131072) — the largest `POST /v1/appeals` body (413 beyond);
- `INTAKE_LOOKUP_PER_MINUTE` (default 6) and `INTAKE_LOOKUP_BURST` (default 10) — anonymous
  status lookups one client address may make (429 beyond); the lookup key itself is
  `INTAKE_LOOKUP_SECRET` or its file (services/common/secret_files.py).

- `INTAKE_OPEN311_JURISDICTIONS` (default `kz`) — the Open311 jurisdictions served: `kz`
  (the whole country) and/or `kz-<RR>` for a region or city by its 2-digit KATO prefix
  (`kz-71` Astana). With more than one, every request must name its `jurisdiction_id`;
- `INTAKE_OPEN311_CONTACT` — who answers for the Open311 endpoint (discovery's `contact`);
- `INTAKE_OPEN311_READS_PER_MINUTE` (default 60) and `INTAKE_OPEN311_READS_BURST` (default
  20) — reads of the public Open311 feed (`requests`, `requests/{id}`, `tokens/{token}`)
  one client address may make (429 beyond).

Gateway clients are named `[a-z0-9_-]{1,32}` (the name becomes part of the appeal's channel
id and a metric label); keys must be at least 16 characters and distinct. The keys are kept
as `SecretStr`, so neither a repr nor a log line can show them.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from contracts import REGION_KATO
from services.common.settings import ServiceSettings

CLIENT_NAME = re.compile(r"[a-z0-9_-]{1,32}", re.ASCII)
MIN_KEY_CHARS = 16


class IntakeSettings(ServiceSettings):
    # Validation errors must not echo the input: it holds the keys.
    model_config = SettingsConfigDict(
        env_prefix="INTAKE_", extra="ignore", hide_input_in_errors=True
    )

    service_name: str = "intake"

    api_keys: SecretStr = Field(
        default=SecretStr(""), description="`client:key` pairs separated by commas."
    )
    repeat_window_days: int = Field(default=90, ge=1, le=3650)
    # How long after an answer the citizen may rate or contest it (feedback.py).
    contest_period_days: int = Field(default=90, ge=1, le=3650)
    # The gateway clients that are SMS operators: only they forward replies to notices (the
    # sender's number is theirs to vouch for). Comma-separated names; empty: nobody.
    sms_reply_clients: str = Field(default="")
    # The longest valid appeal is 20,000 characters of text (up to 4 bytes each in UTF-8)
    # plus a few short fields: 128 KiB leaves room without inviting abuse.
    max_body_bytes: int = Field(default=128 * 1024, ge=1024, le=16 * 1024 * 1024)
    # A citizen checks an appeal a few times a day; a walk needs millions of tries.
    lookup_per_minute: float = Field(default=6, gt=0, le=6000)
    lookup_burst: int = Field(default=10, ge=1, le=1000)

    open311_jurisdictions: str = Field(default="kz")
    open311_contact: str = Field(default="Tyndau appeals backbone: support@tyndau.kz")
    # The public feed reads a status per request listed (up to MAX_LISTED per call).
    open311_reads_per_minute: float = Field(default=60, gt=0, le=60000)
    open311_reads_burst: int = Field(default=20, ge=1, le=10000)

    @field_validator("open311_jurisdictions")
    @classmethod
    def _jurisdictions_are_known(cls, value: str) -> str:
        parse_jurisdictions(value)
        return value

    def jurisdictions(self) -> dict[str, str]:
        """Open311 jurisdiction id → the KATO prefix it covers (`""`: the whole country)."""
        return parse_jurisdictions(self.open311_jurisdictions)

    @field_validator("api_keys")
    @classmethod
    def _keys_are_well_formed(cls, value: SecretStr) -> SecretStr:
        parse_api_keys(value.get_secret_value())
        return value

    @property
    def repeat_window(self) -> timedelta:
        return timedelta(days=self.repeat_window_days)

    @property
    def contest_period(self) -> timedelta:
        return timedelta(days=self.contest_period_days)

    @property
    def sms_operators(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.sms_reply_clients.split(",") if name.strip())

    def gateway_keys(self) -> dict[str, bytes]:
        """Client name → its key (bytes, for a constant-time comparison)."""
        return parse_api_keys(self.api_keys.get_secret_value())


def parse_api_keys(raw: str) -> dict[str, bytes]:
    """`reception:KEY1,emailbridge:KEY2` → {"reception": b"KEY1", ...}; ValueError on a
    malformed list. Error messages name the client, never the key."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        client, sep, key = item.partition(":")
        client, key = client.strip(), key.strip()
        if not sep or not CLIENT_NAME.fullmatch(client):
            raise ValueError(
                "INTAKE_API_KEYS must be `client:key` pairs separated by commas, client "
                "names [a-z0-9_-]{1,32}"
            )
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(f"the key of gateway client {client!r} is shorter than 16 chars")
        if client in keys:
            raise ValueError(f"gateway client {client!r} is configured twice")
        if key.encode() in keys.values():
            raise ValueError(f"gateway client {client!r} shares its key with another client")
        keys[client] = key.encode()
    return keys


def parse_jurisdictions(raw: str) -> dict[str, str]:
    """`kz,kz-71` → {"kz": "", "kz-71": "71"}; ValueError for anything else."""
    found: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        if item == "kz":
            found[item] = ""
        elif re.fullmatch(r"kz-\d\d", item) and item[3:] in REGION_KATO:
            found[item] = item[3:]
        else:
            raise ValueError(
                f"INTAKE_OPEN311_JURISDICTIONS: {item!r} is neither `kz` nor `kz-<RR>` with RR "
                "a KATO region (e.g. kz-71 for Astana)"
            )
    if not found:
        raise ValueError("INTAKE_OPEN311_JURISDICTIONS names no jurisdiction")
    return found
