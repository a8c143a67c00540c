"""Notify's store in memory: the `NotifyStore` port over dicts, for unit tests and the
in-memory run of the notify scenario suite. Same promises as the MongoDB store (store.py):
everything is stored once by its key, a guarded update changes only a record still as
expected, the work list comes back soonest first. Nothing survives the process."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts import Event
from services.common.keys import until_range
from services.notify.lifecycle import DUE_STATUSES, Notification
from services.notify.policy import CitizenPreferences
from services.notify.rules import AppealView
from services.notify.store import AttemptClaim, ParkedEvent, WorkState
from services.notify.workers import Worker


class MemoryNotifyStore:
    def __init__(self) -> None:
        self.appeals: dict[str, AppealView] = {}
        self.parked: dict[str, ParkedEvent] = {}
        self.preferences_by_key: dict[str, CitizenPreferences] = {}
        self.keys: dict[tuple[str, str], str] = {}
        self.records: dict[str, Notification] = {}
        self.claims: dict[tuple[str, int], AttemptClaim] = {}
        self.beats: dict[str, datetime] = {}
        self.work_keys: list[str] = []  # sorted, as an `_id` index is
        self.markers: set[str] = set()
        self.outbox: dict[str, dict[str, Any]] = {}

    # --- the appeals projection -----------------------------------------------------------

    async def appeal(self, appeal_id: str) -> AppealView | None:
        return self.appeals.get(appeal_id)

    async def add_appeal(self, appeal: AppealView) -> bool:
        if appeal.appeal_id in self.appeals:
            return False
        self.appeals[appeal.appeal_id] = appeal
        return True

    async def set_answer_due(self, appeal_id: str, due_at: datetime) -> None:
        if appeal_id in self.appeals:
            self.appeals[appeal_id] = replace(self.appeals[appeal_id], answer_due_at=due_at)

    # --- parked events --------------------------------------------------------------------

    async def park(self, event: Event, parked_at: datetime, expires_at: datetime) -> bool:
        if event.event_id in self.parked:
            return False
        self.parked[event.event_id] = ParkedEvent(event, parked_at, expires_at)
        return True

    async def parked_of(self, appeal_id: str) -> list[ParkedEvent]:
        return [p for p in self.parked.values() if p.event.appeal_id == appeal_id]

    async def parked_page(self, limit: int) -> list[ParkedEvent]:
        return list(self.parked.values())[:limit]

    async def unpark(self, event_id: str) -> bool:
        return self.parked.pop(event_id, None) is not None

    # --- preferences ----------------------------------------------------------------------

    async def preferences(self, key: str) -> CitizenPreferences | None:
        return self.preferences_by_key.get(key)

    async def set_preferences(
        self, key: str, preferences: CitizenPreferences, at: datetime
    ) -> None:
        self.preferences_by_key[key] = preferences

    # --- notifications and their keys -----------------------------------------------------

    async def notification_id_for(self, appeal_id: str, key: str) -> str | None:
        return self.keys.get((appeal_id, key))

    async def add_key(self, appeal_id: str, key: str, notification_id: str) -> bool:
        if (appeal_id, key) in self.keys:
            return False
        self.keys[(appeal_id, key)] = notification_id
        return True

    async def notification(self, notification_id: str) -> Notification | None:
        return self.records.get(notification_id)

    async def notifications(self, ids: Iterable[str]) -> dict[str, Notification]:
        return {i: self.records[i] for i in ids if i in self.records}

    async def notifications_of_appeal(self, appeal_id: str) -> list[Notification]:
        mine = [n for n in self.records.values() if n.appeal_id == appeal_id]
        return sorted(mine, key=lambda n: (n.created_at, n.notification_id))

    async def add_notification(self, notification: Notification) -> bool:
        if notification.notification_id in self.records:
            return False
        self.records[notification.notification_id] = notification
        return True

    async def update(
        self, before: Notification, after: Notification, expect: dict[str, Any] | None = None
    ) -> bool:
        stored = self.records.get(before.notification_id)
        if stored is None:
            return False
        if expect and any(getattr(stored, k) != v for k, v in expect.items()):
            return False
        self.records[before.notification_id] = after
        return True

    async def mark_published(self, notification_id: str) -> None:
        if notification_id in self.records:
            stored = self.records[notification_id]
            self.records[notification_id] = replace(stored, outcome_published=True)

    # --- attempt claims -------------------------------------------------------------------

    async def claim_attempt(
        self, notification_id: str, attempt: int, channel: str, at: datetime, worker: Worker
    ) -> bool:
        if (notification_id, attempt) in self.claims:
            return False
        self.claims[(notification_id, attempt)] = AttemptClaim(
            notification_id,
            attempt,
            "started",
            at,
            incarnation=worker.incarnation,
            instance=worker.instance,
        )
        return True

    async def finish_attempt(self, claim: AttemptClaim) -> None:
        key = (claim.notification_id, claim.attempt)
        if key in self.claims:
            self.claims[key] = replace(claim, started_at=self.claims[key].started_at)

    async def attempt(self, notification_id: str, attempt: int) -> AttemptClaim | None:
        return self.claims.get((notification_id, attempt))

    async def interrupt_attempt(self, notification_id: str, attempt: int, at: datetime) -> None:
        claim = self.claims.get((notification_id, attempt))
        if claim is not None and claim.state == "started":
            self.claims[(notification_id, attempt)] = replace(
                claim, state="interrupted", finished_at=at
            )

    async def beat(self, worker: Worker, at: datetime) -> None:
        self.beats[worker.incarnation] = at

    async def last_beat(self, incarnation: str) -> datetime | None:
        return self.beats.get(incarnation)

    # --- the delivery loop's work list ----------------------------------------------------

    async def add_work(self, keys: Iterable[str]) -> int:
        added = 0
        for key in keys:
            index = bisect.bisect_left(self.work_keys, key)
            if index == len(self.work_keys) or self.work_keys[index] != key:
                self.work_keys.insert(index, key)
                added += 1
        return added

    async def work(self, prefix: str, until: datetime, limit: int) -> list[str]:
        bounds = until_range(prefix, until)
        low = bisect.bisect_left(self.work_keys, bounds["$gte"])
        high = bisect.bisect_left(self.work_keys, bounds["$lt"])
        return self.work_keys[low:high][:limit]

    async def drop_work(self, keys: Iterable[str]) -> None:
        for key in set(keys):
            index = bisect.bisect_left(self.work_keys, key)
            if index < len(self.work_keys) and self.work_keys[index] == key:
                del self.work_keys[index]

    async def backfilled(self, marker: str) -> bool:
        return marker in self.markers

    async def mark_backfilled(self, marker: str, at: datetime, added: int) -> None:
        self.markers.add(marker)

    async def records_needing_work(self) -> list[WorkState]:
        return [
            WorkState(
                n.notification_id, n.status, n.next_attempt_at, n.updated_at, n.outcome_published
            )
            for n in self.records.values()
            if n.status in DUE_STATUSES or n.outcome_published is False
        ]

    async def backfill_keys(self) -> int:
        return 0  # keys are kept by appeal from the start here

    # --- the outbox provider --------------------------------------------------------------

    async def add_to_outbox(self, document: dict[str, Any]) -> None:
        self.outbox.setdefault(document["_id"], document)
