"""The workspace's read model of appeals (views.py), in its own database: `appeals`,
`_id` = appeal id, one document per appeal with its timeline entries (by event id) and the
bodies it was assigned to. Updated by this process's consumer only, one appeal at a time
(the keyed batches and a per-appeal lock: a read, the fold, a replace). An officer's inbox
is the appeals whose `bodies` hold the officer's body — a filter FerretDB answers by reading
the collection: fine for the thousands of appeals a workspace holds, the next step at scale
is an inbox document per body. One workspace instance at a time (documented in the README).
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from contracts import Event
from services.common.batching import KeyedLock
from services.workspace.views import AppealView, applied, view_document, view_from

APPEALS = "appeals"


class AppealViews:
    def __init__(self, db: AsyncDatabase) -> None:
        self.appeals = db[APPEALS]
        self._locks = KeyedLock()

    async def apply(self, event: Event) -> bool:
        """Fold `event` into its appeal's view; False when it shows nothing new."""
        async with self._locks(event.appeal_id):
            found = await self.appeals.find_one({"_id": event.appeal_id})
            view = view_from(found) if found else None
            after = applied(view, event)
            if after is None or after == view:
                return False
            await self.appeals.replace_one(
                {"_id": event.appeal_id}, view_document(after), upsert=True
            )
            return True

    async def get(self, appeal_id: str) -> AppealView | None:
        found = await self.appeals.find_one({"_id": appeal_id})
        return view_from(found) if found else None

    async def of_bodies(self, agency_codes: set[str]) -> list[AppealView]:
        """The appeals ever assigned to any of these bodies (one read)."""
        cursor = self.appeals.find({"bodies": {"$in": sorted(agency_codes)}})
        return [view_from(d) async for d in cursor]

    async def escalated_to(self, agency_code: str) -> list[AppealView]:
        """The appeals a breach of which was escalated to this body (or its head)."""
        return [view_from(d) async for d in self.appeals.find({"escalated_to": agency_code})]

    async def many(self, appeal_ids: list[str]) -> list[AppealView]:
        """These appeals' views, in the order asked (an unknown one: an empty view)."""
        found = {
            d["_id"]: view_from(d) async for d in self.appeals.find({"_id": {"$in": appeal_ids}})
        }
        return [found.get(a) or AppealView(a) for a in appeal_ids]

    async def in_triage(self) -> list[AppealView]:
        return [view_from(d) async for d in self.appeals.find({"in_triage": True})]

    async def by_number(self, registration_number: str) -> AppealView | None:
        found = await self.appeals.find_one({"registration_number": registration_number})
        return view_from(found) if found else None
