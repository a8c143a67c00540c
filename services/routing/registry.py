"""The agency registry: which bodies exist, where they have jurisdiction, what they are
competent for. Versioned data (agencies.json); this module only loads and queries it."""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contracts import Category, agency_inbox

REGISTRY_PATH = Path(__file__).with_name("agencies.json")


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


class AgencyRegistry:
    def __init__(
        self, version: str, agencies: list[Agency], *, require_national_fallback: bool = True
    ) -> None:
        """`require_national_fallback=False` only for partial registries built in tests."""
        self.version = version
        self.by_code = {agency.code: agency for agency in agencies}
        if len(self.by_code) != len(agencies):
            raise ValueError("agency codes must be unique")
        for agency in agencies:
            if agency.parent is not None and agency.parent not in self.by_code:
                raise ValueError(f"{agency.code}: unknown parent {agency.parent}")
        # Unknown places and uncovered categories fall back to a national body, never to
        # nowhere: every category needs one.
        national = set().union(*(a.competences for a in agencies if a.level is Level.NATIONAL))
        if require_national_fallback and (uncovered := set(Category) - national):
            raise ValueError(f"no national body is competent for: {sorted(uncovered)}")

    @classmethod
    @cache
    def default(cls) -> AgencyRegistry:
        data = json.loads(REGISTRY_PATH.read_text(encoding="utf-8"))
        return cls(data["version"], [Agency.model_validate(a) for a in data["agencies"]])

    def competent(self, category: Category, kato: str | None) -> list[Agency]:
        """Bodies competent for `category` with jurisdiction over `kato`, most specific first
        (longest matching KATO prefix: district > city > region > national)."""
        ranked = [
            (depth, agency)
            for agency in self.by_code.values()
            if category in agency.competences and (depth := agency.covers(kato)) is not None
        ]
        ranked.sort(key=lambda pair: (-pair[0], pair[1].code))
        return [agency for _, agency in ranked]
