"""Routing's tunable policy: the knobs operations may turn without a code change
(`ROUTING_*`, see settings.py). Changing them affects new decisions only; decisions already
stored are never re-made."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoutingPolicy:
    classification_threshold: float = 0.6
    """Minimum confidence of the text classification to route on it; below it the appeal
    goes to triage."""
    max_hops: int = 3
    """Redirections routing performs on its own; the next 'not our competence' sends the
    appeal to triage."""
    triage_candidates: int = 4
    """At most this many candidate bodies in a triage event."""

    def __post_init__(self) -> None:
        if not 0 <= self.classification_threshold <= 1:
            raise ValueError("classification_threshold must be within [0, 1]")
        if self.max_hops < 0 or self.triage_candidates < 1:
            raise ValueError("max_hops must be >= 0 and triage_candidates >= 1")
