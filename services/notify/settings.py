"""Notify's configuration: which delivery providers exist, quiet hours, retry policy and where
the officers' and supervisors' addresses come from. Read from the environment (`NOTIFY_*`)
on top of the settings every service shares (one style for all four, see
services/common/settings.py).

With no provider configured, notify delivers to the local outbox (a collection in its own
database) — what `make run` uses. As soon as a real provider (SMS gateway, SMTP, push
webhook) is configured the outbox is off unless `NOTIFY_OUTBOX_ENABLED=true`.
"""

from __future__ import annotations

from datetime import time

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts import DeliveryChannel
from services.common.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    service_name: str = "notify"

    # --- SMS through an HTTP gateway ----------------------------------------------------
    sms_gateway_url: str | None = Field(
        default=None,
        description="POST endpoint of the SMS gateway; unset → no SMS channel.",
    )
    sms_gateway_token: str | None = Field(
        default=None,
        description="Bearer token for the gateway.",
    )
    sms_sender: str = "Tyndau"

    # --- e-mail over SMTP ---------------------------------------------------------------
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_from: str = "noreply@tyndau.kz"

    # --- push through a webhook (eGov mobile app) --------------------------------------
    push_webhook_url: str | None = None
    push_webhook_token: str | None = None

    outbox_enabled: bool | None = Field(
        default=None,
        description="Local outbox provider; default: on only when no real provider is set.",
    )
    provider_timeout_seconds: float = 10.0

    # --- who gets what ------------------------------------------------------------------
    citizen_channel_order: list[DeliveryChannel] = Field(
        default=[
            DeliveryChannel.SMS,
            DeliveryChannel.PUSH,
            DeliveryChannel.EMAIL,
            DeliveryChannel.OUTBOX,
        ],
        description="Channels tried for a citizen without a usable preference, in order.",
    )
    staff_channel_order: list[DeliveryChannel] = Field(
        default=[DeliveryChannel.EMAIL, DeliveryChannel.SMS, DeliveryChannel.OUTBOX],
        description="Channels tried for officers and supervisors, in order.",
    )
    directory: str | None = Field(
        default=None,
        description="Officers' and supervisors' addresses per agency code: a JSON file path "
        "or inline JSON (see services/notify/directory.py). Unset → nobody on staff is told.",
    )
    agency_names_file: str | None = Field(
        default=None,
        description="Agency registry JSON to read body names from; default: the registry "
        "every service reads (reference/agencies.json).",
    )

    # --- quiet hours (local time of the shared TYNDAU_TIME_ZONE) ------------------------
    quiet_hours_start: time = Field(default=time(22, 0), validation_alias="NOTIFY_QUIET_START")
    quiet_hours_end: time = Field(default=time(8, 0), validation_alias="NOTIFY_QUIET_END")

    # --- retries ------------------------------------------------------------------------
    max_attempts: int = Field(default=6, ge=1)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    scheduler_interval_seconds: float = Field(default=5.0, gt=0)
    claim_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="An attempt started this long ago without a result was interrupted "
        "(crash); the next attempt may go ahead.",
    )
    parked_event_ttl_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="How long an event waits for its appeal's registration before notify "
        "gives up on it (logged and counted).",
    )
