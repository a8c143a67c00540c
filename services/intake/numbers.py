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

Owns: the `registration_numbers` collection. Does not own: the number's format
(`registration.registration_number`) or the appeal itself.
"""

from __future__ import annotations

import re
from datetime import date

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.common.messaging import insert_once

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

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection
        # A hint, not the truth: the next number this process expects to be free per day.
        self._next: dict[str, int] = {}

    async def claim(self, appeal_id: str, day: date) -> int:
        key = f"{day:%Y%m%d}"
        candidate = self._next.get(key) or await self._highest(key) + 1
        for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
            claim = {"_id": claim_id(key, candidate), "day": key, "sequence": candidate}
            if await insert_once(self.collection, claim | {"appeal_id": appeal_id}):
                self._next[key] = candidate + 1
                return candidate
            if attempt % STEPS_BEFORE_RESYNC == 0:
                candidate = max(candidate, await self._highest(key)) + 1
            else:
                candidate += 1
        raise RuntimeError(f"no free registration number for {key} after {MAX_CLAIM_ATTEMPTS}")

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
