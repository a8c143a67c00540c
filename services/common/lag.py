"""Consumer lag as a metric: how many messages each of the service's consumers is behind the
end of its assigned partitions. FastStream exports what was received and processed, not what
is still waiting; the "not consuming" and "lag" alerts need this gauge.

Refreshed every few seconds in the background (end offsets asked from the broker minus the
consumer's position), so a scrape never blocks on the broker. The highwater mark of the last
fetch is not enough: a stuck handler stops fetching, and the lag would look frozen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from services.common.metrics import MetricSet, gauge

log = logging.getLogger("tyndau.lag")


class LagMetrics(MetricSet):
    lag = gauge(
        "tyndau_consumer_lag_messages",
        "Messages in assigned partitions not yet consumed, by topic and partition.",
        "topic",
        "partition",
    )


class ConsumerLagMonitor:
    def __init__(self, broker: KafkaBroker, registry: CollectorRegistry, interval: float = 5.0):
        self.broker = broker
        self.interval = interval
        self.lag = LagMetrics(registry).lag
        self.total: int | None = None
        """Messages behind, over every assigned partition, at the last refresh (None before)."""
        self._task: asyncio.Task | None = None

    async def refresh(self) -> None:
        seen: set[tuple[str, str]] = set()
        total = 0
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            assigned = list(consumer.assignment())
            if not assigned:
                continue
            end_offsets = await consumer.end_offsets(assigned)
            for tp in assigned:
                position = await consumer.position(tp)
                labels = (tp.topic, str(tp.partition))
                behind = max(end_offsets[tp] - position, 0)
                self.lag.labels(*labels).set(behind)
                total += behind
                seen.add(labels)
        self.total = total
        # Partitions that moved to another instance are no longer ours to report.
        for labels in {tuple(s.labels.values()) for m in self.lag.collect() for s in m.samples}:
            if labels not in seen:
                with contextlib.suppress(KeyError):
                    self.lag.remove(*labels)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - a metric must never take the service down
                log.exception("could not refresh consumer lag")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def consumers_of(broker: KafkaBroker) -> dict[str, str]:
    """Each subscriber's consumer: `"<n> partitions"` once it has joined its group and been
    given an assignment (possibly empty: more instances than partitions), `"joining"`
    before, `"stopped"` without a running consumer."""
    states: dict[str, str] = {}
    for subscriber in broker.subscribers:
        title = subscriber.specification.config.title_ or str(subscriber.specification.name)
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:
            states[title] = "stopped"
            continue
        subscription = getattr(getattr(consumer, "_subscription", None), "subscription", None)
        assignment = getattr(subscription, "assignment", None)
        if assignment is None:
            states[title] = "joining"
        else:
            states[title] = f"{len(consumer.assignment())} partitions"
    return states
