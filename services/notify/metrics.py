"""Notify's metrics: outcomes by channel, template, language and status; delivery attempts;
the time from the cause to the provider's acceptance; notices nobody could be told; events
that waited for their registration."""

from __future__ import annotations

from services.common.metrics import MetricSet, counter, histogram

# A notice may wait out quiet hours (up to ~10 h) or a provider's outage.
DELIVERY_LATENCY_BUCKETS = (
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600,
)  # fmt: skip


class NotifyMetrics(MetricSet):
    outcomes = counter(
        "tyndau_notify_notifications_total",
        "Notification outcomes, by delivery channel, template, language and status.",
        "channel",
        "template",
        "language",
        "status",
    )
    attempts = counter(
        "tyndau_notify_delivery_attempts_total",
        "Delivery attempts, by channel and result (accepted, failed).",
        "channel",
        "result",
    )
    latency = histogram(
        "tyndau_notify_delivery_latency_seconds",
        "From the cause event's occurred_at to the provider's acceptance.",
        "channel",
        "template",
        buckets=DELIVERY_LATENCY_BUCKETS,
    )
    unaddressed = counter(
        "tyndau_notify_unaddressed_total",
        "Notices nobody could be told: no contact on any channel, or no directory entry.",
        "role",
        "template",
    )
    parked = counter(
        "tyndau_notify_parked_events_total",
        "Events parked until their appeal's registration arrives, by what became of them.",
        "result",
    )
