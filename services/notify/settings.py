"""Notify's configuration: which delivery providers exist, quiet hours, retry policy and where
the officers' and supervisors' addresses come from. Read from the environment (`NOTIFY_*`)
on top of the settings every service shares.

With no provider configured, notify delivers to the local outbox (a collection in its own
database) — what `make run` uses. As soon as a real provider (SMS gateway, SMTP, push
webhook) is configured the outbox is off unless `NOTIFY_OUTBOX_ENABLED=true`.
"""

from __future__ import annotations

from datetime import time

from pydantic import Field

from contracts import DeliveryChannel
from services.common.settings import ServiceSettings, settings_for


class NotifySettings(ServiceSettings):
    service_name: str = Field(default="notify", description="Always notify.")

    # --- SMS through an HTTP gateway ----------------------------------------------------
    sms_gateway_url: str | None = Field(
        default=None,
        validation_alias="NOTIFY_SMS_GATEWAY_URL",
        description="POST endpoint of the SMS gateway; unset → no SMS channel.",
    )
    sms_gateway_token: str | None = Field(
        default=None,
        validation_alias="NOTIFY_SMS_GATEWAY_TOKEN",
        description="Bearer token for the gateway.",
    )
    sms_sender: str = Field(default="Tyndau", validation_alias="NOTIFY_SMS_SENDER")

    # --- e-mail over SMTP ---------------------------------------------------------------
    smtp_host: str | None = Field(default=None, validation_alias="NOTIFY_SMTP_HOST")
    smtp_port: int = Field(default=587, validation_alias="NOTIFY_SMTP_PORT")
    smtp_username: str | None = Field(default=None, validation_alias="NOTIFY_SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, validation_alias="NOTIFY_SMTP_PASSWORD")
    smtp_starttls: bool = Field(default=True, validation_alias="NOTIFY_SMTP_STARTTLS")
    smtp_from: str = Field(default="noreply@tyndau.kz", validation_alias="NOTIFY_SMTP_FROM")

    # --- push through a webhook (eGov mobile app) --------------------------------------
    push_webhook_url: str | None = Field(default=None, validation_alias="NOTIFY_PUSH_WEBHOOK_URL")
    push_webhook_token: str | None = Field(
        default=None, validation_alias="NOTIFY_PUSH_WEBHOOK_TOKEN"
    )

    outbox_enabled: bool | None = Field(
        default=None,
        validation_alias="NOTIFY_OUTBOX_ENABLED",
        description="Local outbox provider; default: on only when no real provider is set.",
    )
    provider_timeout_seconds: float = Field(
        default=10.0, validation_alias="NOTIFY_PROVIDER_TIMEOUT_SECONDS"
    )

    # --- who gets what ------------------------------------------------------------------
    citizen_channel_order: list[DeliveryChannel] = Field(
        default=[
            DeliveryChannel.SMS,
            DeliveryChannel.PUSH,
            DeliveryChannel.EMAIL,
            DeliveryChannel.OUTBOX,
        ],
        validation_alias="NOTIFY_CITIZEN_CHANNEL_ORDER",
        description="Channels tried for a citizen without a usable preference, in order.",
    )
    staff_channel_order: list[DeliveryChannel] = Field(
        default=[DeliveryChannel.EMAIL, DeliveryChannel.SMS, DeliveryChannel.OUTBOX],
        validation_alias="NOTIFY_STAFF_CHANNEL_ORDER",
        description="Channels tried for officers and supervisors, in order.",
    )
    directory: str | None = Field(
        default=None,
        validation_alias="NOTIFY_DIRECTORY",
        description="Officers' and supervisors' addresses per agency code: a JSON file path "
        "or inline JSON (see services/notify/directory.py). Unset → nobody on staff is told.",
    )
    agency_names_file: str | None = Field(
        default=None,
        validation_alias="NOTIFY_AGENCY_NAMES_FILE",
        description="Agency registry JSON to read body names from; default: the registry "
        "every service reads (reference/agencies.json).",
    )

    # --- quiet hours (local time of the shared TYNDAU_TIME_ZONE) ------------------------
    quiet_hours_start: time = Field(default=time(22, 0), validation_alias="NOTIFY_QUIET_START")
    quiet_hours_end: time = Field(default=time(8, 0), validation_alias="NOTIFY_QUIET_END")

    # --- retries ------------------------------------------------------------------------
    max_attempts: int = Field(default=6, ge=1, validation_alias="NOTIFY_MAX_ATTEMPTS")
    retry_base_seconds: float = Field(
        default=30.0, gt=0, validation_alias="NOTIFY_RETRY_BASE_SECONDS"
    )
    retry_max_seconds: float = Field(
        default=3600.0, gt=0, validation_alias="NOTIFY_RETRY_MAX_SECONDS"
    )
    scheduler_interval_seconds: float = Field(
        default=5.0, gt=0, validation_alias="NOTIFY_SCHEDULER_INTERVAL_SECONDS"
    )
    claim_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        validation_alias="NOTIFY_CLAIM_TIMEOUT_SECONDS",
        description="An attempt started this long ago without a result was interrupted "
        "(crash); the next attempt may go ahead.",
    )
    parked_event_ttl_seconds: float = Field(
        default=86400.0,
        gt=0,
        validation_alias="NOTIFY_PARKED_EVENT_TTL_SECONDS",
        description="How long an event waits for its appeal's registration before notify "
        "gives up on it (logged and counted).",
    )


def notify_settings(settings: ServiceSettings | None = None, **overrides: object) -> NotifySettings:
    """NotifySettings from the environment, keeping the shared values of `settings`."""
    if isinstance(settings, NotifySettings) and not overrides:
        return settings
    base = settings if settings is not None else settings_for("notify")
    values = base.model_dump(exclude={"service_name"})
    values.update(overrides)
    return NotifySettings(service_name="notify", **values)
