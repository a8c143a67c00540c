"""The per-day registration number sequence against the real store (FerretDB has no atomic
find-and-modify): concurrent claims never share a number, each day counts from 1, and a
number leads back to the appeal that claimed it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import TYPE_CHECKING

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.numbers import REGISTRATION_NUMBERS, DailySequence, ensure_number_indexes

if TYPE_CHECKING:
    from tests.conftest import Infra

DAY = date(2026, 3, 26)


@pytest.fixture
async def database(infra: Infra, run_prefix: str, unique_id: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    db = client[f"{run_prefix}numbers-{unique_id}"]
    await ensure_number_indexes(db)
    try:
        yield db
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_concurrent_appeals_get_consecutive_distinct_numbers(database: AsyncDatabase) -> None:
    # Three independent sequences (as three consumers or instances would have) race.
    sequences = [DailySequence(database[REGISTRATION_NUMBERS]) for _ in range(3)]
    numbers = await asyncio.gather(*(sequences[n % 3].claim(f"appeal-{n}", DAY) for n in range(30)))
    assert sorted(numbers) == list(range(1, 31))


async def test_a_fresh_process_continues_after_the_highest_number_of_the_day(
    database: AsyncDatabase,
) -> None:
    first = DailySequence(database[REGISTRATION_NUMBERS])
    assert [await first.claim(f"a-{n}", DAY) for n in range(3)] == [1, 2, 3]
    # After a restart there is no hint in memory: the store says where the day stands.
    assert await DailySequence(database[REGISTRATION_NUMBERS]).claim("b", DAY) == 4
    assert await first.claim("c", DAY) == 5  # a stale hint steps past what others took


async def test_a_registration_number_leads_back_to_the_appeal_that_claimed_it(
    database: AsyncDatabase,
) -> None:
    sequence = DailySequence(database[REGISTRATION_NUMBERS])
    assert await sequence.claim("the-appeal", DAY) == 1
    assert await sequence.appeal_of("ZH-20260326-000001") == "the-appeal"
    assert await sequence.appeal_of("ZH-20260326-000002") is None
    assert await sequence.appeal_of("not a number") is None


async def test_each_registration_day_has_its_own_sequence(database: AsyncDatabase) -> None:
    sequence = DailySequence(database[REGISTRATION_NUMBERS])
    assert await sequence.claim("a", DAY) == 1
    assert await sequence.claim("b", date(2026, 3, 27)) == 1
    assert await sequence.claim("c", DAY) == 2
