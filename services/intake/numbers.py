"""The per-day sequence behind registration numbers, without find-and-modify or scans.

FerretDB v1 (SQLite) has no atomic find-and-modify across callers, and it answers only
`_id` equality from an index (any other filter scans the collection). So there is no counter
document to increment; a number is *claimed* by inserting a document whose `_id` is
`<day>-<sequence>`, and the store's unique `_id` makes two callers unable to claim the same
number. Every lookup on the registration path is by `_id`.

The appeal document (keyed by appeal id) is what binds an appeal to its number: the first
insert of it wins, a concurrent delivery of the same appeal that lost reads the winner's
number. Its own claim is then an unused number — a gap — as is a claim made just before a
crash (the redelivery claims anew). Numbers are therefore unique, stable once the appeal is
stored and increasing in the order of registration, with rare gaps; each claim keeps the
appeal id that made it, so an auditor can explain every gap.

Concurrency (issue 8: intake handles many appeals at once): the process keeps one counter
per day and takes the next number from it synchronously, so its concurrent registrations never
race each other for a number; each still inserts its own claim, which is both the proof of
uniqueness against other consumers or instances and the number → appeal index. Numbers are
then increasing in the order they were *taken*, not necessarily in the order the appeals were
stored (two appeals handled at once may be stored in either order).

Why not blocks of numbers per instance: a block would spare no write — the per-number claim
must exist anyway, as the only way to find an appeal by its number with `_id` lookups — and
within one process there is no contention left to remove. Blocks would only help several
instances numbering the same day at a high rate, at the price of a gap of up to a block at
every restart and numbers out of registration order across instances. Several instances
contend as before: one whose counter is behind loses claims, steps on to its next number, and
after `STEPS_BEFORE_RESYNC` lost claims jumps past the store's highest number.

Owns: the `registration_numbers` collection. Does not own: the number's format
(`registration.registration_number`) or the appeal itself.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.batching import StoreBatcher

REGISTRATION_NUMBERS = "registration_numbers"
# After this many claims lost in a row (another consumer or instance is numbering the same
# day), ask the store for the highest number instead of stepping one by one.
STEPS_BEFORE_RESYNC = 20
MAX_CLAIM_ATTEMPTS = 10_000

_NUMBER = re.compile(r"[A-Z]{2}-([0-9]{8})-([0-9]{6,})", re.ASCII)


async def ensure_number_indexes(db: AsyncDatabase) -> None:
    await db[REGISTRATION_NUMBERS].create_index([("day", ASCENDING), ("sequence", DESCENDING)])


def claim_id(day_key: str, sequence: int) -> str:
    return f"{day_key}-{sequence:06d}"


def claim_id_of_number(registration_number: str) -> str | None:
    """`ZH-20260305-000123` → `20260305-000123`; None when it is not a registration number."""
    match = _NUMBER.fullmatch(registration_number)
    return f"{match.group(1)}-{match.group(2)}" if match else None


class DailySequence:
    """Hands out 1, 2, 3, … per registration day; never the same number twice."""

    def __init__(self, collection: AsyncCollection, store: StoreBatcher | None = None) -> None:
        self.collection = collection
        # Claims of concurrent registrations go to the store in one command.
        self.store = store or StoreBatcher()
        # Per day, the next number this process will try. Taken and advanced without an
        # await in between, so concurrent registrations of one process never try the same
        # number; only another consumer or instance can take one first.
        self._next: dict[str, int] = {}
        self._first_read: dict[str, asyncio.Lock] = {}

    async def claim(self, appeal_id: str, day: date) -> int:
        key = f"{day:%Y%m%d}"
        await self._know_the_day(key)
        for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
            candidate = self._next[key]
            self._next[key] = candidate + 1
            claim = {"_id": claim_id(key, candidate), "day": key, "sequence": candidate}
            if await self.store.insert_once(self.collection, claim | {"appeal_id": appeal_id}):
                return candidate
            if attempt % STEPS_BEFORE_RESYNC == 0:
                self._next[key] = max(self._next[key], await self._highest(key) + 1)
        raise RuntimeError(f"no free registration number for {key} after {MAX_CLAIM_ATTEMPTS}")

    async def _know_the_day(self, key: str) -> None:
        """Where the day stands, asked of the store once per day and process (the first
        registrations of a day wait for one read instead of each scanning)."""
        if key in self._next:
            return
        lock = self._first_read.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._next:
                self._next[key] = await self._highest(key) + 1
        self._first_read.pop(key, None)

    async def appeal_of(self, registration_number: str) -> str | None:
        """The appeal id that claimed the number's sequence (the caller checks the appeal
        really carries that number: a gap's claim names an appeal numbered otherwise)."""
        key = claim_id_of_number(registration_number)
        claim = await self.collection.find_one({"_id": key}) if key else None
        return None if claim is None else claim["appeal_id"]

    async def _highest(self, key: str) -> int:
        # A scan on FerretDB; run once per day per process and after many lost claims only.
        cursor = self.collection.find({"day": key}).sort("sequence", DESCENDING).limit(1)
        latest = await cursor.to_list()
        return int(latest[0]["sequence"]) if latest else 0
