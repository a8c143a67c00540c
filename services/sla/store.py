"""The `timers` and `pending_actions` collections of the SLA database, and the one way a
timer document is changed: compare-and-set on its revision.

Owns: indexes, queries (never "all timers": only due documents of given shards, sorted and
bounded), optimistic updates. Does not decide anything; `schedule` and `service` do.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from services.common.messaging import insert_once
from services.sla.schedule import BREACHED, OPEN

TIMERS = "timers"
PENDING_ACTIONS = "pending_actions"

log = logging.getLogger("tyndau.sla.store")

Mutation = Callable[[dict[str, Any]], dict[str, Any] | None]


class ConcurrentUpdate(RuntimeError):
    """A timer kept changing under us; the message is redelivered and tried again."""


async def ensure_indexes(db: AsyncDatabase) -> None:
    # The firing loop asks "open timers of shard p due by t, soonest first".
    await db[TIMERS].create_index(
        [("shard", ASCENDING), ("state", ASCENDING), ("next_fire_at", ASCENDING)]
    )
    # Agency actions find an appeal's timers.
    await db[TIMERS].create_index([("appeal_id", ASCENDING)])
    await db[PENDING_ACTIONS].create_index([("appeal_id", ASCENDING)])


class TimerStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.timers = db[TIMERS]
        self.pending = db[PENDING_ACTIONS]

    async def insert(self, timer: dict[str, Any]) -> bool:
        return await insert_once(self.timers, timer)

    async def get(self, timer_id: str) -> dict[str, Any] | None:
        return await self.timers.find_one({"_id": timer_id})

    async def of_appeal(self, appeal_id: str) -> list[dict[str, Any]]:
        return await self.timers.find({"appeal_id": appeal_id}).to_list(None)

    async def due(self, shards: Iterable[int], until: datetime, limit: int) -> list[dict[str, Any]]:
        """Open timers of `shards` whose next moment is at or before `until`, soonest first
        (MongoDB merges the per-shard index ranges; one query per pass however many shards)."""
        query = {"shard": {"$in": sorted(shards)}, "state": OPEN, "next_fire_at": {"$lte": until}}
        cursor = self.timers.find(query).sort("next_fire_at", ASCENDING).limit(limit)
        return await cursor.to_list(limit)

    async def update(self, timer_id: str, mutate: Mutation) -> tuple[dict[str, Any] | None, bool]:
        """Apply `mutate` (fresh document → fields to set, or None for "nothing to do") with
        compare-and-set on `rev`; re-read and re-decide on a conflict.

        Returns the document as last seen (after the change, if one was made) and whether this
        call changed it. The write carries a unique token that is read back: on a store whose
        single-document update is not atomic across callers (FerretDB v1 on SQLite) a write
        that another writer overwrote in the same instant is detected and decided again.
        """
        for attempt in range(20):
            try:
                timer = await self.get(timer_id)
                if timer is None:
                    return None, False
                changes = mutate(timer)
                if changes is None:
                    return timer, False
                token = uuid.uuid4().hex
                result = await self.timers.update_one(
                    {"_id": timer_id, "rev": timer["rev"]},
                    {"$set": {**changes, "write_token": token}, "$inc": {"rev": 1}},
                )
                if result.matched_count == 1:
                    written = await self.get(timer_id)
                    if written is not None and written.get("write_token") == token:
                        return written, True
            except OperationFailure as exc:
                # e.g. FerretDB/SQLite "database is locked" under concurrent writers; the
                # compare-and-set makes a retry safe.
                if attempt >= 5:
                    raise
                log.warning("timer %s update failed (%s), retrying", timer_id, exc.code)
                await asyncio.sleep(0.05 * 2**attempt)
        raise ConcurrentUpdate(f"timer {timer_id} kept changing; giving up for now")

    async def count_tracked(self, shards: Iterable[int]) -> list[Mapping[str, Any]]:
        """Open and breached timers of `shards`, counted by kind, body and state."""
        pipeline = [
            {"$match": {"shard": {"$in": list(shards)}, "state": {"$in": [OPEN, BREACHED]}}},
            {
                "$group": {
                    "_id": {"kind": "$kind", "agency_code": "$agency_code", "state": "$state"},
                    "count": {"$sum": 1},
                }
            },
        ]
        cursor = await self.timers.aggregate(pipeline)
        return await cursor.to_list(None)

    # --- actions that arrived before the timer they concern ---------------------------------

    async def park(self, action_event_id: str, appeal_id: str, action_json: str, at: datetime):
        await insert_once(
            self.pending,
            {"_id": action_event_id, "appeal_id": appeal_id, "action": action_json, "at": at},
        )

    async def parked(self, appeal_id: str) -> list[dict[str, Any]]:
        docs = await self.pending.find({"appeal_id": appeal_id}).to_list(None)
        return sorted(docs, key=lambda d: d["at"])

    async def forget_parked(self, appeal_id: str) -> None:
        await self.pending.delete_many({"appeal_id": appeal_id})
