"""Service configuration from the environment (services/common/settings.py, DESIGN.md §6)."""

from __future__ import annotations

import pytest

from services.common.settings import settings_for

SERVICES = ("intake", "routing", "sla", "notify")
ENVIRONMENT_NAMES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "MONGODB_URL",
    "TYNDAU_TOPIC_PREFIX",
    "TYNDAU_DATABASE_PREFIX",
    "TYNDAU_HTTP_HOST",
    "TYNDAU_LOG_LEVEL",
    "HTTP_PORT",
    "TYNDAU_TIME_ZONE",
    "NOTIFY_TIME_ZONE",
    *(f"{service.upper()}_PORT" for service in SERVICES),
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` sets some of these for the infra tests; defaults must be seen without them."""
    for name in ENVIRONMENT_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_the_broker_and_store_default_to_this_machine() -> None:
    settings = settings_for("intake")
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.mongodb_url == "mongodb://127.0.0.1:27017/"


@pytest.mark.parametrize(
    ("service", "port"), [("intake", 8001), ("routing", 8002), ("sla", 8003), ("notify", 8004)]
)
def test_each_service_has_its_own_default_port(service: str, port: int) -> None:
    assert settings_for(service).http_port == port


def test_the_broker_and_store_addresses_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9093,kafka-2:9093")
    monkeypatch.setenv("MONGODB_URL", "mongodb://store.example:27018/")

    settings = settings_for("routing")

    assert settings.kafka_bootstrap_servers == "kafka-1:9093,kafka-2:9093"
    assert settings.mongodb_url == "mongodb://store.example:27018/"


def test_a_service_port_from_the_environment_applies_to_that_service_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTAKE_PORT", "18001")

    assert settings_for("intake").http_port == 18001
    assert settings_for("routing").http_port == 8002


def test_without_prefixes_topics_and_databases_keep_their_public_names() -> None:
    settings = settings_for("sla")
    assert settings.topic("sla.events.v1") == "sla.events.v1"
    assert settings.database_name == "sla"


def test_the_topic_prefix_applies_to_topics_and_consumer_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TYNDAU_TOPIC_PREFIX", "t1234-")

    settings = settings_for("routing")

    assert settings.topic("appeals.registered.v1") == "t1234-appeals.registered.v1"
    assert settings.consumer_group.startswith("t1234-")
    assert settings.database_name == "routing"  # the topic prefix leaves databases alone


def test_the_database_prefix_applies_to_the_database_name_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TYNDAU_DATABASE_PREFIX", "db9-")

    settings = settings_for("notify")

    assert settings.database_name == "db9-notify"
    assert settings.topic("notifications.outcomes.v1") == "notifications.outcomes.v1"


def test_each_service_owns_its_database_and_consumer_group() -> None:
    all_settings = [settings_for(service) for service in SERVICES]
    assert [s.database_name for s in all_settings] == list(SERVICES)
    assert len({s.consumer_group for s in all_settings}) == len(SERVICES)


def test_explicit_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_PORT", "18001")
    assert settings_for("intake", http_port=9999).http_port == 9999


@pytest.mark.parametrize(
    ("settings_class", "variable", "field", "value"),
    [
        (
            "services.intake.settings:IntakeSettings",
            "INTAKE_REPEAT_WINDOW_DAYS",
            "repeat_window_days",
            30,
        ),
        ("services.routing.settings:RoutingSettings", "ROUTING_MAX_HOPS", "max_hops", 5),
        ("services.sla.settings:SlaSettings", "SLA_BATCH_SIZE", "batch_size", 50),
        ("services.notify.settings:NotifySettings", "NOTIFY_MAX_ATTEMPTS", "max_attempts", 2),
    ],
)
def test_each_services_own_settings_keep_the_shared_values_and_read_their_own_prefix(
    monkeypatch: pytest.MonkeyPatch, settings_class: str, variable: str, field: str, value: int
) -> None:
    import importlib

    module, _, name = settings_class.partition(":")
    cls = getattr(importlib.import_module(module), name)
    monkeypatch.setenv(variable, str(value))
    shared = settings_for(cls.model_fields["service_name"].default, topic_prefix="p-")

    settings = cls.specialise(shared)

    assert isinstance(settings, cls)
    assert getattr(settings, field) == value
    assert settings.topic_prefix == "p-"
    assert settings.database_name == shared.database_name


def test_the_time_zone_is_one_setting_for_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TYNDAU_TIME_ZONE", "Asia/Tokyo")
    for service in SERVICES:
        settings = settings_for(service)
        assert settings.time_zone == "Asia/Tokyo"
        assert str(settings.working_calendar().tz) == "Asia/Tokyo"


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        settings_for("sla", time_zone="Asia/Atlantis")
