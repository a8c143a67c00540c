"""Routing's settings: the shared `ServiceSettings` plus routing's policy, from `ROUTING_*`."""

from __future__ import annotations

import json

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from contracts import Category
from services.common.settings import ServiceSettings
from services.routing.incidents import DEFAULT_RULES, ClusterRule
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

    incident_rules: str = Field(
        default="",
        description="Which categories cluster into mass incidents, and how "
        "(ROUTING_INCIDENT_RULES): a JSON object, category → {threshold, window_minutes, "
        "distance_m}; empty: the defaults (services/routing/incidents.py), `{}`: none.",
    )

    @field_validator("incident_rules")
    @classmethod
    def _rules_are_valid(cls, value: str) -> str:
        cls.parse_incident_rules(value)
        return value

    @staticmethod
    def parse_incident_rules(value: str) -> dict[Category, ClusterRule]:
        if not value.strip():
            return dict(DEFAULT_RULES)
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"ROUTING_INCIDENT_RULES is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("ROUTING_INCIDENT_RULES: a JSON object, category → rule")
        return {Category(name): ClusterRule.model_validate(rule) for name, rule in data.items()}

    def incident_cluster_rules(self) -> dict[Category, ClusterRule]:
        return self.parse_incident_rules(self.incident_rules)

    def policy(self) -> RoutingPolicy:
        return RoutingPolicy(
            classification_threshold=self.classification_threshold,
            max_hops=self.max_hops,
            triage_candidates=self.triage_candidates,
        )
