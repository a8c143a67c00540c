"""Declared metric sets (services/common/metrics.py) and each service's set."""

from __future__ import annotations

import importlib

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from services.common.metrics import MetricSet, counter, histogram

SERVICE_SETS = (
    "services.intake.metrics:IntakeMetrics",
    "services.routing.metrics:RoutingMetrics",
    "services.sla.metrics:SlaMetrics",
    "services.notify.metrics:NotifyMetrics",
)


class Example(MetricSet):
    handled = counter("example_handled_total", "Things handled, by kind.", "kind")
    took = histogram("example_seconds", "How long one took.", buckets=(0.1, 1))


def test_declared_metrics_are_registered_in_the_given_registry() -> None:
    registry = CollectorRegistry()
    metrics = Example(registry)
    metrics.handled.labels("a").inc(2)
    metrics.took.observe(0.5)

    assert isinstance(metrics.handled, Counter) and isinstance(metrics.took, Histogram)
    assert registry.get_sample_value("example_handled_total", {"kind": "a"}) == 2
    assert registry.get_sample_value("example_seconds_bucket", {"le": "1.0"}) == 1


def test_two_instances_of_one_service_keep_apart() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    Example(first).handled.labels("a").inc()
    Example(second)
    assert first.get_sample_value("example_handled_total", {"kind": "a"}) == 1
    assert second.get_sample_value("example_handled_total", {"kind": "a"}) is None


@pytest.mark.parametrize("dotted", SERVICE_SETS)
def test_every_service_metric_is_a_tyndau_metric_with_help(dotted: str) -> None:
    module, _, name = dotted.partition(":")
    registry = CollectorRegistry()
    getattr(importlib.import_module(module), name)(registry)
    exposition = generate_latest(registry).decode()
    names = [line.split()[2] for line in exposition.splitlines() if line.startswith("# HELP")]
    assert names, dotted
    assert all(name.startswith("tyndau_") for name in names), names
