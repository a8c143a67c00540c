"""Routing decisions as pure functions: an appeal and the registry in, a decision that names
its rule and reason out."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import AppealRegistered
from services.routing.registry import Agency, AgencyRegistry

MOST_SPECIFIC_RULE = "most-specific-competent-body"


@dataclass(frozen=True)
class RouteDecision:
    agency: Agency
    rule_id: str
    rule_version: str
    reason: str


def decide_route(appeal: AppealRegistered, registry: AgencyRegistry) -> RouteDecision:
    candidates = registry.competent(appeal.category, appeal.region_kato)
    if not candidates:
        # The registry is validated so that a national body covers every category; reaching
        # this means the data is broken, and the message will be retried, not dropped.
        raise LookupError(f"no body is competent for {appeal.category} anywhere")
    agency = candidates[0]
    place = appeal.region_kato or "no place given"
    return RouteDecision(
        agency=agency,
        rule_id=MOST_SPECIFIC_RULE,
        rule_version=registry.version,
        reason=(
            f"{agency.names['en']} is the most specific body ({agency.level.value}) competent "
            f"for '{appeal.category.value}' with jurisdiction over {place}"
        ),
    )
