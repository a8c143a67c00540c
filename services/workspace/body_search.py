"""Finding a body in the registry by name, category and place (pure): the triage desk's and
the redirect form's body picker.

A search is three optional filters, all of which a body must pass:
- `text`: every word of it appears in the body's name (Kazakh, Russian or English) or its
  code, case-insensitively ("энерг астана" finds the Astana energy department);
- `category`: the body is competent for that national category;
- `place`: a region (the two KATO digits of `REGION_KATO`) the body has jurisdiction over —
  national bodies included, since they have jurisdiction everywhere.

Bodies routing proposed come first (in its order), then the rest: the most specific
jurisdiction first (a district before its city, a city before the ministry), then by name in
the user's language. An empty search lists every body, so the picker works without it.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import CATEGORY_TITLES, REGION_KATO, Category
from reference.agencies import Agency, AgencyRegistry


@dataclass(frozen=True)
class BodySearch:
    text: str = ""
    category: Category | None = None
    place: str | None = None
    """Two KATO digits of a region, or None."""

    @classmethod
    def of(cls, params: dict[str, str]) -> BodySearch:
        """From a form's `body_q`, `body_category`, `body_place`; unknown values are ignored
        (a stale link shows every body rather than an error)."""
        category = params.get("body_category") or ""
        place = params.get("body_place") or ""
        return cls(
            text=(params.get("body_q") or "").strip()[:100],
            category=Category(category) if category in Category._value2member_map_ else None,
            place=place if place in REGION_KATO else None,
        )

    def matches(self, agency: Agency) -> bool:
        if self.category is not None and self.category not in agency.competences:
            return False
        if self.place is not None and not any(
            p == "" or p.startswith(self.place) or self.place.startswith(p)
            for p in agency.jurisdiction
        ):
            return False
        haystack = " ".join([agency.code, *agency.names.values()]).casefold()
        return all(word in haystack for word in self.text.casefold().split())


def find_bodies(
    registry: AgencyRegistry,
    search: BodySearch,
    language: str,
    proposed: list[str] | tuple[str, ...] = (),
    leave_out: str | None = None,
) -> list[tuple[str, str]]:
    """(code, name in `language`) of the bodies the search finds, in the order above;
    `leave_out` (the officer's own body, for a redirect) never."""

    def name(agency: Agency) -> str:
        return agency.names.get(language) or agency.code

    found = [a for a in registry.by_code.values() if a.code != leave_out and search.matches(a)]
    first = [a for code in proposed for a in found if a.code == code]
    rest = sorted(
        (a for a in found if a.code not in proposed),
        key=lambda a: (-max(len(p) for p in a.jurisdiction), name(a)),
    )
    return [(a.code, name(a)) for a in (*first, *rest)]


def search_choices(language: str) -> dict[str, list[tuple[str, str]]]:
    """The category and region choices of the search form, in `language`, by name."""
    return {
        "categories": sorted(
            ((c.value, CATEGORY_TITLES[c][language]) for c in Category),
            key=lambda choice: choice[1],
        ),
        "places": sorted(
            ((kato, titles[language]) for kato, titles in REGION_KATO.items()),
            key=lambda choice: choice[1],
        ),
    }
