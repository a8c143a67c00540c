"""How a service declares its Prometheus metrics: one class per service
(`services/<name>/metrics.py`) whose class attributes are made by `counter`, `gauge` and
`histogram`, each one line of name, help and labels; an instance registers them all in the
registry it is given.

Why a registry per instance rather than the global one: each service has its own registry
(served at its `/metrics`), and tests run several instances of one service in a process,
which the global registry would refuse as duplicates.

Labels stay low-cardinality everywhere (channel, kind, 2-digit region, agency code, rule,
status): appeal, timer or notification ids never become labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""Seconds, for work that should take milliseconds and may take a few seconds."""


@dataclass(frozen=True)
class _Declared:
    kind: type[Counter] | type[Gauge] | type[Histogram]
    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] | None = None

    def register(self, registry: CollectorRegistry) -> Any:
        extra: dict[str, Any] = {"buckets": self.buckets} if self.buckets else {}
        return self.kind(self.name, self.documentation, self.labels, registry=registry, **extra)


def counter(name: str, documentation: str, *labels: str) -> Counter:
    """A counter of the metric set (a declaration until the set is instantiated)."""
    return _Declared(Counter, name, documentation, labels)  # type: ignore[return-value]


def gauge(name: str, documentation: str, *labels: str) -> Gauge:
    return _Declared(Gauge, name, documentation, labels)  # type: ignore[return-value]


def histogram(
    name: str, documentation: str, *labels: str, buckets: tuple[float, ...] = LATENCY_BUCKETS
) -> Histogram:
    return _Declared(Histogram, name, documentation, labels, buckets)  # type: ignore[return-value]


class MetricSet:
    """Base of a service's metrics: every declared class attribute becomes, on the
    instance, that metric registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        for cls in reversed(type(self).__mro__):
            for attribute, value in vars(cls).items():
                if isinstance(value, _Declared):
                    setattr(self, attribute, value.register(registry))
