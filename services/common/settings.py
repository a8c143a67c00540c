"""Configuration of a service, read from the environment (names as in DESIGN.md §6).

One style for all four services: `ServiceSettings` holds what every service reads (broker,
store, port, prefixes, time zone); each service's `settings.py` subclasses it with its own
values under its own prefix (`INTAKE_*`, `ROUTING_*`, `SLA_*`, `NOTIFY_*`). A composition
root takes whatever `ServiceSettings` it is given and `specialise`s it to its own class, so
`python -m services.<name>`, the tests and the docs generator all start a service the same
way. Values that only the rules need (a routing policy, an SLA policy) are made from the
settings by a method, so the rules never read the environment.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference.calendar import DEFAULT_TIME_ZONE, WorkingCalendar

DEFAULT_PORTS = {"intake": 8001, "routing": 8002, "sla": 8003, "notify": 8004, "workspace": 8005}

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Settings every service reads. Service-specific settings subclass this."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    service_name: str = Field(description="intake, routing, sla or notify")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    mongodb_url: str = Field(default="mongodb://127.0.0.1:27017/", validation_alias="MONGODB_URL")
    http_host: str = Field(default="127.0.0.1", validation_alias="TYNDAU_HTTP_HOST")
    # Set per service through <SERVICE>_PORT (settings_for); no shared env name, so one
    # variable cannot put all four services on the same port.
    http_port: int = Field(
        default=0,
        validation_alias="TYNDAU_SERVICE_PORT_OVERRIDE",
        description="0 → the service's default port (§6)",
    )
    # Prefixes keep parallel test runs (and tenants sharing a cluster) apart: every topic and
    # consumer group gets topic_prefix, every database gets database_prefix.
    topic_prefix: str = Field(default="", validation_alias="TYNDAU_TOPIC_PREFIX")
    database_prefix: str = Field(default="", validation_alias="TYNDAU_DATABASE_PREFIX")
    log_level: str = Field(default="INFO", validation_alias="TYNDAU_LOG_LEVEL")
    # Who the service is to the broker (services/common/kafka_auth.py: its password comes
    # from KAFKA_SASL_PASSWORD or the credentials file); default `tyndau-<service>`.
    kafka_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    # Who this instance is, stable across its restarts and unique among the live instances
    # of its service (run.sh: `<service>-0`; Kubernetes: the StatefulSet pod name). When set,
    # its consumers are static group members (`group.instance.id`): restarted within the
    # session timeout, it takes its partitions back at once, with no rebalance; and notify
    # knows an attempt claimed by an earlier life of this instance was interrupted.
    instance_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$", validation_alias="TYNDAU_INSTANCE_ID"
    )
    # How long the group waits for a consumer that stopped heartbeating before its partitions
    # go to others (a static member restarted within it keeps them).
    kafka_session_timeout_ms: int = Field(
        default=10_000, ge=6_000, le=300_000, validation_alias="TYNDAU_KAFKA_SESSION_TIMEOUT_MS"
    )
    # Every write waits for this acknowledgement: `majority` (a replica set's majority, so
    # an acknowledged write survives a primary's failure; a standalone or FerretDB treats it
    # as acknowledged by itself), or a number of members. Journaled either way.
    mongodb_write_concern: str = Field(
        default="majority",
        pattern=r"^(majority|[1-9])$",
        validation_alias="TYNDAU_MONGODB_WRITE_CONCERN",
    )
    # The one time zone of every service: working days and hours, registration times,
    # deadlines, quiet hours and the times shown in messages are all local to it.
    # (NOTIFY_TIME_ZONE is its former, notify-only name, still read.)
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        validation_alias=AliasChoices("TYNDAU_TIME_ZONE", "NOTIFY_TIME_ZONE"),
        description="IANA time zone of the working-day calendar and of local times.",
    )
    # The working-day calendar's data (reference/calendar_kz.json's format): unset, the
    # bundled file; a deployment points every service at the same file once a year's decree
    # is added to it (`python -m reference.decree add`), then re-plans sla's open timers.
    calendar_file: str | None = Field(default=None, validation_alias="TYNDAU_CALENDAR_FILE")

    # Bearer tokens on protected routes (services/common/auth): who signs them, for whom,
    # the keys that verify them (a JWKS file or the IdP's jwks_uri; default: the local
    # issuer's jwks.json in the secrets directory) and where the roles are in the token.
    auth_issuer: str = Field(default="tyndau-local", validation_alias="TYNDAU_AUTH_ISSUER")
    auth_audience: str = Field(default="tyndau", validation_alias="TYNDAU_AUTH_AUDIENCE")
    auth_jwks: str = Field(default="", validation_alias="TYNDAU_AUTH_JWKS")
    auth_roles_claim: str = Field(default="roles", validation_alias="TYNDAU_AUTH_ROLES_CLAIM")
    # The largest request body any route accepts (a route may set a smaller limit).
    http_max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        validation_alias="TYNDAU_HTTP_MAX_BODY_BYTES",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def working_calendar(self) -> WorkingCalendar:
        """The working-day calendar (TYNDAU_CALENDAR_FILE, else the bundled one) in this
        service's time zone."""
        if self.calendar_file:
            return WorkingCalendar.from_file(self.calendar_file, self.time_zone)
        return WorkingCalendar.bundled(self.time_zone)

    @classmethod
    def specialise(cls: type[SettingsT], base: ServiceSettings, **overrides: Any) -> SettingsT:
        """This service's settings: `base`'s values (the environment already applied to
        them), this class's own values from the environment, then `overrides`."""
        if type(base) is cls and not overrides:
            return base
        values = {name: getattr(base, name) for name in type(base).model_fields}
        values = {name: value for name, value in values.items() if name in cls.model_fields}
        values.pop("service_name", None)
        return cls(**(values | overrides))

    def model_post_init(self, __context: object) -> None:
        if not self.http_port:
            self.http_port = DEFAULT_PORTS.get(self.service_name, 8000)

    def topic(self, name: str) -> str:
        """The real topic name for a public topic name (contracts.topics)."""
        return f"{self.topic_prefix}{name}"

    @property
    def kafka_bootstrap_list(self) -> list[str]:
        """KAFKA_BOOTSTRAP_SERVERS as a list: "host:port,host:port" names a cluster's brokers
        (FastStream would take the whole string for one host)."""
        return [host.strip() for host in self.kafka_bootstrap_servers.split(",") if host.strip()]

    @property
    def database_name(self) -> str:
        """Each service owns one database, named after it (DESIGN.md §4)."""
        return f"{self.database_prefix}{self.service_name}"

    @property
    def jwks_location(self) -> str:
        from services.common.secret_files import JWKS_FILE, secrets_dir

        return self.auth_jwks or str(secrets_dir() / JWKS_FILE)

    @property
    def kafka_principal(self) -> str:
        return self.kafka_username or f"tyndau-{self.service_name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}tyndau-{self.service_name}"


def settings_for(service_name: str, **overrides: object) -> ServiceSettings:
    """Settings for one service: the environment, then `<SERVICE>_PORT`, then overrides."""
    import os

    port = os.environ.get(f"{service_name.upper()}_PORT")
    values: dict[str, object] = {"service_name": service_name}
    if port:
        values["http_port"] = int(port)
    values.update(overrides)
    return ServiceSettings(**values)
