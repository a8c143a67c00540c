"""Intake's core: register or reject an adapted appeal, durably and exactly once in effect.

Order of effects for one channel message: store → publish → (caller commits the offset).
A crash anywhere before the commit redelivers the message; the stored appeal is found and its
stored event republished unchanged (same event_id), so downstream sees one registration.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import AppealRegistered, AppealRejected, topics
from services.common.messaging import insert_once, publish_event
from services.common.runtime import ServiceRuntime
from services.common.workdays import WorkingCalendar
from services.intake.adapters import AppealDraft, Rejection
from services.intake.registration import register, rejected_event

APPEALS = "appeals"
REJECTIONS = "rejections"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[APPEALS].create_index([("registration_number", ASCENDING)], unique=True)
    await db[APPEALS].create_index([("channel", ASCENDING), ("channel_appeal_id", ASCENDING)])


class IntakeMetrics:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.registered = Counter(
            "tyndau_intake_appeals_registered_total",
            "Appeals registered, by channel and kind.",
            ["channel", "kind"],
            registry=runtime.registry,
        )
        self.rejected = Counter(
            "tyndau_intake_appeals_rejected_total",
            "Appeals rejected with reasons, by channel and reason code.",
            ["channel", "reason"],
            registry=runtime.registry,
        )
        self.dead_letters = Counter(
            "tyndau_intake_dead_letters_total",
            "Channel messages that were not the channel's format at all, by source topic.",
            ["topic"],
            registry=runtime.registry,
        )


class IntakeService:
    def __init__(self, runtime: ServiceRuntime, calendar: WorkingCalendar) -> None:
        self.runtime = runtime
        self.calendar = calendar
        self.metrics = IntakeMetrics(runtime)

    async def accept(
        self, outcome: AppealDraft | Rejection, correlation_id: str | None
    ) -> AppealRegistered | AppealRejected:
        if isinstance(outcome, Rejection):
            return await self._reject(outcome, correlation_id)
        return await self._register(outcome, correlation_id)

    async def _register(self, draft: AppealDraft, correlation_id: str | None) -> AppealRegistered:
        appeals = self.runtime.db[APPEALS]
        event = register(draft, self.calendar, datetime.now(UTC), correlation_id)
        stored = await appeals.find_one({"_id": event.appeal_id})
        if stored is None:
            created = await insert_once(appeals, _appeal_document(event))
            if created:
                self.metrics.registered.labels(event.channel.value, event.kind.value).inc()
            else:  # a concurrent delivery won the insert; publish what it stored
                stored = await appeals.find_one({"_id": event.appeal_id})
        if stored is not None:
            event = AppealRegistered.model_validate(stored["event"])
        await publish_event(self.runtime, topics.APPEALS_REGISTERED, event)
        return event

    async def _reject(self, rejection: Rejection, correlation_id: str | None) -> AppealRejected:
        event = rejected_event(rejection, datetime.now(UTC), correlation_id)
        document = {
            "_id": event.event_id,
            "appeal_id": event.appeal_id,
            "channel": event.channel.value,
            "channel_appeal_id": event.channel_appeal_id,
            "reason_code": event.reason_code,
            "event": event.model_dump(mode="json"),
        }
        if await insert_once(self.runtime.db[REJECTIONS], document):
            self.metrics.rejected.labels(event.channel.value, event.reason_code).inc()
        await publish_event(self.runtime, topics.APPEALS_REJECTED, event)
        return event

    async def find_by_registration_number(self, registration_number: str) -> dict | None:
        return await self.runtime.db[APPEALS].find_one({"registration_number": registration_number})


def _appeal_document(event: AppealRegistered) -> dict:
    return {
        "_id": event.appeal_id,
        "registration_number": event.registration_number,
        "channel": event.channel.value,
        "channel_appeal_id": event.channel_appeal_id,
        "status": "registered",
        "registered_at": event.registered_at,
        "event": event.model_dump(mode="json"),
    }
