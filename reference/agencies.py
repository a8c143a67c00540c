"""The agency registry: which state bodies exist, where they have jurisdiction, what they
are competent for and who supervises whom. Versioned data (`agencies.json`, beside this
module); every service reads it from here — routing to choose a body, sla to escalate a
breach to the supervising body, notify to name bodies in messages, the topic plan to create
one inbox per top-level body.

Owns: the shape of a body, loading the bundled data, and the registry's integrity checks
(unique codes that can name a topic, known parents, no parent cycles, a national body for
every category, a nationwide catch-all), plus the facts a body answers about itself
(jurisdiction over a place, competence for a category) and the supervision chain
(`supervisor_of`). Does not own: which body is *most* specific for an appeal — that ranking
is routing's (`services/routing/ranking.py`) — nor anything about storage and Kafka.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contracts import Category, agency_inbox

BUNDLED_REGISTRY_PATH = Path(__file__).with_name("agencies.json")


class Level(StrEnum):
    NATIONAL = "national"
    REGION = "region"
    CITY = "city"
    DISTRICT = "district"


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(description="Stable lowercase code; also names the inbox topic.")
    names: dict[str, str] = Field(description="Names in kk, ru and en.")
    level: Level
    jurisdiction: tuple[str, ...] = Field(
        description="KATO prefixes where the body has jurisdiction; '' means the whole country."
    )
    competences: frozenset[Category]
    parent: str | None = Field(description="Code of the supervising body.")

    @property
    def inbox_topic(self) -> str:
        return agency_inbox(self.code)

    def covers(self, kato: str | None) -> int | None:
        """Length of the longest jurisdiction prefix matching `kato` (None: no jurisdiction)."""
        matches = [len(p) for p in self.jurisdiction if p == "" or (kato and kato.startswith(p))]
        return max(matches) if matches else None

    def is_competent(self, category: Category, kato: str | None) -> bool:
        """Competent for `category` and with jurisdiction over `kato`."""
        return category in self.competences and self.covers(kato) is not None


class AgencyRegistry:
    def __init__(
        self,
        version: str,
        agencies: list[Agency],
        *,
        require_national_fallback: bool = True,
        fallback: str | None = None,
    ) -> None:
        """`require_national_fallback=False` only for partial registries built in tests.

        `fallback` names the national catch-all body (the Government Office): the body of
        last resort, and the marker for "no specialised rule covers this category"."""
        self.version = version
        self.by_code = {agency.code: agency for agency in agencies}
        if len(self.by_code) != len(agencies):
            raise ValueError("agency codes must be unique")
        for agency in agencies:
            agency_inbox(agency.code)  # raises for a code that cannot name a topic
            if agency.parent is not None and agency.parent not in self.by_code:
                raise ValueError(f"{agency.code}: unknown parent {agency.parent}")
        for agency in agencies:
            self._check_no_parent_cycle(agency)
        if fallback is not None:
            body = self.by_code.get(fallback)
            if body is None or body.covers(None) is None:
                raise ValueError(f"fallback {fallback!r} must be a known nationwide body")
        self.fallback = fallback
        # Unknown places and uncovered categories fall back to a national body, never to
        # nowhere: every category needs one.
        national = set().union(*(a.competences for a in agencies if a.level is Level.NATIONAL))
        if require_national_fallback and (uncovered := set(Category) - national):
            raise ValueError(f"no national body is competent for: {sorted(uncovered)}")

    def _check_no_parent_cycle(self, agency: Agency) -> None:
        seen = {agency.code}
        parent = agency.parent
        while parent is not None:
            if parent in seen:
                raise ValueError(f"{agency.code}: parent chain loops through {parent}")
            seen.add(parent)
            parent = self.by_code[parent].parent

    @classmethod
    @cache
    def default(cls) -> AgencyRegistry:
        return cls.from_file(BUNDLED_REGISTRY_PATH)

    @classmethod
    def from_file(cls, path: Path) -> AgencyRegistry:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            data["version"],
            [Agency.model_validate(a) for a in data["agencies"]],
            fallback=data.get("fallback"),
        )

    def get(self, code: str | None) -> Agency | None:
        return self.by_code.get(code) if code else None

    def supervising_body(self, code: str) -> Agency | None:
        """The body that supervises `code` (its parent): where a citizen contests its answer
        (a repeat complaint). None for a body without one (then only a court)."""
        agency = self.by_code.get(code)
        return self.by_code.get(agency.parent) if agency and agency.parent else None

    def supervisors(self) -> dict[str, str]:
        """Each body's supervising body, for those that have a parent."""
        return {
            code: agency.parent
            for code, agency in self.by_code.items()
            if agency.parent is not None
        }
