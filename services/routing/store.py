"""Routing's own database: every decision it made, and the appeal it made them for.

Owns: the `decisions` collection of the `routing` database: one document per (appeal, hop)
— `_id` = deterministic_id("routing.decision", appeal id, hop) — holding the outcome (routed
or triaged), the rule, the cause and the very events published for it; hop 0 also keeps the
registered appeal as routing received it, so a later redirect or triage decision is routed
without asking intake. The unique `_id` is what makes a decision happen once: a redelivered
cause finds its decision and republishes the stored events (same ids).
Stored decisions are never rewritten; a registry or rule change affects only new decisions.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts import deterministic_id
from services.common.batching import StoreBatcher
from services.common.indexes import drop_index_if_present

DECISIONS = "decisions"


def decision_key(appeal_id: str, hop: int) -> str:
    return deterministic_id("routing.decision", appeal_id, str(hop))


async def ensure_indexes(db: AsyncDatabase) -> None:
    # No (appeal_id, hop) index any more: an appeal's decisions are read by `_id` (history).
    await drop_index_if_present(db[DECISIONS], "appeal_id_1_hop_1")


class DecisionStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.decisions = db[DECISIONS]
        # Decisions of appeals routed at once reach the store in one command.
        self.batcher = StoreBatcher()

    async def decision(self, appeal_id: str, hop: int) -> dict[str, Any] | None:
        return await self.batcher.find_by_id(self.decisions, decision_key(appeal_id, hop))

    async def history(self, appeal_id: str) -> list[dict[str, Any]]:
        """Every decision for the appeal, oldest (hop 0) first.

        Read by `_id`: a hop is always the last one + 1, so the hops are 0..n without gaps and
        their keys are known; they are read eight keys at a time until a chunk comes
        back short. (FerretDB serves `_id` `$in` lists from its index; a filter on `appeal_id`
        would read every decision ever made.)"""
        found: list[dict[str, Any]] = []
        while True:
            keys = [decision_key(appeal_id, hop) for hop in range(len(found), len(found) + 8)]
            chunk = await self.decisions.find({"_id": {"$in": keys}}).to_list(None)
            found += chunk
            if len(chunk) < len(keys):
                return sorted(found, key=lambda doc: doc["hop"])

    async def insert(self, document: dict[str, Any]) -> bool:
        """True if this call stored the decision; False if one for that hop existed."""
        return await self.batcher.insert_once(self.decisions, document)
