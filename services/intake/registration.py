"""Registration (Art. 64): the appeal's id, its registration number and time, and its
statutory answer deadline. Pure: the same draft always yields the same ids and number."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from contracts import (
    AppealKind,
    AppealRegistered,
    AppealRejected,
    Channel,
    deterministic_id,
)
from services.common.workdays import WorkingCalendar
from services.intake.adapters import AppealDraft, Rejection

# Art. 76: an appeal is considered within 15 working days of registration.
ANSWER_WORKING_DAYS = 15

KIND_PREFIX = {
    AppealKind.APPLICATION: "ZA",
    AppealKind.COMPLAINT: "ZH",
    AppealKind.PROPOSAL: "PR",
    AppealKind.REQUEST: "ZP",
    AppealKind.RESPONSE: "OT",
    AppealKind.REPORT: "SO",
}


def appeal_id_for(channel: Channel, channel_appeal_id: str) -> str:
    """One appeal per (channel, channel's id): a redelivery maps onto the same appeal."""
    return deterministic_id("appeal", channel.value, channel_appeal_id)


def registration_number(kind: AppealKind, registered_at: datetime, appeal_id: str) -> str:
    """`ZH-20260305-7KQ4XW2M`: kind, registration date (sorts by day), 40 bits of the appeal
    id in RFC 4648 base32 (stable for the same appeal; a unique index catches the
    ~1e-4/day chance of a clash at 12k appeals a day)."""
    digest = hashlib.sha256(appeal_id.encode()).digest()
    suffix = base64.b32encode(digest[:5]).decode()
    return f"{KIND_PREFIX[kind]}-{registered_at:%Y%m%d}-{suffix}"


def register(
    draft: AppealDraft, calendar: WorkingCalendar, occurred_at: datetime, correlation_id: str | None
) -> AppealRegistered:
    appeal_id = appeal_id_for(draft.channel, draft.channel_appeal_id)
    registered_at = calendar.registration_time(draft.received_at)
    return AppealRegistered(
        event_id=deterministic_id("appeal.registered", appeal_id),
        appeal_id=appeal_id,
        occurred_at=occurred_at,
        correlation_id=correlation_id or appeal_id,
        registration_number=registration_number(draft.kind, registered_at, appeal_id),
        kind=draft.kind,
        language=draft.language,
        category=draft.category,
        region_kato=draft.region_kato,
        address=draft.address,
        location=draft.location,
        subject=draft.subject,
        text=draft.text,
        applicant=draft.applicant,
        channel=draft.channel,
        channel_appeal_id=draft.channel_appeal_id,
        addressed_to=draft.addressed_to,
        urgent=draft.urgent,
        received_at=draft.received_at,
        registered_at=registered_at,
        answer_due_at=calendar.deadline(registered_at, ANSWER_WORKING_DAYS),
    )


def rejected_event(
    rejection: Rejection, occurred_at: datetime, correlation_id: str | None
) -> AppealRejected:
    appeal_id = appeal_id_for(rejection.channel, rejection.channel_appeal_id)
    return AppealRejected(
        event_id=deterministic_id("appeal.rejected", appeal_id),
        appeal_id=appeal_id,
        occurred_at=occurred_at,
        correlation_id=correlation_id or appeal_id,
        channel=rejection.channel,
        channel_appeal_id=rejection.channel_appeal_id,
        errors=rejection.errors,
        reason_code=rejection.reason_code,
        applicant_contact=rejection.applicant_contact,
    )
