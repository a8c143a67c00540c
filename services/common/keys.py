"""String `_id`s that are read as ranges.

FerretDB (the local store) answers only `_id` conditions from an index; with the project's
build patch that includes string `_id` ranges, which is how "what is due" (sla, notify) and
"everything of one appeal" (sla timers, intake timelines) are read. The patched range orders
ids by their JSON text, so range-read ids keep to characters JSON writes as themselves
([A-Za-z0-9|:._-]); a space, `"`, `\\`, `<`, `>`, `&` or a control character would not sort
as it does here.
"""

from __future__ import annotations

from datetime import UTC, datetime

RANGE_END = "~"
"""Sorts after every character a range-read id holds: the upper end of a prefix range."""


def iso_ms(moment: datetime) -> str:
    """UTC, millisecond precision (what BSON dates keep, truncated as BSON truncates), fixed
    width: sorts as time does."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def prefix_range(prefix: str) -> dict[str, str]:
    """The `_id` condition for every id starting with `prefix`."""
    return {"$gte": prefix, "$lt": prefix + RANGE_END}


def until_range(prefix: str, until: datetime) -> dict[str, str]:
    """The `_id` condition for `<prefix><moment>…` ids whose moment is at or before `until`."""
    return {"$gte": prefix, "$lt": prefix + iso_ms(until) + RANGE_END}
