"""What notify's HTTP routes answer about a notice, as the model the handlers serialise
through (and the OpenAPI document describes): the record for an operator, with the address
masked (providers.mask_address) and without the provider's raw last outcome."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts import DeliveryChannel, Language, RecipientRole
from services.notify.lifecycle import Notification, NotificationStatus
from services.notify.providers import mask_address


class NotificationView(BaseModel):
    """A notice as an operator sees it. Fields a notice does not have yet (`sent_at` before
    it is sent, `quiet_hours` without an SMS preference...) are left out."""

    model_config = ConfigDict(extra="forbid")

    notification_id: str
    appeal_id: str
    correlation_id: str
    cause_event_id: str
    cause_event_type: str
    cause_occurred_at: AwareDatetime
    recipient_role: RecipientRole
    recipient: str
    channel: DeliveryChannel
    address: str
    template: str
    language: Language
    mandatory: bool
    urgent: bool
    registration_number: str | None
    subject: str
    text: str
    status: NotificationStatus
    attempts: int
    max_attempts: int
    next_attempt_at: AwareDatetime | None
    reason: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    quiet_hours: tuple[str, str] | None = None
    sent_at: AwareDatetime | None = None
    failed_at: AwareDatetime | None = None
    provider_ref: str | None = None
    outcome_published: bool | None = None

    @classmethod
    def of(cls, n: Notification) -> NotificationView:
        optional = {
            "quiet_hours": tuple(t.isoformat() for t in n.quiet_hours) if n.quiet_hours else None,
            "sent_at": n.sent_at,
            "failed_at": n.failed_at,
            "provider_ref": n.provider_ref,
            "outcome_published": n.outcome_published,
        }
        return cls(
            notification_id=n.notification_id,
            appeal_id=n.appeal_id,
            correlation_id=n.correlation_id,
            cause_event_id=n.cause_event_id,
            cause_event_type=n.cause_event_type,
            cause_occurred_at=n.cause_occurred_at,
            recipient_role=n.recipient_role,
            recipient=n.recipient,
            channel=n.channel,
            address=mask_address(n.address),
            template=n.template,
            language=n.language,
            mandatory=n.mandatory,
            urgent=n.urgent,
            registration_number=n.registration_number,
            subject=n.subject,
            text=n.text,
            status=n.status,
            attempts=n.attempts,
            max_attempts=n.max_attempts,
            next_attempt_at=n.next_attempt_at,
            reason=n.reason,
            created_at=n.created_at,
            updated_at=n.updated_at,
            **{k: v for k, v in optional.items() if v is not None},
        )
