"""Intake's metrics: what came in from each channel, what was registered or refused and why
(by channel, kind and 2-digit region: the KPI "appeals handled, by region"), and how long
registration took."""

from __future__ import annotations

from services.common.metrics import MetricSet, counter, histogram

BY_APPEAL = ("channel", "kind", "region")


class IntakeMetrics(MetricSet):
    received = counter(
        "tyndau_intake_appeals_received_total",
        "Channel messages and gateway requests that were the channel's format, "
        "redeliveries included; kind and region `unknown` when they could not be read.",
        *BY_APPEAL,
    )
    registered = counter(
        "tyndau_intake_appeals_registered_total",
        "Appeals registered, by channel, kind and region (2-digit KATO).",
        *BY_APPEAL,
    )
    rejected = counter(
        "tyndau_intake_appeals_rejected_total",
        "Appeals rejected with reasons, by channel, reason code, kind and region.",
        "channel",
        "reason",
        "kind",
        "region",
    )
    rejection_errors = counter(
        "tyndau_intake_rejection_errors_total",
        "Field errors in rejected appeals, by channel and error code.",
        "channel",
        "code",
    )
    anonymous_refused = counter(
        "tyndau_intake_anonymous_refused_total",
        "Anonymous appeals not considered (not a crime or security report).",
        *BY_APPEAL,
    )
    urgent_anonymous = counter(
        "tyndau_intake_urgent_anonymous_registered_total",
        "Anonymous crime or security reports registered as urgent.",
        *BY_APPEAL,
    )
    repeats = counter(
        "tyndau_intake_repeat_appeals_total",
        "Registered appeals that repeat an earlier one (same IIN, category and KATO).",
        *BY_APPEAL,
    )
    ratings = counter(
        "tyndau_intake_answer_ratings_total",
        "Citizens' ratings of answers, by path, rating and whether the answer was contested.",
        "via",
        "rating",
        "contested",
    )
    dead_letters = counter(
        "tyndau_intake_dead_letters_total",
        "Messages that were not the expected format at all, by source topic.",
        "topic",
    )
    processing = histogram(
        "tyndau_intake_processing_seconds",
        "Time from a channel message or request reaching intake to its event being "
        "acknowledged by Kafka.",
        "channel",
    )
    gateway_refused = counter(
        "tyndau_intake_gateway_refused_total",
        "HTTP gateway requests refused before adapting: api_key_missing, api_key_wrong, "
        "too_large, invalid_json, not_the_format.",
        "reason",
    )
    timeline_events = counter(
        "tyndau_intake_timeline_events_total",
        "Lifecycle events added to appeals' status timelines, by event type.",
        "event_type",
    )
    status_lookups = counter(
        "tyndau_intake_status_lookups_total",
        "GET /v1/appeals/{number}, by outcome: shown (code matched), not_found (unknown "
        "number, wrong code or not public), code_missing, rate_limited, operator.",
        "outcome",
    )
