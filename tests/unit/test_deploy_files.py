"""The production deployment files agree with the code: every service, port and environment
name in deploy/docker-compose.yml is one the services really use, and the image runs as a
non-root user. (No Docker engine here: this is a static check.)"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from services.common import kafka_auth, secret_files
from services.common.settings import DEFAULT_PORTS, ServiceSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
APP_SERVICES = ("intake", "routing", "sla", "notify")
# Settings classes whose environment names the services read.
SETTINGS_CLASSES = (
    "services.common.settings:ServiceSettings",
    "services.intake.settings:IntakeSettings",
    "services.routing.settings:RoutingSettings",
    "services.sla.settings:SlaSettings",
    "services.notify.settings:NotifySettings",
)
# Read by the image's HEALTHCHECK, not by Python code.
IMAGE_ONLY_NAMES = {"SERVICE_PORT"}


def environment_names_the_code_reads() -> set[str]:
    names = {f"{service.upper()}_PORT" for service in DEFAULT_PORTS}
    names |= set(kafka_auth.ENVIRONMENT) | set(secret_files.ENVIRONMENT)
    for dotted in SETTINGS_CLASSES:
        module, _, cls_name = dotted.partition(":")
        cls: type[BaseSettings] = getattr(importlib.import_module(module), cls_name)
        prefix = cls.model_config.get("env_prefix", "")
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, str):
                names.add(alias.upper())
            elif isinstance(alias, AliasChoices):
                names.update(str(choice).upper() for choice in alias.choices)
            else:
                names.add(f"{prefix}{name}".upper())
    return names


KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
MONGODB_MEMBERS = ("mongodb-1", "mongodb-2", "mongodb-3")


def test_compose_has_the_infrastructure_the_services_and_the_monitoring() -> None:
    expected = {*KAFKA_NODES, *MONGODB_MEMBERS, "mongodb-init", "topics", *APP_SERVICES}
    assert expected | {"prometheus", "grafana"} <= set(COMPOSE["services"])
    for member in MONGODB_MEMBERS:
        assert COMPOSE["services"][member]["image"].startswith("mongo:7")
    for node in KAFKA_NODES:
        assert COMPOSE["services"][node]["image"].startswith("apache/kafka:3.9")


def test_compose_is_the_production_topology_three_brokers_and_a_replica_set() -> None:
    services = COMPOSE["services"]
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    ids, clusters = set(), set()
    for node in KAFKA_NODES:
        env = services[node]["environment"]
        assert env["KAFKA_QUORUM_VOTERS"] == voters
        assert (env["KAFKA_REPLICATION"], env["KAFKA_MIN_ISR"]) == ("3", "2")
        assert env["KAFKA_HOST"] == node
        ids.add(env["KAFKA_NODE_ID"])
        clusters.add(env["KAFKA_CLUSTER_ID"])
        # Each node keeps its own log.
        assert f"{node}-data:/var/lib/kafka/data" in services[node]["volumes"]
    assert ids == {"1", "2", "3"} and len(clusters) == 1
    # The template the nodes fill in takes the replication from them.
    template = (DEPLOY / "local" / "kafka" / "server.properties.in").read_text()
    for line in ("default.replication.factor=@REPLICATION@", "min.insync.replicas=@MIN_ISR@"):
        assert line in template
    init = " ".join(services["mongodb-init"]["command"])
    for member in MONGODB_MEMBERS:
        assert services[member]["command"][-3:] == ["--replSet", "rs0", "--bind_ip_all"]
        assert f"{member}:27017" in init
        assert services["mongodb-init"]["depends_on"][member]["condition"] == "service_healthy"
    assert "rs.initiate" in init
    for service in APP_SERVICES:
        env = services[service]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
        assert env["MONGODB_URL"] == (
            "mongodb://mongodb-1:27017,mongodb-2:27017,mongodb-3:27017/?replicaSet=rs0"
        )
        assert env["TYNDAU_MONGODB_WRITE_CONCERN"] == "majority"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_service_runs_its_module_on_its_port_with_health_checked_dependencies(
    service: str,
) -> None:
    spec = COMPOSE["services"][service]
    port = DEFAULT_PORTS[service]
    assert spec["command"] == ["python", "-m", f"services.{service}"]
    assert spec["ports"] == [f"{port}:{port}"]
    assert spec["environment"][f"{service.upper()}_PORT"] == str(port)
    assert spec["restart"] == "unless-stopped"
    for node in KAFKA_NODES:
        assert spec["depends_on"][node]["condition"] == "service_healthy"
    assert spec["depends_on"]["mongodb-init"]["condition"] == "service_completed_successfully"
    assert spec["depends_on"]["topics"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_environment_name_in_compose_is_one_the_code_reads(service: str) -> None:
    known = environment_names_the_code_reads() | IMAGE_ONLY_NAMES
    unknown = set(COMPOSE["services"][service]["environment"]) - known
    assert not unknown, f"{service}: compose sets names no code reads: {sorted(unknown)}"


def test_the_shared_names_of_design_section_6_are_what_the_settings_read() -> None:
    names = environment_names_the_code_reads()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL"} <= names
    assert ServiceSettings.model_fields["kafka_bootstrap_servers"].default == "127.0.0.1:9092"


def test_infrastructure_has_health_checks_and_prometheus_scrapes_every_service() -> None:
    for name in (*KAFKA_NODES, *MONGODB_MEMBERS):
        assert COMPOSE["services"][name]["healthcheck"]["test"]
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-compose.yml").read_text())
    targets = {
        t for c in scrape["scrape_configs"] for s in c["static_configs"] for t in s["targets"]
    }
    assert targets == {f"{s}:{DEFAULT_PORTS[s]}" for s in APP_SERVICES}


def test_the_image_is_slim_and_runs_as_a_non_root_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in dockerfile


def test_compose_runs_the_broker_secured_as_locally_and_every_client_has_its_secrets() -> None:
    services = COMPOSE["services"]
    kafka = services["kafka-1"]
    mounted = {volume.split(":")[1]: volume for volume in kafka["volumes"]}
    # The same server.properties as deploy/local: SASL/SCRAM, StandardAuthorizer, deny by default.
    assert mounted["/opt/tyndau/server.properties.in"].startswith("./local/kafka/")
    template = (DEPLOY / "local" / "kafka" / "server.properties.in").read_text()
    assert "allow.everyone.if.no.acl.found=false" in template
    assert "PLAINTEXT://" not in template.replace("SASL_PLAINTEXT://", "")
    start = (DEPLOY / "compose" / "kafka-start.sh").read_text()
    assert "--add-scram" in start and "kafka-server-start.sh" in start
    assert "--command-config" in kafka["healthcheck"]["test"][1]
    assert services["secrets"]["command"][-2:] == ["services.common.secret_files", "--kafka-admin"]
    assert services["topics"]["command"] == ["python", "-m", "services.common.provisioning"]
    for name in APP_SERVICES:
        assert services[name]["volumes"] == ["secrets:/secrets:ro"]
        assert services[name]["environment"]["TYNDAU_SECRETS_DIR"] == "/secrets"
    # No default gateway key: compose refuses to start without real ones.
    assert ":?" in services["intake"]["environment"]["INTAKE_API_KEYS"]
