"""Mass incidents: many appeals about one thing in one place at one time are one incident
for the body that answers them (pure rules; the detector in incident_detector.py stores and
publishes).

A heating outage is 400 calls, not 400 problems. An appeal routed (first decision) to a
body is *sighted* under its cluster key — the body, the category and the district (the KATO
code's first four digits) — so appeals of different bodies' competence, categories or
districts never meet. Within a key, appeals group by place: an appeal with coordinates joins
the first group whose anchor (its first located appeal) is within the rule's distance, one
without coordinates the first group of the key (the district is all it says). A group whose
last appeal is older than the window is closed (its incident, if any, stays as it is: it no
longer grows); pending appeals older than the window are forgotten.

A group becomes an **incident** when it holds the rule's threshold of appeals received within
the window (e.g. 5 in 120 minutes): `incident.opened` names the rule and every member so
far; each later member is `incident.grew`. Rules are per category (`ROUTING_INCIDENT_RULES`);
categories without one never cluster (a doctor's refusal is one person's problem).

Deterministic and replay-safe: the decision depends only on the sightings in the order the
key's partition holds them (the sightings topic is keyed by cluster key, so one consumer sees
a key's sightings in one order); the incident id is derived from the key and its first
member, event ids from the incident and the members; a sighting already in the state (a
redelivery, a replay) changes nothing and emits nothing.

Each member keeps its own registration, routing, deadline and notices — the law answers
each appeal; the incident is how the body sees and answers them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from contracts import Category, GeoPoint, deterministic_id

EARTH_RADIUS_M = 6_371_000


class ClusterRule(BaseModel):
    """When appeals of one category become an incident."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int = Field(default=5, ge=2, le=10_000, description="Appeals that make one.")
    window_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    distance_m: float = Field(
        default=500, gt=0, le=50_000, description="Where coordinates exist: how far apart."
    )

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    def describe(self, category: Category) -> str:
        return (
            f"{category.value}: {self.threshold} appeals within {self.window_minutes} min, "
            f"one body, one district, within {self.distance_m:g} m where located"
        )


DEFAULT_RULES: dict[Category, ClusterRule] = {
    category: ClusterRule()
    for category in (
        Category.UTILITIES_HEATING,
        Category.UTILITIES_WATER,
        Category.UTILITIES_ELECTRICITY,
        Category.UTILITIES_GAS,
        Category.LIFTS,
        Category.LIGHTING,
        Category.ROADS,
        Category.WASTE,
    )
}


def district_of(kato: str | None) -> str | None:
    """The district a KATO code is in (its first four digits), or None without one."""
    return kato[:4] if kato and len(kato) >= 4 else None


def cluster_key(agency_code: str, category: Category, district: str) -> str:
    return f"{agency_code}|{category.value}|{district}"


@dataclass(frozen=True)
class Sighting:
    """An appeal, as the clustering sees it."""

    appeal_id: str
    registration_number: str
    received_at: datetime
    location: GeoPoint | None


@dataclass(frozen=True)
class Group:
    """Appeals about one thing in one place: pending (`members`, until the threshold), or an
    incident — then only its size and latest receipt are kept here (its members are stored
    with the incident), so the state stays small however large the incident grows."""

    anchor: GeoPoint | None
    members: tuple[Sighting, ...]
    incident_id: str | None = None
    count: int = 0
    latest: datetime | None = None

    @property
    def last_at(self) -> datetime:
        if self.latest is not None:
            return self.latest
        return max(m.received_at for m in self.members)


@dataclass(frozen=True)
class KeyState:
    groups: tuple[Group, ...] = ()
    recent: tuple[str, ...] = ()
    """The appeals of the sightings observed into this state by its last write. The detector
    writes the state, then marks those sightings handled: a crash between the two redelivers
    them, and this names them — so they are seen, not counted twice (a member of an incident
    is not in the groups any more, only its count)."""

    def holds(self, appeal_id: str) -> bool:
        return appeal_id in self.recent or any(
            m.appeal_id == appeal_id for g in self.groups for m in g.members
        )


@dataclass(frozen=True)
class Opened:
    incident_id: str
    members: tuple[Sighting, ...]
    anchor: GeoPoint | None


