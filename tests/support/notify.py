"""What the notify tests share: an in-process SMS provider that records what it accepted and
fails on cue, and a registration event of a citizen with a phone of their own."""

from __future__ import annotations

import random
import uuid

from contracts import AppealRegistered, Applicant, DeliveryChannel, Language
from services.notify.providers import OutgoingMessage


class SmsStandIn:
    channel = DeliveryChannel.SMS

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.script: dict[str, list[BaseException]] = {}

    async def deliver(self, message: OutgoingMessage) -> str:
        queue = self.script.get(message.address, [])
        if queue:
            raise queue.pop(0)
        self.sent.append(message)
        return f"sms-{message.notification_id[:8]}"

    def to(self, phone: str) -> list[OutgoingMessage]:
        return [m for m in self.sent if m.address == phone]


def registration(**changes: object) -> tuple[AppealRegistered, str]:
    """A registered appeal of a Russian-speaking citizen with a phone of their own."""
    appeal_id = f"appeal-{uuid.uuid4().hex[:10]}"
    phone = f"+7701{random.randrange(10**7):07d}"
    event = AppealRegistered.example().model_copy(
        update={
            "event_id": f"registered-{appeal_id}",
            "appeal_id": appeal_id,
            "correlation_id": appeal_id,
            "language": Language.RU,
            "urgent": False,
            "applicant": Applicant(name="Айгүл", phone=phone, anonymous=False),
            **changes,
        }
    )
    return event, phone
