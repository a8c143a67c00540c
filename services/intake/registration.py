"""Registration (Art. 64): the appeal's id, its registration number and time, and its
statutory answer deadline. Pure: the same draft and sequence number always yield the same
event.

Registration number: `ZH-20260305-000123` — the kind's prefix, the registration date (the
next working day for appeals received after hours, Art. 64) and that day's sequence number,
six digits. Chosen over a hash suffix because people read numbers out over the phone to the
1414 operator (digits only), and because within a kind the numbers sort by registration day
and then by the order intake registered them. The sequence is shared by all kinds of a day,
so the part after the prefix is unique on its own. Who hands out the sequence numbers, and how
that stays exactly-once without an atomic find-and-modify, is `numbers.py`.
"""

from __future__ import annotations

from datetime import date, datetime

from contracts import (
    AppealKind,
    AppealRegistered,
    AppealRejected,
    Channel,
    deterministic_id,
)
from reference import statute
from reference.calendar import WorkingCalendar
from services.intake.adapters import AppealDraft, Rejection

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


def registration_number(kind: AppealKind, registration_day: date, sequence: int) -> str:
    """`ZH-20260305-000123`: kind, registration date, the day's sequence number."""
    if sequence < 1:
        raise ValueError(f"sequence numbers start at 1, got {sequence}")
    return f"{KIND_PREFIX[kind]}-{registration_day:%Y%m%d}-{sequence:06d}"


def registration_time(draft: AppealDraft, calendar: WorkingCalendar) -> datetime:
    """Art. 64: received after hours or on a day off → the next working day, 09:00."""
    return statute.registration_time(calendar, draft.received_at)


def register(
    draft: AppealDraft,
    calendar: WorkingCalendar,
    occurred_at: datetime,
    correlation_id: str | None,
    *,
    sequence: int,
    repeat_of: str | None = None,
    lookup_code: str | None = None,
) -> AppealRegistered:
    appeal_id = appeal_id_for(draft.channel, draft.channel_appeal_id)
    registered_at = registration_time(draft, calendar)
    return AppealRegistered(
        event_id=deterministic_id("appeal.registered", appeal_id),
        appeal_id=appeal_id,
        occurred_at=occurred_at,
        correlation_id=correlation_id or appeal_id,
        registration_number=registration_number(draft.kind, registered_at.date(), sequence),
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
        answer_due_at=statute.answer_deadline(calendar, registered_at),
        repeat_of=repeat_of,
        lookup_code=lookup_code,
        contests=draft.contests,
    )


def rejected_event(
    rejection: Rejection, occurred_at: datetime, correlation_id: str | None
) -> AppealRejected:
    appeal_id = appeal_id_for(rejection.channel, rejection.channel_appeal_id)
    # The same message redelivered gives the same errors and so the same id; a corrected
    # resubmission under the same channel id that is wrong in another way is a new rejection.
    problems = ",".join(sorted(f"{e.field}:{e.code}" for e in rejection.errors))
    return AppealRejected(
        event_id=deterministic_id("appeal.rejected", appeal_id, problems),
        appeal_id=appeal_id,
        occurred_at=occurred_at,
        correlation_id=correlation_id or appeal_id,
        channel=rejection.channel,
        channel_appeal_id=rejection.channel_appeal_id,
        errors=rejection.errors,
        reason_code=rejection.reason_code,
        applicant_contact=rejection.applicant_contact,
    )
