"""Routing's settings: the shared `ServiceSettings` plus routing's policy, from `ROUTING_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings
from services.routing.policy import RoutingPolicy


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore")

    service_name: str = "routing"
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
        default=4,
        ge=1,
        description="At most this many candidate bodies in a triage event "
        "(ROUTING_TRIAGE_CANDIDATES).",
    )

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            classification_threshold=self.classification_threshold,
            max_hops=self.max_hops,
            triage_candidates=self.triage_candidates,
        )
