"""The provisioned Grafana dashboard is well-formed and only queries metrics that exist:
recording rules defined in deploy/prometheus/rules, raw metrics the running services really
export (compared against a live scrape of all four)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.support.system import RunningSystem

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "appeals-operations.json"
RAW_METRIC = re.compile(r"\b((?:tyndau|faststream)_[a-z0-9_]+)")
RECORDED_METRIC = re.compile(r"\b(tyndau:[a-z0-9_:]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_dashboard_is_well_formed_with_the_required_sections() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] == "Listening State — appeals operations"
    assert dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ["Appeals", "Deadlines (KPIs by body)", "Pipeline health"]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], f"panel {panel['title']!r} queries nothing"
            assert all(t["expr"].strip() for t in panel["targets"])


def test_every_recorded_kpi_the_dashboard_uses_is_defined_by_a_rule() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "kpi.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"]}
    used = {m for q in dashboard_queries() for m in RECORDED_METRIC.findall(q)}
    assert used, "the dashboard should show the KPI recording rules"
    assert used <= recorded, f"undefined recording rules: {sorted(used - recorded)}"


async def test_every_raw_metric_the_dashboard_uses_is_exported_by_a_service(
    system: RunningSystem,
) -> None:
    exported: set[str] = set()
    for service in ("intake", "routing", "sla", "notify"):
        async with system.http(service) as client:
            scrape = (await client.get("/metrics")).text
        exported |= set(re.findall(r"^# TYPE (\S+) ", scrape, flags=re.MULTILINE))

    def base(name: str) -> str:
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) in exported:
                return name.removesuffix(suffix)
        return name

    used = {base(m) for q in dashboard_queries() for m in RAW_METRIC.findall(q)}
    assert used, "the dashboard should query the services' metrics"
    assert used <= exported, f"not exported by any service: {sorted(used - exported)}"
