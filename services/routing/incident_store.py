"""Where routing's incident detector keeps what it knows (services/routing/incidents.py):

- `incident_keys`, `_id` = cluster key: the key's groups (anchor, members, incident id);
  written by the one consumer of that key's sightings only (one writer per document);
- `incidents`, `_id` = incident id: its key, body, category, district, rule, anchor,
  members and when it opened — written by the detector, read by the gate that answers it;
- `incident_resolutions`, `_id` = incident id: the `incident.resolved` event, inserted once
  by the gate (a second answer finds it and republishes it);
- `incident_closed`, `_id` = incident id: written by the gate *before* it answers the
  members, so the detector stops growing the incident first (no member joins unanswered);
- `incident_sighted`, `_id` = appeal id: a sighting fully handled — the detector's memory of
  what it has seen, which outlives the key's groups (a replay of a backlog whose groups have
  closed since does not open them again).

Every read and write is by `_id` (what FerretDB serves from an index). `MemoryIncidentStore`
keeps the same in dicts, for unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from contracts import Category, GeoPoint, IncidentMember, IncidentResolved
from services.common.messaging import insert_once
from services.routing.incidents import Group, KeyState, Sighting

KEYS, INCIDENTS, RESOLUTIONS = "incident_keys", "incidents", "incident_resolutions"
SIGHTED, CLOSED = "incident_sighted", "incident_closed"


@dataclass(frozen=True)
class IncidentRecord:
    incident_id: str
    cluster_key: str
    agency_code: str
    category: Category
    district_kato: str
    rule: str
    anchor: GeoPoint | None
    members: tuple[IncidentMember, ...]
    opened_at: datetime


class IncidentStore(Protocol):
    async def key_state(self, key: str) -> KeyState: ...

    async def save_key_state(self, key: str, state: KeyState) -> None: ...

    async def incident(self, incident_id: str) -> IncidentRecord | None: ...

    async def save_incident(self, record: IncidentRecord) -> None:
        """Store it whole (it grows by being saved again)."""
        ...

    async def resolution(self, incident_id: str) -> IncidentResolved | None: ...

    async def close(self, incident_id: str) -> None:
        """It grows no more (idempotent)."""
        ...

    async def closed(self, incident_id: str) -> bool: ...

    async def mark_sighted(self, appeal_id: str) -> None:
        """Its sighting is handled (idempotent)."""
        ...

    async def sighted(self, appeal_id: str) -> bool: ...

    async def add_resolution(self, resolved: IncidentResolved) -> bool:
        """True if this call stored it; False if the incident was resolved before."""
        ...


def _point(data: dict[str, Any] | None) -> GeoPoint | None:
    return GeoPoint.model_validate(data) if data else None


def _sighting_document(s: Sighting) -> dict[str, Any]:
    return {
        "appeal_id": s.appeal_id,
        "registration_number": s.registration_number,
        "received_at": s.received_at.isoformat(),
        "location": s.location.model_dump() if s.location else None,
    }


def _sighting(d: dict[str, Any]) -> Sighting:
    return Sighting(
        d["appeal_id"],
        d["registration_number"],
        datetime.fromisoformat(d["received_at"]),
        _point(d["location"]),
    )


def state_document(state: KeyState) -> list[dict[str, Any]]:
    return [
        {
            "anchor": g.anchor.model_dump() if g.anchor else None,
            "incident_id": g.incident_id,
            "members": [_sighting_document(m) for m in g.members],
        }
        for g in state.groups
    ]


def state_from(groups: list[dict[str, Any]]) -> KeyState:
    return KeyState(
        tuple(
            Group(_point(g["anchor"]), tuple(_sighting(m) for m in g["members"]), g["incident_id"])
            for g in groups
        )
    )


def incident_document(r: IncidentRecord) -> dict[str, Any]:
    return {
        "_id": r.incident_id,
        "cluster_key": r.cluster_key,
        "agency_code": r.agency_code,
        "category": r.category.value,
        "district_kato": r.district_kato,
        "rule": r.rule,
        "anchor": r.anchor.model_dump() if r.anchor else None,
        "members": [m.model_dump(mode="json") for m in r.members],
        "opened_at": r.opened_at.isoformat(),
    }


def incident_from(d: dict[str, Any]) -> IncidentRecord:
    return IncidentRecord(
        incident_id=d["_id"],
        cluster_key=d["cluster_key"],
        agency_code=d["agency_code"],
        category=Category(d["category"]),
        district_kato=d["district_kato"],
        rule=d["rule"],
        anchor=_point(d["anchor"]),
        members=tuple(IncidentMember.model_validate(m) for m in d["members"]),
        opened_at=datetime.fromisoformat(d["opened_at"]),
    )


class MongoIncidentStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.keys, self.incidents = db[KEYS], db[INCIDENTS]
        self.resolutions = db[RESOLUTIONS]
        self.closings, self.sightings = db[CLOSED], db[SIGHTED]

    async def close(self, incident_id: str) -> None:
        await insert_once(self.closings, {"_id": incident_id})

    async def closed(self, incident_id: str) -> bool:
        return await self.closings.find_one({"_id": incident_id}) is not None

    async def mark_sighted(self, appeal_id: str) -> None:
        await insert_once(self.sightings, {"_id": appeal_id})

    async def sighted(self, appeal_id: str) -> bool:
        return await self.sightings.find_one({"_id": appeal_id}) is not None

    async def key_state(self, key: str) -> KeyState:
        found = await self.keys.find_one({"_id": key})
        return state_from(found["groups"]) if found else KeyState()

    async def save_key_state(self, key: str, state: KeyState) -> None:
        await self.keys.replace_one(
            {"_id": key}, {"_id": key, "groups": state_document(state)}, upsert=True
        )

    async def incident(self, incident_id: str) -> IncidentRecord | None:
        found = await self.incidents.find_one({"_id": incident_id})
        return incident_from(found) if found else None

    async def save_incident(self, record: IncidentRecord) -> None:
        document = incident_document(record)
        await self.incidents.replace_one({"_id": record.incident_id}, document, upsert=True)

    async def resolution(self, incident_id: str) -> IncidentResolved | None:
        found = await self.resolutions.find_one({"_id": incident_id})
        return IncidentResolved.model_validate(found["event"]) if found else None

    async def add_resolution(self, resolved: IncidentResolved) -> bool:
        document = {"_id": resolved.incident_id, "event": resolved.model_dump(mode="json")}
        return await insert_once(self.resolutions, document)


class MemoryIncidentStore:
    def __init__(self) -> None:
        self.keys: dict[str, KeyState] = {}
        self.incidents: dict[str, IncidentRecord] = {}
        self.resolutions: dict[str, IncidentResolved] = {}
        self.closings: set[str] = set()
        self.sightings: set[str] = set()

    async def close(self, incident_id: str) -> None:
        self.closings.add(incident_id)

    async def closed(self, incident_id: str) -> bool:
        return incident_id in self.closings

    async def mark_sighted(self, appeal_id: str) -> None:
        self.sightings.add(appeal_id)

    async def sighted(self, appeal_id: str) -> bool:
        return appeal_id in self.sightings

    async def key_state(self, key: str) -> KeyState:
        return self.keys.get(key, KeyState())

    async def save_key_state(self, key: str, state: KeyState) -> None:
        self.keys[key] = state

    async def incident(self, incident_id: str) -> IncidentRecord | None:
        return self.incidents.get(incident_id)

    async def save_incident(self, record: IncidentRecord) -> None:
        self.incidents[record.incident_id] = record

    async def resolution(self, incident_id: str) -> IncidentResolved | None:
        return self.resolutions.get(incident_id)

    async def add_resolution(self, resolved: IncidentResolved) -> bool:
        if resolved.incident_id in self.resolutions:
            return False
        self.resolutions[resolved.incident_id] = resolved
        return True
