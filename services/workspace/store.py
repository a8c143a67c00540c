"""The workspace's read model of appeals (views.py), in its own database, and the lists its
pages read, each answered from `_id` (the one thing FerretDB serves from an index) — never by
reading the whole collection, which a page polled every 4 s would do thousands of times a
day:

- `appeals`, `_id` = appeal id: one document per appeal with its timeline entries (by event
  id) and the bodies it was assigned to;
- `body_appeals`, `_id` = `<body>|<appeal id>`: an entry per body the appeal was ever
  assigned to — a body's whole inbox is the `_id` range of `<body>|`;
- `open_appeals`, the same for the appeals not answered or dismissed yet — the inbox as an
  officer opens it (those the body holds now), which stays the size of the body's workload
  however long it has worked (an appeal leaves it, for every body, when it is answered or
  dismissed);
- `triage_queue`, `_id` = appeal id: the appeals waiting for the triage desk;
- `escalated_appeals`, `_id` = `<body>|<appeal id>`: a body a breach of it was escalated to;
- `registration_numbers`, `_id` = registration number: the appeal id, for "find by number".

`apply` writes an appeal's new list entries (and takes it off the queue) first, its view
after; readers take the listed appeals' views and keep those the view agrees with — so what a
crash between the writes leaves shows nothing wrong, and the redelivered event (its offset
was not committed) completes them. Lists only grow, except the queue and the open appeals.
A database made before the lists (or before a list was added) is listed once at start
(`list_existing`).

Updated by this process's consumer only, one appeal at a time (the keyed batches and a
per-appeal lock: a read, the fold, the writes). One workspace instance at a time (README).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts import Event
from services.common.batching import KeyedLock
from services.common.messaging import insert_once
from services.workspace.views import FINAL, AppealView, applied, view_document, view_from

APPEALS = "appeals"
BODY_APPEALS, OPEN_APPEALS, TRIAGE_QUEUE = "body_appeals", "open_appeals", "triage_queue"
ESCALATED, NUMBERS = "escalated_appeals", "registration_numbers"
LISTS_MADE = "lists_made"
LISTS_VERSION = "lists-2"
"""A document of this id in `lists_made` once the lists (of this version: 2 added the open
appeals) hold every appeal of the database."""


class AppealViews:
    def __init__(self, db: AsyncDatabase) -> None:
        self.appeals = db[APPEALS]
        self.body_appeals = db[BODY_APPEALS]
        self.open_appeals = db[OPEN_APPEALS]
        self.triage_queue = db[TRIAGE_QUEUE]
        self.escalated = db[ESCALATED]
        self.numbers = db[NUMBERS]
        self.lists_made = db[LISTS_MADE]
        self._locks = KeyedLock()

    async def apply(self, event: Event) -> bool:
        """Fold `event` into its appeal's view; False when it shows nothing new."""
        async with self._locks(event.appeal_id):
            found = await self.appeals.find_one({"_id": event.appeal_id})
            view = view_from(found) if found else None
            after = applied(view, event)
            if after is None or after == view:
                return False
            # The fold once per view: every list below is decided from these two.
            was, now = (_Listing.of(view) if view else NOT_LISTED), _Listing.of(after)
            await self._list(after.appeal_id, was, now)
            if was.waiting and not now.waiting:
                await self.triage_queue.delete_one({"_id": after.appeal_id})
            if view is not None and not was.final and now.final:
                ids = [f"{body}|{after.appeal_id}" for body in now.bodies]
                await self.open_appeals.delete_many({"_id": {"$in": ids}})
            await self.appeals.replace_one(
                {"_id": event.appeal_id}, view_document(after), upsert=True
            )
            return True

    async def _list(self, appeal: str, was: _Listing, now: _Listing) -> None:
        """The list entries the appeal has `now` and had not before (idempotent)."""
        new_bodies = [body for body in now.bodies if body not in was.bodies]
        entries: list[tuple[AsyncCollection, dict]] = [
            (self.body_appeals, {"_id": f"{body}|{appeal}"}) for body in new_bodies
        ]
        if not now.final:
            entries += [(self.open_appeals, {"_id": f"{body}|{appeal}"}) for body in new_bodies]
        entries += [
            (self.escalated, {"_id": f"{body}|{appeal}"})
            for body in now.escalated_to
            if body not in was.escalated_to
        ]
        if now.waiting and not was.waiting:
            entries.append((self.triage_queue, {"_id": appeal}))
        if now.number and now.number != was.number:
            entries.append((self.numbers, {"_id": now.number, "appeal_id": appeal}))
        for collection, entry in entries:
            await insert_once(collection, entry)

    async def list_existing(self) -> int:
        """List every appeal already in the database (a database made before the lists);
        once: later starts find `lists_made` and do nothing. The number of appeals listed."""
        if await self.lists_made.find_one({"_id": LISTS_VERSION}) is not None:
            return 0
        listed = 0
        async for document in self.appeals.find({}):
            view = view_from(document)
            await self._list(view.appeal_id, NOT_LISTED, _Listing.of(view))
            listed += 1
        await insert_once(self.lists_made, {"_id": LISTS_VERSION})
        return listed

    async def get(self, appeal_id: str) -> AppealView | None:
        found = await self.appeals.find_one({"_id": appeal_id})
        return view_from(found) if found else None

    async def of_bodies(self, agency_codes: set[str]) -> list[AppealView]:
        """The appeals ever assigned to any of these bodies."""
        ids = await _listed(self.body_appeals, agency_codes)
        views = await self._views(ids)
        return [v for v in views if agency_codes & set(v.bodies)]

    async def open_of_bodies(self, agency_codes: set[str]) -> list[AppealView]:
        """The appeals these bodies hold now, not answered or dismissed yet (one a body
        redirected elsewhere is the next body's)."""
        ids = await _listed(self.open_appeals, agency_codes)
        views = await self._views(ids)
        return [v for v in views if _holds_open(v, agency_codes)]

    async def escalated_to(self, agency_code: str) -> list[AppealView]:
        """The appeals a breach of which was escalated to this body (or its head)."""
        views = await self._views(await _listed(self.escalated, {agency_code}))
        return [v for v in views if agency_code in v.escalated_to]

    async def in_triage(self) -> list[AppealView]:
        ids = [d["_id"] async for d in self.triage_queue.find({})]
        return [v for v in await self._views(ids) if _waiting(v)]

    async def by_number(self, registration_number: str) -> AppealView | None:
        entry = await self.numbers.find_one({"_id": registration_number})
        view = await self.get(entry["appeal_id"]) if entry else None
        return view if view and view.registration_number == registration_number else None

    async def many(self, appeal_ids: list[str]) -> list[AppealView]:
        """These appeals' views, in the order asked (an unknown one: an empty view)."""
        found = {v.appeal_id: v for v in await self._views(appeal_ids)}
        return [found.get(a) or AppealView(a) for a in appeal_ids]

    async def _views(self, appeal_ids: list[str]) -> list[AppealView]:
        """The views of these appeals that exist (one read)."""
        if not appeal_ids:
            return []
        cursor = self.appeals.find({"_id": {"$in": appeal_ids}})
        return [view_from(d) async for d in cursor]


