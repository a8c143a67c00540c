"""SLA's settings: the shared `ServiceSettings` plus the SLA's own, from `SLA_*`:
WARNING_WORKING_DAYS (JSON list), ESCALATION_LEVELS, SUPERVISORS (JSON object),
DEFAULT_SUPERVISOR, LOOKAHEAD_SECONDS, POLL_INTERVAL_SECONDS, BATCH_SIZE,
GAUGE_INTERVAL_SECONDS."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from reference.agencies import AgencyRegistry
from services.common.settings import ServiceSettings
from services.sla.firing import FiringSettings
from services.sla.schedule import HEAD, SUPERVISOR, SlaPolicy


class SlaSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", extra="ignore")

    service_name: str = "sla"

    warning_working_days: tuple[int, ...] = Field(
        default=(3, 1), description="Warn this many working days before a deadline."
    )
    escalation_levels: tuple[str, ...] = Field(
        default=(HEAD, SUPERVISOR),
        description="Breach escalation chain: `head`, `supervisor` or literal codes.",
    )
    supervisors: dict[str, str] = Field(
        default_factory=dict,
        description="Supervising body per body code; overrides the agency registry's parent.",
    )
    default_supervisor: str | None = Field(
        default=None,
        description="Supervisor of bodies without one; default: the registry's catch-all body.",
    )
    lookahead_seconds: float = 2.0
    poll_interval_seconds: float = 0.5
    batch_size: int = 500
    gauge_interval_seconds: float = 15.0

    def policy(self, registry: AgencyRegistry) -> SlaPolicy:
        return SlaPolicy(
            warning_working_days=self.warning_working_days,
            escalation_levels=self.escalation_levels,
            supervisors={**registry.supervisors(), **self.supervisors},
            default_supervisor=self.default_supervisor or registry.fallback,
        )

    def firing(self) -> FiringSettings:
        return FiringSettings(
            lookahead=timedelta(seconds=self.lookahead_seconds),
            poll_interval=self.poll_interval_seconds,
            batch_size=self.batch_size,
            gauge_interval=self.gauge_interval_seconds,
        )
