"""Open311's pure parts: the gazetteer, the catalogue and locale, the documents in JSON and
XML, the form, and the adapter that turns a filed request into an appeal draft."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from contracts import AppealKind, Category, Channel, Language
from reference.agencies import AgencyRegistry
from services.intake.adapters import AppealDraft, Rejection, adapt_open311
from services.intake.open311 import catalogue
from services.intake.open311.documents import Error, Open311Post
from services.intake.open311.gazetteer import (
    OutsideKazakhstan,
    inside_outline,
    place_named_in,
    place_of,
)
from services.intake.open311.render import as_data, to_xml

NOW = datetime(2026, 3, 5, 7, 0, tzinfo=UTC)
ALMATY = ZoneInfo("Asia/Almaty")

# --- the gazetteer --------------------------------------------------------------------------

CITIES = {
    "Astana, Baiterek": ((51.1283, 71.4305), "71"),
    "Almaty": ((43.2380, 76.9450), "75"),
    "Shymkent": ((42.3417, 69.5901), "79"),
    "Aktau": ((43.65, 51.17), "47"),
    "Oral": ((51.23, 51.37), "27"),
    "Oskemen": ((49.95, 82.63), "63"),
    "Petropavl": ((54.87, 69.15), "59"),
    "Taraz": ((42.90, 71.37), "31"),
    "Balkhash (Karaganda region)": ((46.85, 74.98), "35"),
    "Saryagash (Turkistan region, by the border)": ((41.45, 69.17), "61"),
    "Ekibastuz (Pavlodar region)": ((51.72, 75.32), "55"),
    "Konaev (Almaty region, near the city)": ((43.87, 77.07), "19"),
}


@pytest.mark.parametrize("name", CITIES)
def test_a_point_in_kazakhstan_gets_its_region_or_city(name: str) -> None:
    (lat, lon), region = CITIES[name]
    kato = place_of(lat, lon)
    assert len(kato) == 9 and kato.startswith(region)


def test_a_point_in_astana_gets_its_district() -> None:
    assert place_of(51.1283, 71.4305).startswith("711")  # a district, not the city
    assert place_of(51.165, 71.47) != place_of(51.06, 71.36)  # north-east vs south-west


@pytest.mark.parametrize(
    "where",
    [(41.30, 69.24), (42.87, 74.59), (54.98, 73.37), (51.77, 55.10), (43.80, 87.60), (0.0, 0.0)],
    ids=["Tashkent", "Bishkek", "Omsk", "Orenburg", "Urumqi", "null island"],
)
def test_a_point_outside_kazakhstan_is_refused(where: tuple[float, float]) -> None:
    with pytest.raises(OutsideKazakhstan):
        place_of(*where)
    assert not inside_outline(*where)


def test_an_address_gives_the_city_or_region_it_begins_with() -> None:
    assert place_named_in("Астана, Алматы ауданы, Абай даңғылы 1") == "710000000"
    assert place_named_in("г. Алматы, ул. Абая 1") == "750000000"
    assert place_named_in("Алматы, Астана көшесі 5") == "750000000"
    assert place_named_in("Алматы облысы, Қонаев") == "190000000"
    assert place_named_in("Karaganda, Bukhar-Zhyrau 1") == "350000000"
    assert place_named_in("Baker Street 221b") is None
    # Whole words only: a street named after a place is not that place.
    assert place_named_in("Coral street 5") is None
    assert place_named_in("ул. Жамбыла 5, Алматы") == "750000000"
    assert place_named_in("Almaty, Abay ave 10") == "750000000"


def test_a_point_inside_the_country_that_no_radius_reaches_goes_to_the_nearest_region() -> None:
    assert place_of(45.5, 57.0).startswith("23")  # the Ustyurt, nearest Atyrau's centre
    assert place_of(49.42, 46.85).startswith("27")  # Zhanibek, by the Russian border
    assert place_of(45.25, 82.48)[:2] in {"33", "10"}  # Dostyk, by the Chinese border
    with pytest.raises(OutsideKazakhstan):
        place_of(45.17, 82.57)  # Alashankou, across that border


# --- the catalogue --------------------------------------------------------------------------


def test_the_locale_comes_from_the_parameter_then_accept_language_then_kazakh() -> None:
    assert catalogue.locale_of("ru", "en") is Language.RU
    assert catalogue.locale_of("ru-KZ", None) is Language.RU
    assert catalogue.locale_of(None, "de-DE, en;q=0.5, ru;q=0.9") is Language.RU
    assert catalogue.locale_of("fr", "de") is Language.KK


def test_every_category_is_a_service_named_in_the_locale_with_its_group() -> None:
    listed = catalogue.services(Language.RU)
    assert [s.service_code for s in listed] == [c.value for c in Category]
    heating = next(s for s in listed if s.service_code == "utilities.heating")
    assert heating.service_name == "Теплоснабжение" and heating.group == "utilities"
    assert heating.metadata is True and "Heating" in heating.keywords
    assert catalogue.services(Language.KK)[0].service_name != listed[0].service_name


def test_a_definition_asks_for_the_kind_of_appeal_and_offers_the_iin() -> None:
    definition = catalogue.definition_of(Category.ROADS, Language.EN)
    kind, iin = definition.attributes
    assert (kind.code, kind.datatype, kind.required) == ("kind", "singlevaluelist", True)
    assert [v.key for v in kind.values] == [k.value for k in AppealKind]
    assert kind.values[1].name == "Complaint"
    assert (iin.code, iin.required) == ("iin", False)


def test_a_request_is_the_public_view_closed_once_answered() -> None:
    status = {
        "registration_number": "ZH-20260305-000001",
        "status": "answered",
        "current_body": "akimat-astana",
        "category": "roads",
        "received_at": "2026-03-05T12:00:00+05:00",
        "registered_at": "2026-03-05T12:00:01+05:00",
        "answer_due_at": "2026-03-26T18:00:00+05:00",
        "district_kato": "711200000",
        "timeline": [
            {"occurred_at": "2026-03-09T09:00:00+05:00"},  # registered: Art. 64 may be later
            {"occurred_at": "2026-03-06T03:00:00+00:00"},
            {"occurred_at": "2026-03-06T09:30:00+05:00"},  # later than 08:00 +05:00
        ],
    }
    request = catalogue.request_of(status, AgencyRegistry.default(), Language.RU, ALMATY)
    assert (request.status, request.status_notes) == ("closed", "Дан ответ")
    assert request.agency_responsible == AgencyRegistry.default().get("akimat-astana").names["ru"]  # type: ignore[union-attr]
    assert request.expected_datetime == "2026-03-26T18:00:00+05:00"
    assert request.updated_datetime == "2026-03-06T09:30:00+05:00"
    assert request.requested_datetime == "2026-03-05T12:00:00+05:00"
    assert (request.address, request.address_id) == ("город Астана", "711200000")
    assert request.description is None  # never the citizen's text


# --- documents ------------------------------------------------------------------------------


def test_xml_and_json_carry_the_same_data_in_the_specs_elements() -> None:
    definition = catalogue.definition_of(Category.ROADS, Language.KK)
    root = ElementTree.fromstring(to_xml(definition, "service_definition"))
    assert root.tag == "service_definition"
    attributes = root.find("attributes")
    assert attributes is not None
    first = attributes.findall("attribute")[0]
    assert first.findtext("code") == "kind" and first.findtext("required") == "true"
    keys = [v.findtext("key") for v in first.find("values").findall("value")]  # type: ignore[union-attr]
    assert keys == [v["key"] for v in as_data(definition)["attributes"][0]["values"]]

    errors = [Error(code=403, description="api_key: missing")]
    root = ElementTree.fromstring(to_xml(errors, "errors", "error"))
    assert [(e.findtext("code"), e.findtext("description")) for e in root] == [
        ("403", "api_key: missing")
    ]


# --- the form and the adapter ---------------------------------------------------------------


def form(**changes: str) -> dict[str, str]:
    fields = {
        "api_key": "k",
        "service_code": "roads",
        "lat": "51.1283",
        "long": "71.4305",
        "first_name": "Болат",
        "last_name": "Серіков",
        "phone": "+77471234567",
        "description": "Жеңіс даңғылында терең шұңқырлар бар.",
        "attribute[kind]": "complaint",
        "attribute[iin]": "780215300007",
        "unknown_field": "ignored",
    }
    return {**fields, **changes}


def test_the_form_gathers_attributes_and_drops_blanks_and_unknown_fields() -> None:
    post = Open311Post.from_form(form(address_string="  ", media_url=""))
    assert post.attributes == {"kind": "complaint", "iin": "780215300007"}
    assert post.address_string is None and post.media_url is None
    assert post.service_code == "roads"


def adapted(**changes: str) -> AppealDraft | Rejection:
    post = Open311Post.from_form(form(**changes))
    return adapt_open311(post, "fixmystreet", "711210000", Language.KK, NOW)


def test_a_filed_request_becomes_an_appeal_of_the_open311_channel() -> None:
    draft = adapted()
    assert isinstance(draft, AppealDraft)
    assert draft.channel is Channel.OPEN311 and draft.channel_appeal_id.startswith("fixmystreet:")
    assert (draft.kind, draft.category, draft.region_kato) == (
        AppealKind.COMPLAINT,
        Category.ROADS,
        "711210000",
    )
    assert draft.applicant.name == "Болат Серіков" and draft.applicant.iin == "780215300007"
    assert draft.received_at == NOW and draft.location is not None


def test_the_same_form_again_that_day_is_the_same_appeal_and_another_is_another() -> None:
    first, again, other = adapted(), adapted(), adapted(description="Басқа шұңқыр.")
    assert isinstance(first, AppealDraft) and isinstance(again, AppealDraft)
    assert isinstance(other, AppealDraft)
    assert first.channel_appeal_id == again.channel_appeal_id != other.channel_appeal_id
    post = Open311Post.from_form(form())
    late_evening = adapt_open311(
        post, "fixmystreet", "711210000", Language.KK, NOW.replace(hour=18)
    )
    next_month = adapt_open311(post, "fixmystreet", "711210000", Language.KK, NOW.replace(month=4))
    assert isinstance(late_evening, AppealDraft) and isinstance(next_month, AppealDraft)
    # 18:00 UTC is 23:00 in Astana, the same day; a month later is a new appeal.
    assert late_evening.channel_appeal_id == first.channel_appeal_id
    assert next_month.channel_appeal_id != first.channel_appeal_id


def test_a_wrong_field_is_named_as_the_open311_field() -> None:
    rejected = adapted(**{"attribute[kind]": "wish", "phone": "12"})
    assert isinstance(rejected, Rejection)
    assert {e.field for e in rejected.errors} == {"attribute[kind]", "phone"}


def test_a_request_without_a_name_is_anonymous_and_refused_unless_it_reports_a_crime() -> None:
    anonymous = adapted(first_name="", last_name="")
    assert isinstance(anonymous, Rejection) and anonymous.reason_code == "anonymous_not_considered"
    crime = adapted(first_name="", last_name="", service_code="police")
    assert isinstance(crime, AppealDraft) and crime.urgent
