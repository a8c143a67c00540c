"""The store build the project runs (deploy/local/ferretdb.sh, patches in
deploy/local/ferretdb-patches/): every `_id` condition the services rely on is served from the
`_id` index — equality beside other fields (compare-and-set), `$in`, string ranges — and a
bulk update of hundreds of statements completes (upstream FerretDB v1 hung on ~100)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, UpdateOne

from tests.conftest import Infra


@pytest.fixture
async def collection(infra: Infra, run_prefix: str, unique_id: str) -> AsyncIterator:
    client: AsyncMongoClient = AsyncMongoClient(infra.mongodb_url)
    db = client[f"{run_prefix}store-build-{unique_id}"]
    await db["docs"].insert_many([{"_id": f"k{i:04d}", "rev": 0} for i in range(1000)])
    try:
        yield db["docs"]
    finally:
        await client.drop_database(db.name)
        await client.close()


async def _plan(collection, query: dict) -> str:
    explained = await collection.database.command(
        "explain", {"find": collection.name, "filter": query}
    )
    return str(explained.get("queryPlanner"))


async def _is_ferretdb(collection) -> bool:
    info = await collection.database.client.admin.command("buildInfo")
    return "ferretdb" in info


@pytest.mark.parametrize(
    "query",
    [
        {"_id": "k0001", "rev": 0},
        {"_id": {"$in": ["k0001", "k0500", "k0999"]}},
        {"_id": {"$gte": "k0100", "$lt": "k0200"}},
    ],
    ids=["id-beside-another-field", "id-in-list", "id-string-range"],
)
async def test_id_conditions_are_served_from_the_id_index(collection, query: dict) -> None:
    expected = [d async for d in collection.find({})]
    expected = [d for d in expected if _matches(d, query)]
    assert [d async for d in collection.find(query).sort("_id", 1)] == expected
    if await _is_ferretdb(collection):
        plan = await _plan(collection, query)
        assert "USING INDEX" in plan and "SCAN" not in plan.replace("SEARCH", ""), plan


async def test_a_scan_is_still_a_scan_so_the_plan_check_can_fail(collection) -> None:
    if await _is_ferretdb(collection):
        assert "SCAN" in (await _plan(collection, {"rev": 0})).replace("SEARCH", "")


async def test_a_bulk_update_of_a_thousand_statements_completes(collection) -> None:
    result = await collection.bulk_write(
        [UpdateOne({"_id": f"k{i:04d}"}, {"$inc": {"rev": 1}}) for i in range(1000)],
        ordered=False,
    )
    assert result.modified_count == 1000
    assert await collection.count_documents({"rev": 1}) == 1000


def _matches(doc: dict, query: dict) -> bool:
    condition = query["_id"]
    if isinstance(condition, str):
        return doc["_id"] == condition and doc["rev"] == query["rev"]
    if "$in" in condition:
        return doc["_id"] in condition["$in"]
    return condition["$gte"] <= doc["_id"] < condition["$lt"]
