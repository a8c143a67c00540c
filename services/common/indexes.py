"""Index upkeep shared by the services' `ensure_indexes`."""

from __future__ import annotations

from typing import Any

from pymongo.errors import OperationFailure

INDEX_NOT_FOUND = 27


async def drop_index_if_present(collection: Any, name: str) -> None:
    """Drop an index a former version created and nothing queries any more: every index is
    maintained on every write of its collection. Absent (never created, dropped before) is
    fine."""
    try:
        await collection.drop_index(name)
    except OperationFailure as exc:
        if exc.code != INDEX_NOT_FOUND:
            raise
