"""Routing's own database: every decision it made, and the appeal it made them for.

`DecisionStore` is the port the service uses; `MongoDecisionStore` keeps the records in the
`decisions` collection of the `routing` database, `memory.MemoryDecisionStore` in a dict
(unit tests, the in-memory scenario suite). Both promise the same: a record is stored once
per (appeal, hop) — the second insert of a hop returns False and changes nothing — and an
appeal's history comes back oldest (hop 0) first.

Also the verdicts on bodies' decisions (`action_verdicts`, `_id` = the decision's event id):
passed on or refused, with the decision and the refusal told, so a redelivery repeats them.

Layout in MongoDB: one document per (appeal, hop), `_id` = deterministic_id("routing.decision",
appeal id, hop), holding the outcome, the rule, the cause and the very events published for
it (as JSON-mode dicts); hop 0 also `registered`. The unique `_id` is what makes a decision
happen once: a redelivered cause finds its decision and republishes the stored events (same
ids). Stored decisions are never rewritten; a registry or rule change affects only new ones.
"""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from contracts import (
    AGENCY_ACTION_ADAPTER,
    AgencyActionRefused,
    AgencyAssignment,
    AppealDismissed,
    AppealRegistered,
    AppealRouted,
    AppealTriaged,
    Category,
    deterministic_id,
)
from services.common.batching import StoreBatcher
from services.common.indexes import drop_index_if_present
from services.routing.records import ActionVerdict, DecisionRecord

DECISIONS = "decisions"
VERDICTS = "action_verdicts"


class DecisionStore(Protocol):
    async def insert(self, record: DecisionRecord) -> bool:
        """True if this call stored the record; False if one for that hop existed."""
        ...

    async def decision(self, appeal_id: str, hop: int) -> DecisionRecord | None: ...

    async def history(self, appeal_id: str) -> list[DecisionRecord]:
        """Every decision for the appeal, oldest (hop 0) first."""
        ...

    async def verdict(self, action_event_id: str) -> ActionVerdict | None: ...

    async def add_verdict(self, verdict: ActionVerdict) -> bool:
        """True if this call stored it; False if a verdict on that event id existed."""
        ...


def decision_key(appeal_id: str, hop: int) -> str:
    return deterministic_id("routing.decision", appeal_id, str(hop))


async def ensure_indexes(db: AsyncDatabase) -> None:
    # No (appeal_id, hop) index any more: an appeal's decisions are read by `_id` (history).
    await drop_index_if_present(db[DECISIONS], "appeal_id_1_hop_1")


_EVENTS = {
    "routed": AppealRouted,
    "assignment": AgencyAssignment,
    "triaged": AppealTriaged,
    "dismissed": AppealDismissed,
    "registered": AppealRegistered,
}
# What a decision document keeps: not the assignment, which is the appeal again and is
# rebuilt from hop 0's `registered` and the routed event (service.assignment_for); decisions
# stored before that still carry one and read as they are.
_STORED_EVENTS = ("routed", "triaged", "dismissed", "registered")


def to_document(record: DecisionRecord) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": decision_key(record.appeal_id, record.hop),
        "appeal_id": record.appeal_id,
        "hop": record.hop,
        "trigger": record.trigger,
        "cause_event_id": record.cause_event_id,
        "cause_key": record.cause_key,
        "category": record.category.value,
        "declined_by": list(record.declined_by),
        "decided_at": record.decided_at,
        "outcome": record.outcome,
        "event_id": record.event_id,
        "agency_code": record.agency_code,
    }
    if record.is_routed:
        document |= {
            "level": record.level,
            "rule_id": record.rule_id,
            "rule_version": record.rule_version,
            "forwarded": record.forwarded,
        }
    else:
        document["reason_code"] = record.reason_code
    for field in _STORED_EVENTS:
        if (event := getattr(record, field)) is not None:
            document[field] = event.model_dump(mode="json")
    return document


def from_document(document: dict[str, Any]) -> DecisionRecord:
    events = {
        field: model.model_validate(document[field])
        for field, model in _EVENTS.items()
        if document.get(field) is not None
    }
    return DecisionRecord(
        appeal_id=document["appeal_id"],
        hop=document["hop"],
        trigger=document["trigger"],
        cause_event_id=document["cause_event_id"],
        cause_key=document["cause_key"],
        category=Category(document["category"]),
        declined_by=tuple(document["declined_by"]),
        decided_at=document["decided_at"],
        outcome=document["outcome"],
        event_id=document["event_id"],
        agency_code=document.get("agency_code"),
        level=document.get("level"),
        rule_id=document.get("rule_id"),
        rule_version=document.get("rule_version"),
        forwarded=bool(document.get("forwarded", False)),
        reason_code=document.get("reason_code"),
        **events,
    )


def verdict_document(verdict: ActionVerdict) -> dict[str, Any]:
    return {
        "_id": verdict.action.event_id,
        "acting_agency": verdict.acting_agency,
        "appeal_id": verdict.action.appeal_id,
        "decided_at": verdict.decided_at,
        "action": verdict.action.model_dump(mode="json"),
        "refusal": verdict.refusal.model_dump(mode="json") if verdict.refusal else None,
    }


def verdict_from_document(document: dict[str, Any]) -> ActionVerdict:
    refusal = document.get("refusal")
    return ActionVerdict(
        action=AGENCY_ACTION_ADAPTER.validate_python(document["action"]),
        acting_agency=document["acting_agency"],
        decided_at=document["decided_at"],
        refusal=AgencyActionRefused.model_validate(refusal) if refusal else None,
    )


class MongoDecisionStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.verdicts = db[VERDICTS]
        self.decisions = db[DECISIONS]
        # Decisions of appeals routed at once reach the store in one command.
        self.batcher = StoreBatcher()

    async def insert(self, record: DecisionRecord) -> bool:
        return await self.batcher.insert_once(self.decisions, to_document(record))

    async def decision(self, appeal_id: str, hop: int) -> DecisionRecord | None:
        found = await self.batcher.find_by_id(self.decisions, decision_key(appeal_id, hop))
        return from_document(found) if found else None

    async def history(self, appeal_id: str) -> list[DecisionRecord]:
        """Read by `_id`: a hop is always the last one + 1, so the hops are 0..n without
        gaps and their keys are known; they are read eight keys at a time until a chunk
        comes back short. (FerretDB serves `_id` `$in` lists from its index; a filter on
        `appeal_id` would read every decision ever made.)"""
        found: list[dict[str, Any]] = []
        while True:
            keys = [decision_key(appeal_id, hop) for hop in range(len(found), len(found) + 8)]
            chunk = await self.decisions.find({"_id": {"$in": keys}}).to_list(None)
            found += chunk
            if len(chunk) < len(keys):
                return [from_document(d) for d in sorted(found, key=lambda d: d["hop"])]

    async def verdict(self, action_event_id: str) -> ActionVerdict | None:
        found = await self.batcher.find_by_id(self.verdicts, action_event_id)
        return verdict_from_document(found) if found else None

    async def add_verdict(self, verdict: ActionVerdict) -> bool:
        return await self.batcher.insert_once(self.verdicts, verdict_document(verdict))
