"""A notification's life as a typed value with pure transitions.

A `Notification` is one notice for one cause event, recipient and channel — the idempotency
key — with its rendered text, where it stands (`NotificationStatus`), its attempts and the
last outcome told on `notifications.outcomes.v1`. Every step is a function from the record
to the record it becomes, carrying the outcome to publish; nothing here does I/O or reads a
clock (callers pass "now"), so the whole state machine is tested without a store.

    pending ──attempt──► sent
       │ ▲
       │ └─retry (outcome `deferred`)── failed attempt, attempts left
       ├──quiet hours──► deferred ──(their end)──► attempt …
       ├──opt-out of an optional notice──► suppressed
       └──last attempt failed, or a permanent failure──► failed ──resend──► pending

Outcomes: `sent`, `failed` (final), `suppressed`, and `deferred` — for quiet hours and for
a failed attempt that will be retried (the reason says which and when); so every attempt
publishes one outcome. An outcome's event id is derived from the notification, the status,
the attempt count and the step, so telling it again is recognisably the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, tzinfo
from enum import StrEnum

from contracts import (
    DeliveryChannel,
    DeliveryStatus,
    Language,
    NotificationOutcome,
    RecipientRole,
    deterministic_id,
)
from services.common.masking import scrub
from services.notify.policy import RetryPolicy
from services.notify.templates import local_time


class NotificationStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (the first, or a retry)."""
    DEFERRED = "deferred"
    """Held back by quiet hours until `next_attempt_at`."""
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


DUE_STATUSES = (NotificationStatus.PENDING, NotificationStatus.DEFERRED)


@dataclass(frozen=True)
class AttemptFailure:
    """A provider did not accept the message. `permanent`: retrying cannot help."""

    reason: str
    permanent: bool = False


@dataclass(frozen=True)
class Notification:
    notification_id: str
    appeal_id: str
    correlation_id: str
    cause_event_id: str
    cause_event_type: str
    cause_occurred_at: datetime
    recipient_role: RecipientRole
    recipient: str
    """`citizen`, or `officer:<agency>` / `supervisor:<agency>`: part of the idempotency key."""
    channel: DeliveryChannel
    address: str
    template: str
    language: Language
    mandatory: bool
    """A legal notice: never suppressed by an opt-out."""
    urgent: bool
    """Sent at once, quiet hours or not."""
    registration_number: str | None
    subject: str
    text: str
    status: NotificationStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    quiet_hours: tuple[time, time] | None = None
    """The recipient's SMS quiet hours (local time), as they were when it was created."""
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    provider_ref: str | None = None
    last_outcome: NotificationOutcome | None = None
    outcome_published: bool | None = None
    """False while the last outcome may not have been published (the loop publishes it)."""

    def is_due(self, now: datetime) -> bool:
        return (
            self.status in DUE_STATUSES
            and self.next_attempt_at is not None
            and self.next_attempt_at <= now
        )


def _moved(
    notification: Notification,
    outcome: DeliveryStatus,
    status: NotificationStatus,
    reason: str | None,
    now: datetime,
    *,
    published: bool,
    step: str = "",
    **changes: object,
) -> Notification:
    """The record after a step: its new state, and the outcome that tells it."""
    attempts = changes.get("attempts", notification.attempts)
    told = NotificationOutcome(
        event_id=deterministic_id(
            "notification.outcome",
            notification.notification_id,
            outcome.value,
            str(attempts),
            step,
        ),
        appeal_id=notification.appeal_id,
        occurred_at=now,
        correlation_id=notification.correlation_id,
        causation_id=notification.cause_event_id,
        notification_id=notification.notification_id,
        cause_event_id=notification.cause_event_id,
        recipient_role=notification.recipient_role,
        delivery_channel=notification.channel,
        template=notification.template,
        language=notification.language,
        status=outcome,
        attempts=attempts,  # type: ignore[arg-type]
        reason=scrub(reason) if reason else None,
        registration_number=notification.registration_number,
    )
    return replace(
        notification,
        **changes,  # type: ignore[arg-type]
        status=status,
        reason=told.reason,
        updated_at=now,
        last_outcome=told,
        outcome_published=published,
    )


def suppressed(notification: Notification, now: datetime, *, published: bool) -> Notification:
    """An optional notice the recipient opted out of: never sent."""
    return _moved(
        notification,
        DeliveryStatus.SUPPRESSED,
        NotificationStatus.SUPPRESSED,
        "opted_out",
        now,
        published=published,
        next_attempt_at=None,
    )


def deferred_for_quiet_hours(
    notification: Notification, until: datetime, now: datetime, tz: tzinfo, *, published: bool
) -> Notification:
    return _moved(
        notification,
        DeliveryStatus.DEFERRED,
        NotificationStatus.DEFERRED,
        f"quiet_hours: SMS deferred until {local_time(until, tz)}",
        now,
        published=published,
        step=f"quiet:{until.isoformat()}",
        next_attempt_at=until,
    )


def attempted(
    notification: Notification,
    attempt: int,
    finished_at: datetime,
    failure: AttemptFailure | None,
    reference: str | None,
    retry: RetryPolicy,
    now: datetime,
    tz: tzinfo,
    *,
    published: bool,
) -> Notification:
    """The record after attempt number `attempt` finished at `finished_at`: sent; failed for
    good (a permanent failure, or the last attempt); or pending a retry with backoff."""
    if failure is None:
        return _moved(
            notification,
            DeliveryStatus.SENT,
            NotificationStatus.SENT,
            None,
            now,
            published=published,
            attempts=attempt,
            sent_at=finished_at,
            provider_ref=reference,
            next_attempt_at=None,
        )
    if failure.permanent or attempt >= notification.max_attempts:
        kind = "permanent failure" if failure.permanent else "attempts exhausted"
        return _moved(
            notification,
            DeliveryStatus.FAILED,
            NotificationStatus.FAILED,
            f"{kind} after attempt {attempt}: {failure.reason}",
            now,
            published=published,
            attempts=attempt,
            failed_at=finished_at,
            next_attempt_at=None,
        )
    retry_at = finished_at + retry.delay_after(attempt)
    return _moved(
        notification,
        DeliveryStatus.DEFERRED,
        NotificationStatus.PENDING,
        f"retry: attempt {attempt} failed ({failure.reason}); "
        f"next attempt at {local_time(retry_at, tz)}",
        now,
        published=published,
        step="retry",
        attempts=attempt,
        next_attempt_at=retry_at,
    )


def resent(notification: Notification, now: datetime, more_attempts: int) -> Notification:
    """A failed notification given a fresh round of attempts (an operator's decision)."""
    if notification.status is not NotificationStatus.FAILED:
        raise ValueError(f"only failed notifications are resent, not {notification.status}")
    return replace(
        notification,
        status=NotificationStatus.PENDING,
        next_attempt_at=now,
        max_attempts=notification.attempts + more_attempts,
        updated_at=now,
    )
