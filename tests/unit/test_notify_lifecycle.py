"""A notification's life as pure transitions (services/notify/lifecycle.py): each step is
the record it becomes and the outcome that tells it, without a store or a clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import DeliveryChannel, Language, RecipientRole
from services.notify import lifecycle
from services.notify.lifecycle import AttemptFailure, Notification, NotificationStatus
from services.notify.policy import RetryPolicy

NOW = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)  # 12:00 in Almaty
ALMATY = ZoneInfo("Asia/Almaty")
RETRY = RetryPolicy(3, 30, 120, random.Random(1))


def pending(**changes: object) -> Notification:
    fields: dict = dict(
        notification_id="n-1",
        appeal_id="a-1",
        correlation_id="a-1",
        cause_event_id="registered-a-1",
        cause_event_type="appeal.registered",
        cause_occurred_at=NOW,
        recipient_role=RecipientRole.CITIZEN,
        recipient="citizen",
        channel=DeliveryChannel.SMS,
        address="+77011234567",
        template="appeal_registered",
        language=Language.RU,
        mandatory=True,
        urgent=False,
        registration_number="ZH-20260305-000001",
        subject="s",
        text="t",
        status=NotificationStatus.PENDING,
        attempts=0,
        max_attempts=3,
        next_attempt_at=NOW,
        reason=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return Notification(**(fields | changes))


def test_a_successful_attempt_makes_it_sent_and_tells_so() -> None:
    sent = lifecycle.attempted(pending(), 1, NOW, None, "gw-1", RETRY, NOW, ALMATY, published=False)
    assert (sent.status, sent.attempts, sent.provider_ref, sent.next_attempt_at) == (
        NotificationStatus.SENT,
        1,
        "gw-1",
        None,
    )
    assert sent.last_outcome is not None and sent.last_outcome.status == "sent"
    assert sent.outcome_published is False and not sent.is_due(NOW)


def test_a_failed_attempt_with_attempts_left_waits_for_a_retry_with_backoff() -> None:
    retry = lifecycle.attempted(
        pending(), 1, NOW, AttemptFailure("HTTP 503"), None, RETRY, NOW, ALMATY, published=True
    )
    assert retry.status is NotificationStatus.PENDING and retry.attempts == 1
    assert retry.next_attempt_at is not None
    assert timedelta(seconds=15) <= retry.next_attempt_at - NOW <= timedelta(seconds=30)
    assert retry.last_outcome is not None and retry.last_outcome.status == "deferred"
    assert (retry.reason or "").startswith("retry: attempt 1 failed (HTTP 503)")
    assert retry.is_due(retry.next_attempt_at) and not retry.is_due(NOW)


def test_the_last_attempt_or_a_permanent_failure_is_final() -> None:
    exhausted = lifecycle.attempted(
        pending(attempts=2), 3, NOW, AttemptFailure("HTTP 503"), None, RETRY, NOW, ALMATY,
        published=True,
    )  # fmt: skip
    permanent = lifecycle.attempted(
        pending(), 1, NOW, AttemptFailure("no such number", permanent=True), None, RETRY, NOW,
        ALMATY, published=True,
    )  # fmt: skip
    assert exhausted.status is permanent.status is NotificationStatus.FAILED
    assert (exhausted.reason or "").startswith("attempts exhausted after attempt 3")
    assert (permanent.reason or "").startswith("permanent failure after attempt 1")


def test_quiet_hours_defer_to_their_end_told_in_local_time() -> None:
    until = datetime(2026, 3, 6, 8, 0, tzinfo=ALMATY)
    deferred = lifecycle.deferred_for_quiet_hours(pending(), until, NOW, ALMATY, published=True)
    assert deferred.status is NotificationStatus.DEFERRED and deferred.next_attempt_at == until
    assert deferred.reason == "quiet_hours: SMS deferred until 06.03.2026 08:00"


def test_the_outcome_of_a_step_has_the_same_id_when_told_again() -> None:
    first = lifecycle.suppressed(pending(), NOW, published=True)
    again = lifecycle.suppressed(pending(), NOW + timedelta(seconds=5), published=True)
    assert first.last_outcome is not None and again.last_outcome is not None
    assert first.last_outcome.event_id == again.last_outcome.event_id
    assert first.status is NotificationStatus.SUPPRESSED and first.reason == "opted_out"


def test_only_a_failed_notification_is_resent_with_a_fresh_round_of_attempts() -> None:
    failed = pending(status=NotificationStatus.FAILED, attempts=3, next_attempt_at=None)
    again = lifecycle.resent(failed, NOW, 3)
    assert (again.status, again.max_attempts, again.next_attempt_at) == (
        NotificationStatus.PENDING,
        6,
        NOW,
    )
    with pytest.raises(ValueError, match="only failed"):
        lifecycle.resent(pending(), NOW, 3)
