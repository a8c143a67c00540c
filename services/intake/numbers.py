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

Owns: handing out the sequence (the claims are kept by the store: `IntakeStore.claim_number`,
the `registration_numbers` collection). Does not own: the number's format
(`registration.registration_number`) or the appeal itself.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date

from services.intake.store import IntakeStore

# After this many claims lost in a row (another consumer or instance is numbering the same
# day), ask the store for the highest number instead of stepping one by one.
STEPS_BEFORE_RESYNC = 20
MAX_CLAIM_ATTEMPTS = 10_000

_NUMBER = re.compile(r"[A-Z]{2}-([0-9]{8})-([0-9]{6,})", re.ASCII)


def day_and_sequence(registration_number: str) -> tuple[str, int] | None:
    """`ZH-20260305-000123` → ("20260305", 123); None when it is not a registration number."""
    match = _NUMBER.fullmatch(registration_number)
    return (match.group(1), int(match.group(2))) if match else None


class DailySequence:
    """Hands out 1, 2, 3, … per registration day; never the same number twice."""

    def __init__(self, store: IntakeStore) -> None:
        self.store = store
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
            if await self.store.claim_number(key, candidate, appeal_id):
                return candidate
            if attempt % STEPS_BEFORE_RESYNC == 0:
                self._next[key] = max(self._next[key], await self.store.highest_number(key) + 1)
        raise RuntimeError(f"no free registration number for {key} after {MAX_CLAIM_ATTEMPTS}")

    async def _know_the_day(self, key: str) -> None:
        """Where the day stands, asked of the store once per day and process (the first
        registrations of a day wait for one read instead of each scanning)."""
        if key in self._next:
            return
        lock = self._first_read.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._next:
                self._next[key] = await self.store.highest_number(key) + 1
        self._first_read.pop(key, None)

    async def appeal_of(self, registration_number: str) -> str | None:
        """The appeal id that claimed the number's sequence (the caller checks the appeal
        really carries that number: a gap's claim names an appeal numbered otherwise)."""
        parsed = day_and_sequence(registration_number)
        return await self.store.claimant(*parsed) if parsed else None
