"""Notify's core: one notification per (cause event, recipient, channel), stored before it is
sent and marked when the provider accepted it; its outcome published."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter

from contracts import (
    AppealRegistered,
    DeliveryStatus,
    Language,
    NotificationOutcome,
    RecipientRole,
    deterministic_id,
    topics,
)
from services.common.messaging import insert_once, publish_event
from services.common.runtime import ServiceRuntime
from services.notify.providers import DeliveryProvider, OutgoingMessage
from services.notify.templates import local_time, render

NOTIFICATIONS = "notifications"


class NotifyService:
    def __init__(self, runtime: ServiceRuntime, provider: DeliveryProvider) -> None:
        self.runtime = runtime
        self.provider = provider
        self.sent_total = Counter(
            "tyndau_notify_notifications_total",
            "Notification outcomes, by delivery channel, template, language and status.",
            ["channel", "template", "language", "status"],
            registry=runtime.registry,
        )

    async def on_registered(self, appeal: AppealRegistered) -> NotificationOutcome | None:
        address = appeal.applicant.phone or appeal.applicant.email
        if address is None:
            return None  # nobody to tell; the channel already showed the number
        template = "appeal_registered"
        language = appeal.language or Language.KK
        channel = self.provider.channel
        notification_id = deterministic_id(
            "notification", appeal.event_id, RecipientRole.CITIZEN.value, channel.value
        )
        notifications = self.runtime.db[NOTIFICATIONS]
        record = await notifications.find_one({"_id": notification_id})
        if record is None:
            text = render(
                template,
                language,
                {
                    "registration_number": appeal.registration_number,
                    "registered_at": local_time(appeal.registered_at),
                    "answer_due_at": local_time(appeal.answer_due_at),
                },
            )
            record = {
                "_id": notification_id,
                "appeal_id": appeal.appeal_id,
                "cause_event_id": appeal.event_id,
                "recipient_role": RecipientRole.CITIZEN.value,
                "channel": channel.value,
                "template": template,
                "language": language.value,
                "registration_number": appeal.registration_number,
                "text": text,
                "status": "pending",
                "attempts": 0,
                "created_at": datetime.now(UTC),
            }
            await insert_once(notifications, record)
        if record["status"] != DeliveryStatus.SENT.value:
            # The provider is idempotent per notification id, so a retry after a crash
            # between delivery and this update does not send twice.
            await self.provider.deliver(OutgoingMessage(notification_id, address, record["text"]))
            record["attempts"] += 1
            record["status"] = DeliveryStatus.SENT.value
            await notifications.update_one(
                {"_id": notification_id},
                {"$set": {"status": record["status"], "attempts": record["attempts"]}},
            )
            self.sent_total.labels(channel.value, template, language.value, "sent").inc()
        outcome = NotificationOutcome(
            event_id=deterministic_id("notification.outcome", notification_id, record["status"]),
            appeal_id=appeal.appeal_id,
            occurred_at=datetime.now(UTC),
            correlation_id=appeal.correlation_id,
            causation_id=appeal.event_id,
            notification_id=notification_id,
            cause_event_id=appeal.event_id,
            recipient_role=RecipientRole.CITIZEN,
            delivery_channel=channel,
            template=template,
            language=language,
            status=DeliveryStatus(record["status"]),
            attempts=record["attempts"],
            reason=None,
            registration_number=appeal.registration_number,
        )
        await publish_event(self.runtime, topics.NOTIFICATION_OUTCOMES, outcome)
        return outcome
