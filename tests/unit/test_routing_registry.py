"""The agency registry (reference/agencies.py) and routing's ranking and first decision
(services/routing/ranking.py, decisions.py)."""

from __future__ import annotations

import pytest

from contracts import REGION_KATO, AppealRegistered, Category, agency_inbox
from reference.agencies import Agency, AgencyRegistry, Level
from services.routing.decisions import MOST_SPECIFIC_RULE, decide_route
from services.routing.ranking import competent_bodies

ASTANA_ALMATY_DISTRICT = "711210000"


@pytest.fixture(scope="module")
def registry() -> AgencyRegistry:
    return AgencyRegistry.default()


def appeal(category: Category, region_kato: str | None) -> AppealRegistered:
    data = AppealRegistered.example().model_dump()
    data.update(category=category, region_kato=region_kato)
    return AppealRegistered.model_validate(data)


def agency(
    code: str,
    level: Level,
    jurisdiction: tuple[str, ...],
    competences: set[Category] | None = None,
    parent: str | None = None,
) -> Agency:
    return Agency(
        code=code,
        names={"kk": code, "ru": code, "en": code},
        level=level,
        jurisdiction=jurisdiction,
        competences=frozenset(competences or {Category.UTILITIES_HEATING}),
        parent=parent,
    )


# --- the bundled registry -----------------------------------------------------------------


def test_the_bundled_registry_loads_with_a_version(registry: AgencyRegistry) -> None:
    assert registry.version
    assert "government-office" in registry.by_code


def test_every_agency_code_is_a_legal_inbox_name(registry: AgencyRegistry) -> None:
    for code, body in registry.by_code.items():
        # agency_inbox raises ValueError for a code that cannot be part of a topic name.
        assert body.inbox_topic == agency_inbox(code) == f"agency.{code}.inbox.v1"


def test_every_agency_is_named_in_kazakh_russian_and_english(registry: AgencyRegistry) -> None:
    for body in registry.by_code.values():
        assert {"kk", "ru", "en"} <= body.names.keys(), body.code
        assert all(body.names[lang].strip() for lang in ("kk", "ru", "en")), body.code


def test_every_region_and_city_of_republican_significance_has_exactly_one_akimat(
    registry: AgencyRegistry,
) -> None:
    assert len(REGION_KATO) == 20  # 17 regions and 3 cities (DESIGN.md §5)
    for prefix in REGION_KATO:
        # An akimat is the local executive body of general competence (it takes `other`).
        akimats = [
            body.code
            for body in registry.by_code.values()
            if body.level in (Level.REGION, Level.CITY)
            and prefix in body.jurisdiction
            and Category.OTHER in body.competences
        ]
        assert len(akimats) == 1, (prefix, akimats)


def test_every_category_has_a_competent_national_body(registry: AgencyRegistry) -> None:
    # Without it an appeal with no place, or in a category no akimat handles, has nowhere to go.
    for category in Category:
        assert any(
            body.level is Level.NATIONAL and "" in body.jurisdiction
            for body in competent_bodies(registry, category, None)
        ), category


# --- routing decisions --------------------------------------------------------------------


def test_a_heating_appeal_in_astana_goes_to_the_city_energy_department(
    registry: AgencyRegistry,
) -> None:
    # The akimat of Astana is competent for heating too (general competence), but the energy
    # department is the narrower body on the same territory.
    decision = decide_route(appeal(Category.UTILITIES_HEATING, ASTANA_ALMATY_DISTRICT), registry)

    assert decision.agency.code == "astana-energy"
    assert decision.rule_id == MOST_SPECIFIC_RULE
    assert decision.rule_version == f"2/{registry.version}"
    assert "utilities.heating" in decision.reason
    assert ASTANA_ALMATY_DISTRICT in decision.reason


def test_a_police_appeal_goes_to_the_police_department_of_the_city(
    registry: AgencyRegistry,
) -> None:
    # Akimats are not competent for police; the city's police department is.
    decision = decide_route(appeal(Category.POLICE, ASTANA_ALMATY_DISTRICT), registry)

    assert decision.agency.code == "police-astana"
    assert decision.agency.parent == "ministry-internal-affairs"
    assert "police" in decision.reason


