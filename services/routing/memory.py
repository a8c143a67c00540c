"""Routing's store in memory: the `DecisionStore` port over a dict, for unit tests and the
in-memory run of the routing scenario suite. Same promises as the MongoDB store (one record
per appeal and hop; history oldest first); nothing survives the process."""

from __future__ import annotations

from services.routing.records import ActionVerdict, DecisionRecord


class MemoryDecisionStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, int], DecisionRecord] = {}
        self.verdicts: dict[str, ActionVerdict] = {}

    async def insert(self, record: DecisionRecord) -> bool:
        key = (record.appeal_id, record.hop)
        if key in self.records:
            return False
        self.records[key] = record
        return True

    async def decision(self, appeal_id: str, hop: int) -> DecisionRecord | None:
        return self.records.get((appeal_id, hop))

    async def history(self, appeal_id: str) -> list[DecisionRecord]:
        hops = sorted(hop for (appeal, hop) in self.records if appeal == appeal_id)
        return [self.records[(appeal_id, hop)] for hop in hops]

    async def verdict(self, action_event_id: str) -> ActionVerdict | None:
        return self.verdicts.get(action_event_id)

    async def add_verdict(self, verdict: ActionVerdict) -> bool:
        if verdict.action.event_id in self.verdicts:
            return False
        self.verdicts[verdict.action.event_id] = verdict
        return True
