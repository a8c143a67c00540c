"""Intake's store in memory: the `IntakeStore` port over dicts, for unit tests and the
in-memory run of the intake scenario suite. Same promises as the MongoDB store (store.py);
nothing survives the process."""

from __future__ import annotations

from datetime import datetime

from contracts import AppealRegistered, AppealRejected
from services.common.keys import iso_ms
from services.intake.store import MatterEntry, Open311Entry


class MemoryIntakeStore:
    def __init__(self) -> None:
        self.appeals: dict[str, AppealRegistered] = {}
        self.rejections: dict[str, AppealRejected] = {}
        self.matters: dict[str, tuple[MatterEntry, ...]] = {}
        self.claims: dict[tuple[str, int], str] = {}
        self._numbers: set[str] = set()  # unique, as the MongoDB index makes them
        self.timelines: dict[str, dict[str, dict]] = {}
        self.open311: dict[str, Open311Entry] = {}

    async def registered(self, appeal_id: str) -> AppealRegistered | None:
        return self.appeals.get(appeal_id)

    async def add_registered(self, event: AppealRegistered) -> bool:
        if event.appeal_id in self.appeals or event.registration_number in self._numbers:
            return False
        self.appeals[event.appeal_id] = event
        self._numbers.add(event.registration_number)
        return True

    async def add_rejection(self, event: AppealRejected) -> bool:
        if event.event_id in self.rejections:
            return False
        self.rejections[event.event_id] = event
        return True

    async def matter(self, key: str) -> tuple[MatterEntry, ...] | None:
        return self.matters.get(key)

    async def open_matter(self, key: str, entry: MatterEntry) -> bool:
        if key in self.matters:
            return False
        self.matters[key] = (entry,)
        return True

    async def add_to_matter(self, key: str, entry: MatterEntry) -> None:
        entries = self.matters.get(key, ())
        if entry not in entries:
            self.matters[key] = (*entries, entry)

    async def claim_number(self, day: str, sequence: int, appeal_id: str) -> bool:
        if (day, sequence) in self.claims:
            return False
        self.claims[(day, sequence)] = appeal_id
        return True

    async def highest_number(self, day: str) -> int:
        return max((seq for (d, seq) in self.claims if d == day), default=0)

    async def claimant(self, day: str, sequence: int) -> str | None:
        return self.claims.get((day, sequence))

    async def add_timeline_entry(self, appeal_id: str, event_id: str, entry: dict) -> bool:
        entries = self.timelines.setdefault(appeal_id, {})
        if event_id in entries:
            return False
        entries[event_id] = entry
        return True

    async def timeline(self, appeal_id: str) -> list[dict]:
        return list(self.timelines.get(appeal_id, {}).values())

    async def add_open311_entry(self, entry: Open311Entry) -> None:
        self.open311.setdefault(entry.key, entry)

    async def open311_entries(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Open311Entry]:
        low, high = iso_ms(start), iso_ms(end)
        return [self.open311[k] for k in sorted(self.open311) if low <= k < high][:limit]
