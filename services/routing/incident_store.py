"""Where routing's incident detector keeps what it knows (services/routing/incidents.py):

- `incident_keys`, `_id` = cluster key: the key's groups (anchor, members, incident id);
  written by the one consumer of that key's sightings only (one writer per document);
- `incidents`, `_id` = incident id: its key, body, category, district, rule, anchor and
  when it opened — written once, when it opens;
- `incident_members`, `_id` = `<incident id>|<received at>|<appeal id>`: one document per
  member, inserted once (an incident of 400 appeals is 400 small inserts, not a document
  rewritten 400 times); the gate reads them as the `_id` range of the incident;
- `incident_resolutions`, `_id` = incident id: the `incident.resolved` event, inserted once
  by the gate (a second answer finds it and republishes it);
- `incident_closed`, `_id` = incident id: written by the gate *before* it answers the
  members, so the detector stops growing the incident first (no member joins unanswered);
- `incident_keys` also names the sightings its last write observed (`recent`), marked
  handled right after it;
- `incident_sighted`, `_id` = appeal id: a sighting fully handled — the detector's memory of
  what it has seen, which outlives the key's groups (a replay of a backlog whose groups have
  closed since does not open them again).

Every read and write is by `_id` (what FerretDB serves from an index). `MemoryIncidentStore`
keeps the same in dicts, for unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from contracts import Category, GeoPoint, IncidentMember, IncidentResolved
from services.common.messaging import insert_all, insert_once
from services.routing.incidents import Group, KeyState, Sighting

KEYS, INCIDENTS, RESOLUTIONS = "incident_keys", "incidents", "incident_resolutions"
SIGHTED, CLOSED, MEMBERS = "incident_sighted", "incident_closed", "incident_members"


@dataclass(frozen=True)
class IncidentRecord:
    incident_id: str
    cluster_key: str
    agency_code: str
    category: Category
    district_kato: str
    rule: str
    anchor: GeoPoint | None
    opened_at: datetime


class IncidentStore(Protocol):
    async def key_state(self, key: str) -> KeyState: ...

    async def save_key_state(self, key: str, state: KeyState) -> None: ...

    async def incident(self, incident_id: str) -> IncidentRecord | None: ...

    async def save_incident(self, record: IncidentRecord) -> None:
        """Store it (again: the same, idempotent)."""
        ...

    async def add_members(self, incident_id: str, members: list[IncidentMember]) -> None:
        """Each once (again: nothing added)."""
        ...

    async def members(self, incident_id: str) -> list[IncidentMember]:
        """Its members, oldest receipt first."""
        ...

    async def resolution(self, incident_id: str) -> IncidentResolved | None: ...

    async def close(self, incident_id: str) -> None:
        """It grows no more (idempotent)."""
        ...

    async def closed(self, incident_id: str) -> bool: ...

    async def mark_sighted(self, appeal_ids: list[str]) -> None:
        """Their sightings are handled (idempotent; one write)."""
        ...

    async def sighted(self, appeal_ids: list[str]) -> set[str]:
        """Those of them whose sightings were handled (one read)."""
        ...

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
            "count": g.count,
            "latest": g.latest.isoformat() if g.latest else None,
        }
        for g in state.groups
    ]


def state_from(groups: list[dict[str, Any]]) -> KeyState:
    return KeyState(
        tuple(
            Group(
                _point(g["anchor"]),
                tuple(_sighting(m) for m in g["members"]),
                g["incident_id"],
                g.get("count", 0),
                datetime.fromisoformat(g["latest"]) if g.get("latest") else None,
            )
            for g in groups
        )
    )


def member_id(incident_id: str, member: IncidentMember) -> str:
    return f"{incident_id}|{member.received_at.isoformat()}|{member.appeal_id}"


def incident_document(r: IncidentRecord) -> dict[str, Any]:
    return {
        "_id": r.incident_id,
        "cluster_key": r.cluster_key,
        "agency_code": r.agency_code,
        "category": r.category.value,
        "district_kato": r.district_kato,
        "rule": r.rule,
        "anchor": r.anchor.model_dump() if r.anchor else None,
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
        opened_at=datetime.fromisoformat(d["opened_at"]),
    )


class MongoIncidentStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.keys, self.incidents = db[KEYS], db[INCIDENTS]
        self.resolutions = db[RESOLUTIONS]
        self.closings, self.sightings = db[CLOSED], db[SIGHTED]
        self.member_documents = db[MEMBERS]

    async def add_members(self, incident_id: str, members: list[IncidentMember]) -> None:
        documents = [
            {"_id": member_id(incident_id, member), **member.model_dump(mode="json")}
            for member in members
        ]
        await insert_all(self.member_documents, documents)

    async def members(self, incident_id: str) -> list[IncidentMember]:
        span = {"$gte": f"{incident_id}|", "$lt": f"{incident_id}|~"}
        cursor = self.member_documents.find({"_id": span}).sort("_id", 1)
        return [
            IncidentMember.model_validate({k: v for k, v in d.items() if k != "_id"})
            async for d in cursor
        ]

    async def close(self, incident_id: str) -> None:
        await insert_once(self.closings, {"_id": incident_id})

    async def closed(self, incident_id: str) -> bool:
        return await self.closings.find_one({"_id": incident_id}) is not None

    async def mark_sighted(self, appeal_ids: list[str]) -> None:
        await insert_all(self.sightings, [{"_id": a} for a in appeal_ids])

    async def sighted(self, appeal_ids: list[str]) -> set[str]:
        found = self.sightings.find({"_id": {"$in": appeal_ids}}, {"_id": 1})
        return {d["_id"] async for d in found}

    async def key_state(self, key: str) -> KeyState:
        found = await self.keys.find_one({"_id": key})
        if found is None:
            return KeyState()
        return replace(state_from(found["groups"]), recent=tuple(found.get("recent", ())))

    async def save_key_state(self, key: str, state: KeyState) -> None:
        document = {
            "_id": key,
            "groups": state_document(state),
            "recent": list(state.recent),
        }
        await self.keys.replace_one({"_id": key}, document, upsert=True)

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
        self.member_lists: dict[str, dict[str, IncidentMember]] = {}

    async def add_members(self, incident_id: str, members: list[IncidentMember]) -> None:
        known = self.member_lists.setdefault(incident_id, {})
        for member in members:
            known.setdefault(member_id(incident_id, member), member)

    async def members(self, incident_id: str) -> list[IncidentMember]:
        known = self.member_lists.get(incident_id, {})
        return [known[k] for k in sorted(known)]

    async def close(self, incident_id: str) -> None:
        self.closings.add(incident_id)

    async def closed(self, incident_id: str) -> bool:
        return incident_id in self.closings

    async def mark_sighted(self, appeal_ids: list[str]) -> None:
        self.sightings.update(appeal_ids)

    async def sighted(self, appeal_ids: list[str]) -> set[str]:
        return self.sightings & set(appeal_ids)

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