def test_an_appeal_without_a_place_goes_to_a_national_body(registry: AgencyRegistry) -> None:
    decision = decide_route(appeal(Category.UTILITIES_HEATING, None), registry)

    assert decision.agency.code == "ministry-energy"
    assert decision.agency.level is Level.NATIONAL
    assert "unknown place" in decision.reason


def test_an_appeal_in_a_region_goes_to_that_regions_akimat(registry: AgencyRegistry) -> None:
    # 55 is Pavlodar Region.
    decision = decide_route(appeal(Category.ROADS, "551010000"), registry)
    assert decision.agency.code == "akimat-pavlodar"
    assert decision.agency.level is Level.REGION


# --- ranking ------------------------------------------------------------------------------


def test_competent_ranks_longer_kato_prefixes_first() -> None:
    registry = AgencyRegistry(
        "test-1",
        [
            agency("national", Level.NATIONAL, ("",)),
            agency("astana", Level.CITY, ("71",), parent="national"),
            agency("astana-almaty-district", Level.DISTRICT, ("7112",), parent="astana"),
            agency("almaty-city", Level.CITY, ("75",), parent="national"),
        ],
        require_national_fallback=False,
    )

    ranked = competent_bodies(registry, Category.UTILITIES_HEATING, ASTANA_ALMATY_DISTRICT)

    # almaty-city has no jurisdiction over 71…, so it is not a candidate at all.
    assert [body.code for body in ranked] == ["astana-almaty-district", "astana", "national"]


def test_competent_leaves_out_bodies_that_are_not_competent_for_the_category() -> None:
    registry = AgencyRegistry(
        "test-1",
        [
            agency("national", Level.NATIONAL, ("",), {Category.POLICE, Category.ROADS}),
            agency("astana", Level.CITY, ("71",), {Category.ROADS}, parent="national"),
        ],
        require_national_fallback=False,
    )

    assert [b.code for b in competent_bodies(registry, Category.POLICE, "711210000")] == [
        "national"
    ]
    assert competent_bodies(registry, Category.HEALTH, "711210000") == []


def test_equally_specific_bodies_are_ranked_by_code_so_the_choice_is_stable() -> None:
    registry = AgencyRegistry(
        "test-1",
        [
            agency("zeta", Level.CITY, ("71",)),
            agency("alpha", Level.CITY, ("71",)),
        ],
        require_national_fallback=False,
    )
    assert [
        b.code for b in competent_bodies(registry, Category.UTILITIES_HEATING, "711210000")
    ] == [
        "alpha",
        "zeta",
    ]


def test_without_a_place_only_bodies_with_nationwide_jurisdiction_are_competent() -> None:
    registry = AgencyRegistry(
        "test-1",
        [agency("national", Level.NATIONAL, ("",)), agency("astana", Level.CITY, ("71",))],
        require_national_fallback=False,
    )
    assert [b.code for b in competent_bodies(registry, Category.UTILITIES_HEATING, None)] == [
        "national"
    ]


def test_routing_fails_loudly_when_no_body_is_competent() -> None:
    registry = AgencyRegistry(
        "test-1", [agency("astana", Level.CITY, ("71",))], require_national_fallback=False
    )
    with pytest.raises(LookupError):
        decide_route(appeal(Category.POLICE, "711210000"), registry)


# --- registry validation ------------------------------------------------------------------


def test_a_registry_with_an_unknown_parent_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown parent"):
        AgencyRegistry("test-1", [agency("astana", Level.CITY, ("71",), parent="nowhere")])


def test_a_registry_with_duplicate_codes_is_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        AgencyRegistry(
            "test-1",
            [agency("astana", Level.CITY, ("71",)), agency("astana", Level.REGION, ("71",))],
        )


def test_a_registry_where_no_national_body_covers_a_category_is_refused() -> None:
    heating_only = agency("national", Level.NATIONAL, ("",), {Category.UTILITIES_HEATING})
    with pytest.raises(ValueError):
        AgencyRegistry("test-1", [heating_only])
