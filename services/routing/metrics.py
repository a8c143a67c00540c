"""Routing's metrics: where appeals went (by body, its level, the rule and whether forwarded
— the KPI "forwarding share"), what went to humans and why, redirects, and decision time."""

from __future__ import annotations

from services.common.metrics import MetricSet, counter, histogram


class RoutingMetrics(MetricSet):
    routed = counter(
        "tyndau_routing_appeals_routed_total",
        "Appeals sent to a body, by body, its level, the rule and whether forwarded.",
        "agency",
        "level",
        "rule",
        "forwarded",
    )
    triaged = counter(
        "tyndau_routing_appeals_triaged_total", "Appeals sent to human triage, by reason.", "reason"
    )
    dismissed = counter(
        "tyndau_routing_appeals_dismissed_total",
        "Appeals the triage desk left without consideration, by ground.",
        "reason",
    )
    redirects = counter(
        "tyndau_routing_redirects_total",
        "'Not our competence' answers acted on, by the body that declined.",
        "agency",
    )
    ignored = counter(
        "tyndau_routing_messages_ignored_total",
        "Redirects and triage decisions without effect (stale, unknown appeal), by reason.",
        "reason",
    )
    refused = counter(
        "tyndau_routing_actions_refused_total",
        "Bodies' decisions not passed on, by the body that sent them and why (not_assigned, "
        "agency_mismatch, unknown_appeal, event_id_in_use).",
        "agency",
        "reason",
    )
    passed = counter(
        "tyndau_routing_actions_passed_total",
        "Bodies' decisions checked and passed on to agency.actions.v1, by body and type.",
        "agency",
        "action",
    )
    incidents_opened = counter(
        "tyndau_routing_incidents_opened_total",
        "Mass incidents opened, by body and category (incidents open = opened - resolved).",
        "agency",
        "category",
    )
    incidents_resolved = counter(
        "tyndau_routing_incidents_resolved_total",
        "Mass incidents answered, by body and category.",
        "agency",
        "category",
    )
    incident_members = histogram(
        "tyndau_routing_incident_members",
        "Appeals per incident, when it is answered.",
        "category",
        buckets=(2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
    )
    incident_resolve_seconds = histogram(
        "tyndau_routing_incident_resolve_seconds",
        "From an incident opened to its answer.",
        "category",
        buckets=(600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 3 * 86400, 15 * 86400),
    )
    latency = histogram(
        "tyndau_routing_decision_seconds",
        "From receiving a cause to its decision stored and its events acknowledged.",
        "trigger",
    )
