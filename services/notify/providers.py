"""Delivery providers. A provider takes a rendered message to one address and reports
acceptance or raises. The outbox provider stores messages in the notify database, so
`make run` shows what would have been sent without an SMS gateway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from contracts import DeliveryChannel
from services.common.messaging import insert_once


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: str
    address: str
    text: str


class DeliveryProvider(Protocol):
    channel: DeliveryChannel

    async def deliver(self, message: OutgoingMessage) -> None: ...


class OutboxProvider:
    channel = DeliveryChannel.OUTBOX

    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db

    async def deliver(self, message: OutgoingMessage) -> None:
        await insert_once(
            self.db["outbox"],
            {
                "_id": message.notification_id,
                "address": message.address,
                "text": message.text,
                "accepted_at": datetime.now(UTC),
            },
        )