@dataclass(frozen=True)
class Grew:
    incident_id: str
    member: Sighting
    member_count: int


@dataclass(frozen=True)
class Observation:
    state: KeyState
    change: Opened | Grew | None = None
    seen: bool = field(default=False)
    """True when the sighting was in the state already (a redelivery): nothing changed."""


def metres_between(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _fits(group: Group, sighting: Sighting, rule: ClusterRule) -> bool:
    if sighting.received_at < group.last_at - rule.window:
        return False  # a late sighting, older than the group's window: not of it
    if sighting.location is None or group.anchor is None:
        return True
    return metres_between(group.anchor, sighting.location) <= rule.distance_m


def observe(
    state: KeyState,
    key: str,
    sighting: Sighting,
    rule: ClusterRule,
    resolved: frozenset[str] = frozenset(),
) -> Observation:
    """The key's state after `sighting`, and the incident it opened or grew (if any).
    `resolved`: incidents closed by an answer — they do not grow; a later appeal starts
    anew. A sighting received more than the window before a group's last member does not
    join it (a late sighting cannot stretch an incident beyond its window)."""
    if state.holds(sighting.appeal_id):
        return Observation(state, seen=True)
    since = sighting.received_at - rule.window
    groups: list[Group] = []
    for group in state.groups:
        if group.last_at < since or group.incident_id in resolved:
            continue  # closed: too old to grow, or answered
        if group.incident_id is None:  # pending appeals only count within the window
            group = replace(
                group, members=tuple(m for m in group.members if m.received_at >= since)
            )
            if not group.members:
                continue
        groups.append(group)
    index = next((i for i, g in enumerate(groups) if _fits(g, sighting, rule)), None)
    change: Opened | Grew | None = None
    if index is None:
        groups.append(Group(sighting.location, (sighting,)))
        index = len(groups) - 1
    elif (group := groups[index]).incident_id is not None:
        latest = max(group.last_at, sighting.received_at)
        groups[index] = replace(
            group, anchor=group.anchor or sighting.location, count=group.count + 1, latest=latest
        )
        change = Grew(group.incident_id, sighting, group.count + 1)
    else:
        anchor = group.anchor or sighting.location
        groups[index] = replace(group, anchor=anchor, members=(*group.members, sighting))
    group = groups[index]
    if group.incident_id is None and len(group.members) >= rule.threshold:
        ordered = tuple(sorted(group.members, key=lambda m: (m.received_at, m.appeal_id)))
        incident_id = deterministic_id("incident", key, ordered[0].appeal_id)
        groups[index] = replace(
            group,
            members=(),
            incident_id=incident_id,
            count=len(ordered),
            latest=ordered[-1].received_at,
        )
        change = Opened(incident_id, ordered, group.anchor)
    return Observation(KeyState(tuple(groups), state.recent), change)


@dataclass(frozen=True)
class KeyObservation:
    """A key's sightings of one batch, observed in order."""

    state: KeyState
    """The state to write: its `recent` are every sighting here (seen or counted)."""
    changes: tuple[tuple[str, Opened | Grew], ...]
    """Each incident opened or grown, with the appeal whose sighting did it, in order."""
    handled: tuple[str, ...]
    """The appeals to mark handled once the state is written."""


def observe_all(
    state: KeyState,
    key: str,
    sightings: list[Sighting],
    rule: ClusterRule,
    resolved: frozenset[str] = frozenset(),
) -> KeyObservation:
    """`observe` each sighting in order (the same appeal twice counts once). The result's
    state names them all as its `recent`, so a crash after it is written and before they
    are marked handled sees them again rather than counting them twice."""
    changes: list[tuple[str, Opened | Grew]] = []
    handled: list[str] = []
    for sighting in sightings:
        if sighting.appeal_id in handled:
            continue
        handled.append(sighting.appeal_id)
        seen = observe(state, key, sighting, rule, resolved)
        state = seen.state
        if seen.change is not None:
            changes.append((sighting.appeal_id, seen.change))
    return KeyObservation(replace(state, recent=tuple(handled)), tuple(changes), tuple(handled))
