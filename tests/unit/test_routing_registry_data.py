"""The bundled competence registry (reference/agencies.json) covers who the issue says
it must, consistently; and `GET /v1/agencies` serves it."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from contracts import IKOMEK_CATEGORY_MAP, IKOMEK_DISTRICT_KATO, REGION_KATO, Category
from reference.agencies import Agency, AgencyRegistry, Level
from services.routing.app import registry_routes
from services.routing.ranking import competent_bodies


@pytest.fixture(scope="module")
def registry() -> AgencyRegistry:
    return AgencyRegistry.default()


NATIONAL_BODIES = {
    "ministry-health": {Category.HEALTH},
    "ministry-education": {Category.EDUCATION},
    "ministry-labour": {Category.LABOUR, Category.SOCIAL_BENEFITS, Category.SOCIAL_PENSION},
    "ministry-internal-affairs": {Category.POLICE},
    "state-revenue-committee": {Category.TAXES},
    "ministry-energy": {Category.UTILITIES_ELECTRICITY},
    "ministry-transport": {Category.TRANSPORT_PUBLIC, Category.ROADS},
    "ministry-ecology": {Category.ECOLOGY},
    "ministry-agriculture": {Category.AGRICULTURE},
    "ministry-justice": set(),
    "ministry-digital-development": {Category.DIGITAL_EGOV},
    "anti-corruption-agency": {Category.CORRUPTION},
}

ASTANA_DEPARTMENTS = {
    "astana-health": Category.HEALTH,
    "astana-education": Category.EDUCATION,
    "astana-transport": Category.TRANSPORT_PUBLIC,
    "astana-energy": Category.UTILITIES_HEATING,
    "astana-housing": Category.LIFTS,
    "astana-roads": Category.ROADS,
    "astana-environment": Category.WASTE,
}


def test_the_registry_names_the_government_office_as_its_catch_all(
    registry: AgencyRegistry,
) -> None:
    fallback = registry.by_code[registry.fallback or ""]
    assert fallback.code == "government-office"
    assert fallback.competences == frozenset(Category)
    assert fallback.jurisdiction == ("",)


@pytest.mark.parametrize("code", sorted(NATIONAL_BODIES))
def test_the_national_ministries_and_committees_that_take_appeals_are_listed(
    registry: AgencyRegistry, code: str
) -> None:
    body = registry.by_code[code]
    assert body.level is Level.NATIONAL and body.jurisdiction == ("",)
    assert NATIONAL_BODIES[code] <= body.competences


@pytest.mark.parametrize(("code", "category"), sorted(ASTANA_DEPARTMENTS.items()))
def test_the_astana_city_departments_ikomek_sends_to_are_listed(
    registry: AgencyRegistry, code: str, category: Category
) -> None:
    body = registry.by_code[code]
    assert (body.level, body.jurisdiction, body.parent) == (Level.CITY, ("71",), "akimat-astana")
    assert category in body.competences


@pytest.mark.parametrize(("district", "kato"), sorted(IKOMEK_DISTRICT_KATO.items()))
def test_each_astana_district_has_its_akimat_with_the_district_kato_prefix(
    registry: AgencyRegistry, district: str, kato: str
) -> None:
    [body] = [
        b for b in registry.by_code.values() if b.level is Level.DISTRICT and b.covers(kato) == 4
    ]
    assert body.code == f"akimat-astana-{district.lower()}"
    assert body.parent == "akimat-astana"
    assert body.names["en"].startswith("Akimat of ")


@pytest.mark.parametrize("prefix", sorted(REGION_KATO))
def test_every_region_and_city_has_a_police_department_under_the_ministry(
    registry: AgencyRegistry, prefix: str
) -> None:
    [police] = [
        b
        for b in registry.by_code.values()
        if Category.POLICE in b.competences and b.jurisdiction == (prefix,)
    ]
    assert police.parent == "ministry-internal-affairs"
    assert REGION_KATO[prefix]["ru"].split()[-1][:5].lower() in police.names["ru"].lower()


def test_every_body_reaches_the_government_office_through_its_parents(
    registry: AgencyRegistry,
) -> None:
    for body in registry.by_code.values():
        chain = [body.code]
        while registry.by_code[chain[-1]].parent:
            chain.append(registry.by_code[chain[-1]].parent or "")
        assert chain[-1] == "government-office", chain


def test_every_body_is_named_in_three_languages_without_duplicates(
    registry: AgencyRegistry,
) -> None:
    for language in ("kk", "ru", "en"):
        names = [body.names[language] for body in registry.by_code.values()]
        assert len(names) == len(set(names)), language


@pytest.mark.parametrize("prefix", sorted(REGION_KATO))
@pytest.mark.parametrize("category", list(Category))
def test_every_category_in_every_region_reaches_a_body_with_jurisdiction_there(
    registry: AgencyRegistry, prefix: str, category: Category
) -> None:
    kato = f"{prefix}1010000"
    [first, *_] = competent_bodies(registry, category, kato)
    assert first.covers(kato) is not None


@pytest.mark.parametrize("ikomek_category", sorted(set(IKOMEK_CATEGORY_MAP) - {"OTHER"}))
def test_every_ikomek_category_stays_in_astana(
    registry: AgencyRegistry, ikomek_category: str
) -> None:
    for kato in IKOMEK_DISTRICT_KATO.values():
        [first, *_] = competent_bodies(registry, IKOMEK_CATEGORY_MAP[ikomek_category], kato)
        assert first.jurisdiction[0].startswith("71"), (ikomek_category, first.code)


def test_a_housing_appeal_goes_to_the_district_before_the_city(
    registry: AgencyRegistry,
) -> None:
    codes = [
        b.code for b in competent_bodies(registry, Category.HOUSING, IKOMEK_DISTRICT_KATO["NURA"])
    ]
    assert codes[:3] == ["akimat-astana-nura", "astana-housing", "akimat-astana"]
    assert codes[-1] == "government-office"


def test_on_the_same_territory_the_narrower_body_is_more_specific() -> None:
    def body(code: str, competences: set[Category]) -> Agency:
        return Agency(
            code=code,
            names={"kk": code, "ru": code, "en": code},
            level=Level.CITY,
            jurisdiction=("71",),
            competences=frozenset(competences),
            parent=None,
        )

    registry = AgencyRegistry(
        "test-1",
        [
            body("a-akimat", {Category.UTILITIES_HEATING, Category.ROADS, Category.OTHER}),
            body("b-energy", {Category.UTILITIES_HEATING}),
        ],
        require_national_fallback=False,
    )

    codes = [b.code for b in competent_bodies(registry, Category.UTILITIES_HEATING, "711210000")]
    assert codes == ["b-energy", "a-akimat"]


def test_a_registry_whose_parents_loop_is_refused() -> None:
    def body(code: str, parent: str) -> Agency:
        return Agency(
            code=code,
            names={"kk": code, "ru": code, "en": code},
            level=Level.CITY,
            jurisdiction=("71",),
            competences=frozenset({Category.ROADS}),
            parent=parent,
        )

    with pytest.raises(ValueError, match="loops"):
        AgencyRegistry("t", [body("aa", "bb"), body("bb", "aa")], require_national_fallback=False)


def test_a_fallback_that_is_not_a_nationwide_body_is_refused(registry: AgencyRegistry) -> None:
    with pytest.raises(ValueError, match="fallback"):
        AgencyRegistry(registry.version, list(registry.by_code.values()), fallback="akimat-astana")


# --- GET /v1/agencies -----------------------------------------------------------------------


@pytest.fixture
def client(registry: AgencyRegistry) -> httpx.AsyncClient:
    app = Starlette(routes=registry_routes(registry))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing")


async def test_the_registry_is_served_with_its_version(
    client: httpx.AsyncClient, registry: AgencyRegistry
) -> None:
    async with client:
        response = await client.get("/v1/agencies")
    body = response.json()
    assert response.status_code == 200
    assert body["version"] == registry.version
    assert len(body["agencies"]) == len(registry.by_code)
    energy = next(a for a in body["agencies"] if a["code"] == "astana-energy")
    assert energy["inbox_topic"] == "agency.astana-energy.inbox.v1"
    assert energy["competences"] == sorted(energy["competences"])


async def test_the_registry_answers_who_is_competent_for_a_category_at_a_place(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        response = await client.get("/v1/agencies?category=lifts&kato=711610000")
        refused = await client.get("/v1/agencies?category=weather")
    codes = [a["code"] for a in response.json()["agencies"]]
    assert codes[0] == "astana-housing"
    assert codes[-1] == "government-office"
    assert refused.status_code == 400


async def test_one_body_is_served_by_its_code_and_an_unknown_code_is_404(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        found = await client.get("/v1/agencies/police-shymkent")
        missing = await client.get("/v1/agencies/ministry-of-magic")
    assert found.json()["names"]["ru"] == "Департамент полиции города Шымкента"
    assert found.json()["parent"] == "ministry-internal-affairs"
    assert missing.status_code == 404
