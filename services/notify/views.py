"""What notify's HTTP routes answer about a notice, as the model the handlers serialise
through (and the OpenAPI document describes): the record for an operator, with the address
masked (providers.mask_address) and without the provider's raw last outcome."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts import DeliveryChannel, Language, RecipientRole
from services.notify.lifecycle import Notification, NotificationStatus
from services.notify.providers import mask_address
from services.notify.store import to_document


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
        # The record as stored (optional fields only once set), address masked, without the
        # provider's raw outcome.
        record = to_document(n)
        shown = {k: v for k, v in record.items() if k not in ("_id", "address", "last_outcome")}
        return cls(**shown, notification_id=n.notification_id, address=mask_address(n.address))