@dataclass(frozen=True)
class _Listing:
    """What decides an appeal's list entries, folded from its view once."""

    bodies: tuple[str, ...] = ()
    escalated_to: tuple[str, ...] = ()
    waiting: bool = False
    final: bool = False
    number: str = ""

    @classmethod
    def of(cls, view: AppealView) -> _Listing:
        status = view.state()["status"]
        return cls(
            view.bodies,
            view.escalated_to,
            status == "in_triage",
            status in FINAL,
            view.registration_number,
        )


NOT_LISTED = _Listing()
"""An appeal the store had no view of yet."""


def _waiting(view: AppealView) -> bool:
    return view.state()["status"] == "in_triage"


def _holds_open(view: AppealView, bodies: set[str]) -> bool:
    state = view.state()
    return state["status"] not in FINAL and state["holder"] in bodies


async def _listed(collection: AsyncCollection, bodies: set[str]) -> list[str]:
    """The appeal ids listed under any of `bodies` (`<body>|<appeal id>`): one `_id` range
    read per body."""
    ids: list[str] = []
    for body in sorted(bodies):
        prefix = f"{body}|"
        # '|' + 1 is '}': every id that starts with the prefix, and nothing else.
        cursor = collection.find({"_id": {"$gte": prefix, "$lt": f"{body}}}"}})
        ids += [d["_id"][len(prefix) :] async for d in cursor]
    return ids
