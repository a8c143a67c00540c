"""Configuration of a service, read from the environment (names as in DESIGN.md §6)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"intake": 8001, "routing": 8002, "sla": 8003, "notify": 8004}


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

    def model_post_init(self, __context: object) -> None:
        if not self.http_port:
            self.http_port = DEFAULT_PORTS.get(self.service_name, 8000)

    def topic(self, name: str) -> str:
        """The real topic name for a public topic name (contracts.topics)."""
        return f"{self.topic_prefix}{name}"

    @property
    def database_name(self) -> str:
        """Each service owns one database, named after it (DESIGN.md §4)."""
        return f"{self.database_prefix}{self.service_name}"

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
