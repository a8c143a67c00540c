"""The incidents of a body, as its inbox tells them (`incident.opened`, `incident.grew`,
`incident.resolved`; services/routing/incidents.py makes them): `incidents`, `_id` =
incident id, with its members' appeal ids and whether it is answered. An incident's events
come in order (one partition: routing keys them by cluster key); one writer, this process.
An officer answers the incident once (`agency.incident_answered` on the body's decisions
topic); routing answers each member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts import IncidentGrew, IncidentOpened, IncidentResolved
from services.common.batching import KeyedLock

INCIDENTS = "incidents"


@dataclass(frozen=True)
class IncidentView:
    incident_id: str
    agency_code: str
    category: str
    district_kato: str
    rule: str
    members: tuple[str, ...]
    opened_at: str
    resolved: bool = False


class IncidentViews:
    def __init__(self, db: AsyncDatabase) -> None:
        self.incidents = db[INCIDENTS]
        self._locks = KeyedLock()

    async def apply(self, event: IncidentOpened | IncidentGrew | IncidentResolved) -> None:
        async with self._locks(event.incident_id):
            found = await self.incidents.find_one({"_id": event.incident_id})
            document: dict[str, Any] = found or {
                "_id": event.incident_id,
                "agency_code": event.agency_code,
                "category": event.category.value,
                "district_kato": event.district_kato,
                "rule": event.rule,
                "members": [],
                "opened_at": event.occurred_at.isoformat(),
                "resolved": False,
            }
            members = list(document["members"])
            match event:
                case IncidentOpened():
                    members += [m.appeal_id for m in event.members if m.appeal_id not in members]
                case IncidentGrew() if event.member.appeal_id not in members:
                    members.append(event.member.appeal_id)
                case IncidentResolved():
                    document["resolved"] = True
            document["members"] = members
            await self.incidents.replace_one({"_id": event.incident_id}, document, upsert=True)

    async def get(self, incident_id: str) -> IncidentView | None:
        found = await self.incidents.find_one({"_id": incident_id})
        return _view(found) if found else None

    async def open_of(self, agency_code: str) -> list[IncidentView]:
        cursor = self.incidents.find({"agency_code": agency_code, "resolved": False})
        return sorted([_view(d) async for d in cursor], key=lambda v: v.opened_at)


def _view(d: dict[str, Any]) -> IncidentView:
    return IncidentView(
        incident_id=d["_id"],
        agency_code=d["agency_code"],
        category=d["category"],
        district_kato=d["district_kato"],
        rule=d["rule"],
        members=tuple(d["members"]),
        opened_at=d["opened_at"],
        resolved=d["resolved"],
    )
