"""What "the most specific competent body" means: routing's ranking of the bodies in the
agency registry (`reference.agencies`) for a category at a place.

Ranking, most specific first:
1. the longest KATO prefix of the body's jurisdiction matching the place (a district's
   4 digits beat a city's or region's 2, which beat the nationwide ``""``);
2. on equal territory, the narrower body — fewer competences — wins: a city department
   for heating beats the city akimat, whose general competence also names heating, and a
   ministry beats the Government Office;
3. then the code, so the choice is stable.

Pure functions over the registry's data; the rules that use them are `decisions.py`.
"""

from __future__ import annotations

from contracts import Category
from reference.agencies import Agency, AgencyRegistry


def competent_bodies(
    registry: AgencyRegistry, category: Category, kato: str | None
) -> list[Agency]:
    """Bodies competent for `category` with jurisdiction over `kato`, most specific first."""
    ranked = [
        (depth, agency)
        for agency in registry.by_code.values()
        if category in agency.competences and (depth := agency.covers(kato)) is not None
    ]
    ranked.sort(key=lambda pair: (-pair[0], len(pair[1].competences), pair[1].code))
    return [agency for _, agency in ranked]


def only_fallback_is_competent(
    registry: AgencyRegistry, category: Category, kato: str | None
) -> bool:
    """True when no body but the catch-all takes `category` at `kato`: no specialised rule
    covers it, so the text may know better."""
    codes = [agency.code for agency in competent_bodies(registry, category, kato)]
    return registry.fallback is not None and codes in ([], [registry.fallback])
