"""Routing's tunable policy, read from the environment.

Owns: the two knobs operations may turn without a code change. Changing them affects new
decisions only; decisions already stored are never re-made.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RoutingPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore", frozen=True)

    classification_threshold: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Minimum confidence of the text classification to route on it "
        "(ROUTING_CLASSIFICATION_THRESHOLD); below it the appeal goes to triage.",
    )
    max_hops: int = Field(
        default=3,
        ge=0,
        description="Redirections routing performs on its own (ROUTING_MAX_HOPS); the "
        "next 'not our competence' sends the appeal to triage.",
    )
    triage_candidates: int = Field(
        default=4, ge=1, description="At most this many candidate bodies in a triage event."
    )
