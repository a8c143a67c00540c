"""SLA metrics: the seed KPIs (breaches of consideration and of forwarding deadlines, share
answered on time) by body and deadline kind. Labels are bounded: agency codes are top-level
bodies from the registry; appeal or timer ids never become labels."""

from __future__ import annotations

from services.common.metrics import MetricSet, counter, gauge, histogram


class SlaMetrics(MetricSet):
    started = counter(
        "tyndau_sla_timers_started_total", "Deadline timers started, by deadline kind.", "kind"
    )
    tracked = gauge(
        "tyndau_sla_open_timers",
        "Timers not yet stopped (open or breached) in the shards this instance owns, by "
        "deadline kind, body and state; sum over instances for the total.",
        "kind",
        "agency",
        "state",
    )
    warnings = counter(
        "tyndau_sla_warnings_total",
        "Deadline warnings emitted, by deadline kind and body.",
        "kind",
        "agency",
    )
    breaches = counter(
        "tyndau_sla_breaches_total",
        "Deadlines breached (KPI: breaches of consideration / forwarding deadlines), by "
        "deadline kind and body.",
        "kind",
        "agency",
    )
    stopped = counter(
        "tyndau_sla_timers_stopped_total",
        "Timers stopped by the awaited decision (answer: answered; forwarding: accepted "
        "or forwarded on), by deadline kind, body and whether on time.",
        "kind",
        "agency",
        "on_time",
    )
    working_days_used = histogram(
        "tyndau_sla_working_days_used",
        "Working days from registration (day 0) to the decision, by deadline kind.",
        "kind",
        buckets=(0, 1, 2, 3, 5, 8, 10, 13, 15, 20, 30, 45),
    )
    extensions = counter(
        "tyndau_sla_extensions_total",
        "Answer-deadline extensions, by body and result (accepted or refused).",
        "agency",
        "result",
    )
    firing_lag = histogram(
        "tyndau_sla_firing_lag_seconds",
        "How late a warning or breach was published after its moment.",
        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300, 3600),
    )
