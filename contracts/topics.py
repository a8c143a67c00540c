"""Kafka topic names every Tyndau service and channel relies on (DESIGN §3, §4, §6).

Owns: the fixed topic names and the rule that turns an agency code into its inbox topic.
Does not own: partition counts, retention or any other broker configuration.
"""

from __future__ import annotations

import re

CHANNEL_1414 = "channel.1414.appeals.v1"
CHANNEL_IKOMEK109 = "channel.ikomek109.appeals.v1"
CHANNEL_EOTINISH = "channel.eotinish.appeals.v1"

APPEALS_REGISTERED = "appeals.registered.v1"
APPEALS_REJECTED = "appeals.rejected.v1"
APPEALS_ROUTED = "appeals.routed.v1"
APPEALS_TRIAGE = "appeals.triage.v1"
# Human triage operators publish their decisions here (contracts.TriageDecided).
TRIAGE_DECISIONS = "appeals.triage.decisions.v1"
APPEALS_DLQ = "appeals.dlq.v1"

# Agencies' decisions once routing has checked that the deciding body holds the appeal
# (only routing writes it; every other service reads decisions here). A body publishes its
# own decisions on `agency_actions(code)`.
AGENCY_ACTIONS = "agency.actions.v1"
SLA_EVENTS = "sla.events.v1"
NOTIFICATION_OUTCOMES = "notifications.outcomes.v1"
# Outcomes decided outside the backbone and recorded into it for the assessment: court and
# disciplinary decisions, supervising bodies' verdicts on repeat complaints (sla writes it).
APPEAL_OUTCOMES = "appeals.outcomes.v1"
# Citizens' ratings of answers (intake writes it; contests are registered appeals).
ANSWER_FEEDBACK = "appeals.feedback.v1"
# Mass incidents (opened, grew, resolved), keyed by cluster key; routing writes both.
INCIDENTS = "incidents.v1"
# What routing's incident detector reads: one sighting per clustering appeal, keyed by its
# cluster key (so one consumer sees a key's sightings in order).
INCIDENT_SIGHTINGS = "incidents.sightings.v1"

ALL_FIXED_TOPICS: tuple[str, ...] = (
    CHANNEL_1414,
    CHANNEL_IKOMEK109,
    CHANNEL_EOTINISH,
    APPEALS_REGISTERED,
    APPEALS_REJECTED,
    APPEALS_ROUTED,
    APPEALS_TRIAGE,
    TRIAGE_DECISIONS,
    APPEALS_DLQ,
    AGENCY_ACTIONS,
    SLA_EVENTS,
    NOTIFICATION_OUTCOMES,
    APPEAL_OUTCOMES,
    ANSWER_FEEDBACK,
    INCIDENTS,
    INCIDENT_SIGHTINGS,
)

# Agency codes become part of a topic name, so they are restricted to characters that are
# legal there; dots are excluded because they separate the parts of the topic name.
AGENCY_CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"
_AGENCY_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}", re.ASCII)

# For consumers that subscribe to every inbox at once (e.g. an agency simulator).
AGENCY_INBOX_TOPIC_PATTERN = r"^agency\.[a-z0-9][a-z0-9_-]{1,62}\.inbox\.v1$"


def _checked(agency_code: str) -> str:
    if not isinstance(agency_code, str) or _AGENCY_CODE_RE.fullmatch(agency_code) is None:
        raise ValueError(
            f"agency code {agency_code!r} must match {AGENCY_CODE_PATTERN} "
            "(lowercase letters, digits, '-' and '_', 2 to 63 characters)"
        )
    return agency_code


def agency_inbox(agency_code: str) -> str:
    """Return the inbox topic of a top-level body, e.g. ``agency.astana-energy.inbox.v1``.

    Raises ValueError when the code cannot be part of a legal, unambiguous topic name.
    """
    return f"agency.{_checked(agency_code)}.inbox.v1"


def agency_actions(agency_code: str) -> str:
    """Return the topic a top-level body publishes its decisions on, e.g.
    ``agency.astana-energy.actions.v1``: only that body may write it (the broker's ACLs),
    so a decision's topic names who made it."""
    return f"agency.{_checked(agency_code)}.actions.v1"


def agency_of_actions_topic(topic: str) -> str | None:
    """The body whose decisions topic `topic` is (its public name), or None."""
    parts = topic.split(".")
    if len(parts) == 4 and parts[0] == "agency" and parts[2:] == ["actions", "v1"]:
        return parts[1]
    return None
