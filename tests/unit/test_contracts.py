"""The shared contracts: documented, round-trippable, discriminable and complete."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import datetime

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

import contracts
from contracts import (
    AGENCY_ACTION_ADAPTER,
    ALL_MODELS,
    ANY_EVENT_ADAPTER,
    CALL1414_KIND_MAP,
    CATEGORY_TITLES,
    CHANNEL_TOPIC,
    EVENT_TYPES,
    IKOMEK_CATEGORY_MAP,
    IKOMEK_DISTRICT_KATO,
    REGION_KATO,
    SLA_EVENT_ADAPTER,
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealKind,
    AppealRedirected,
    AppealRegistered,
    AppealRejected,
    AppealRouted,
    Call1414Appeal,
    Call1414AppealType,
    Category,
    Channel,
    DeadlineExtended,
    DismissalReason,
    Event,
    HttpGatewayAppeal,
    IKomek109Appeal,
    RoutingDecision,
    SlaBreached,
    SlaExtensionRefused,
    SlaStopped,
    SlaTimerStarted,
    SlaWarning,
    TriageDecided,
    agency_inbox,
    deterministic_id,
    topics,
)

ENVELOPE_FIELDS = {
    "event_id",
    "event_type",
    "appeal_id",
    "occurred_at",
    "schema_version",
    "correlation_id",
    "causation_id",
}

by_name = pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
each_event = pytest.mark.parametrize("event_class", EVENT_TYPES, ids=lambda m: m.__name__)


def documented_examples(model: type[BaseModel]) -> list[dict[str, typing.Any]]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} has no json_schema_extra"
    examples = extra["examples"]
    assert isinstance(examples, list)
    return examples


def nested_models(annotation: typing.Any) -> typing.Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from nested_models(argument)


def undocumented_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    missing = []
    for name, field in model.model_fields.items():
        if not (field.description and field.description.strip()):
            missing.append(f"{model.__name__}.{name}")
        for nested in nested_models(field.annotation):
            missing.extend(undocumented_fields(nested, seen))
    return missing


# --- every model is documented ----------------------------------------------------------


@by_name
def test_every_model_documents_exactly_one_example(model: type[BaseModel]) -> None:
    assert len(documented_examples(model)) == 1


@by_name
def test_every_model_example_validates(model: type[BaseModel]) -> None:
    example = model.example()  # type: ignore[attr-defined]

    assert isinstance(example, model)


@by_name
def test_every_model_example_names_every_field(model: type[BaseModel]) -> None:
    assert set(documented_examples(model)[0]) == set(model.model_fields)


@by_name
def test_every_model_example_round_trips_through_json(model: type[BaseModel]) -> None:
    example = model.example()  # type: ignore[attr-defined]

    assert model.model_validate_json(example.model_dump_json()) == example


@by_name
def test_every_model_example_dumps_back_to_the_documented_json(model: type[BaseModel]) -> None:
    example = model.example()  # type: ignore[attr-defined]

    dumped = json.loads(example.model_dump_json())
    documented = documented_examples(model)[0]
    assert dumped.keys() == documented.keys()
    assert model.model_validate(dumped) == model.model_validate(documented)


@by_name
def test_every_field_has_a_description_including_nested_models(model: type[BaseModel]) -> None:
    assert undocumented_fields(model, set()) == []


@by_name
def test_every_model_json_schema_carries_its_example(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()

    assert schema["examples"] == documented_examples(model)


# --- events -----------------------------------------------------------------------------


@each_event
def test_every_event_carries_the_envelope(event_class: type[Event]) -> None:
    assert issubclass(event_class, Event)
    assert ENVELOPE_FIELDS <= set(event_class.model_fields)


@each_event
def test_every_event_type_defaults_to_its_own_literal(event_class: type[Event]) -> None:
    field = event_class.model_fields["event_type"]

    assert typing.get_args(field.annotation) == (field.default,)
    assert event_class.example().event_type == field.default


def test_every_event_type_is_distinct() -> None:
    event_types = [cls.model_fields["event_type"].default for cls in EVENT_TYPES]

    assert len(set(event_types)) == len(event_types) == len(EVENT_TYPES)


def test_every_concrete_event_subclass_is_listed() -> None:
    def concrete(cls: type[Event]) -> set[type[Event]]:
        found = set()
        for sub in cls.__subclasses__():
            if typing.get_args(sub.model_fields["event_type"].annotation):
                found.add(sub)
            found |= concrete(sub)
        return found

    assert concrete(Event) == set(EVENT_TYPES)
    assert set(EVENT_TYPES) <= set(ALL_MODELS)


def test_an_event_with_a_naive_occurred_at_is_refused() -> None:
    data = AppealAccepted.example().model_dump()
    data["occurred_at"] = datetime(2026, 3, 5, 10, 2, 47)

    with pytest.raises(ValidationError, match="occurred_at"):
        AppealAccepted.model_validate(data)


def test_an_event_with_a_naive_occurred_at_in_json_is_refused() -> None:
    data = json.loads(AppealRegistered.example().model_dump_json())
    data["occurred_at"] = "2026-03-05T10:02:47"

    with pytest.raises(ValidationError, match="occurred_at"):
        AppealRegistered.model_validate_json(json.dumps(data))


def test_events_are_immutable() -> None:
    event = AppealRegistered.example()

    with pytest.raises(ValidationError):
        event.text = "changed"  # type: ignore[misc]


def test_events_refuse_unknown_fields() -> None:
    data = AppealRegistered.example().model_dump()
    data["unexpected"] = 1

    with pytest.raises(ValidationError, match="unexpected"):
        AppealRegistered.model_validate(data)


def test_an_event_refuses_another_events_type() -> None:
    data = AppealRegistered.example().model_dump()
    data["event_type"] = "appeal.routed"

    with pytest.raises(ValidationError, match="event_type"):
        AppealRegistered.model_validate(data)


def test_a_rejection_needs_at_least_one_error() -> None:
    data = AppealRejected.example().model_dump()
    data["errors"] = []

    with pytest.raises(ValidationError, match="errors"):
        AppealRejected.model_validate(data)


def test_a_registered_appeal_needs_a_nine_digit_kato_code() -> None:
    data = AppealRegistered.example().model_dump()
    data["region_kato"] = "71121"

    with pytest.raises(ValidationError, match="region_kato"):
        AppealRegistered.model_validate(data)


@pytest.mark.parametrize(
    "event_class", [AppealAccepted, AppealRedirected, DeadlineExtended, AppealAnswered]
)
def test_the_agency_action_union_discriminates_each_example_to_its_class(
    event_class: type[Event],
) -> None:
    raw = event_class.example().model_dump_json()

    assert type(AGENCY_ACTION_ADAPTER.validate_json(raw)) is event_class


@pytest.mark.parametrize(
    "event_class", [SlaTimerStarted, SlaWarning, SlaBreached, SlaStopped, SlaExtensionRefused]
)
def test_the_sla_union_discriminates_each_example_to_its_class(event_class: type[Event]) -> None:
    raw = event_class.example().model_dump_json()

    assert type(SLA_EVENT_ADAPTER.validate_json(raw)) is event_class


@each_event
def test_the_any_event_union_discriminates_each_example_to_its_class(
    event_class: type[Event],
) -> None:
    raw = event_class.example().model_dump_json()

    assert type(ANY_EVENT_ADAPTER.validate_json(raw)) is event_class


def test_the_agency_action_union_refuses_an_sla_event() -> None:
    with pytest.raises(ValidationError):
        AGENCY_ACTION_ADAPTER.validate_json(SlaWarning.example().model_dump_json())


# --- channel formats check structure only -----------------------------------------------


def test_a_channel_format_accepts_a_business_rule_violation() -> None:
    data = Call1414Appeal.example().model_dump(mode="json")
    data["caller"]["iin"] = "123"
    data["kato_code"] = "nowhere"
    data["lang"] = "de"
    data["call_started_at"] = "yesterday"

    appeal = Call1414Appeal.model_validate_json(json.dumps(data))

    assert appeal.caller.iin == "123"


def test_a_channel_format_ignores_unknown_keys() -> None:
    data = IKomek109Appeal.example().model_dump(mode="json")
    data["operator_note"] = "called back"
    data["location"]["floor"] = 3

    assert IKomek109Appeal.model_validate_json(json.dumps(data)) == IKomek109Appeal.example()


def test_a_channel_format_reads_a_missing_nullable_key_as_null() -> None:
    data = Call1414Appeal.example().model_dump(mode="json")
    del data["address"]
    del data["caller"]["middle_name"]

    appeal = Call1414Appeal.model_validate_json(json.dumps(data))

    assert appeal.address is None and appeal.caller.middle_name is None


@pytest.mark.parametrize(
    ("model", "path", "value"),
    [
        (Call1414Appeal, ("is_anonymous",), "false"),
        (Call1414Appeal, ("appeal_type",), "ZHALOBA_SROCHNO"),
        (Call1414Appeal, ("kato_code",), 711210000),
        (Call1414Appeal, ("caller",), "Ахметов Ерлан"),
        (IKomek109Appeal, ("location", "lat"), "51.128207"),
        (IKomek109Appeal, ("source",), "whatsapp"),
        (HttpGatewayAppeal, ("applicant", "anonymous"), 0),
    ],
    ids=lambda value: ".".join(value) if isinstance(value, tuple) else None,
)
def test_a_channel_format_refuses_wrong_json_types(
    model: type[BaseModel], path: tuple[str, ...], value: object
) -> None:
    data = model.example().model_dump(mode="json")  # type: ignore[attr-defined]
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps(data))


@pytest.mark.parametrize("model", [Call1414Appeal, IKomek109Appeal, HttpGatewayAppeal])
def test_a_channel_format_refuses_a_missing_required_key(model: type[BaseModel]) -> None:
    data = model.example().model_dump(mode="json")  # type: ignore[attr-defined]
    required = next(name for name, field in model.model_fields.items() if field.is_required())
    del data[required]

    with pytest.raises(ValidationError, match=required):
        model.model_validate_json(json.dumps(data))


def test_every_1414_appeal_type_maps_to_an_appeal_kind() -> None:
    assert set(CALL1414_KIND_MAP) == set(Call1414AppealType)
    assert set(CALL1414_KIND_MAP.values()) == set(AppealKind)
    assert CALL1414_KIND_MAP["ZHALOBA"] is AppealKind.COMPLAINT  # type: ignore[index]


def test_the_1414_example_topic_code_is_a_national_category() -> None:
    assert Category(Call1414Appeal.example().topic_code) is Category.UTILITIES_HEATING


def test_each_kafka_channel_has_its_topic() -> None:
    assert CHANNEL_TOPIC == {
        Channel.CALL_1414: "channel.1414.appeals.v1",
        Channel.IKOMEK109: "channel.ikomek109.appeals.v1",
        Channel.EOTINISH: "channel.eotinish.appeals.v1",
    }


# --- topics -----------------------------------------------------------------------------


def test_agency_inbox_builds_the_topic_name() -> None:
    assert agency_inbox("astana-energy") == "agency.astana-energy.inbox.v1"
    assert agency_inbox("mz_rk") == "agency.mz_rk.inbox.v1"


@pytest.mark.parametrize(
    "code",
    [
        "",
        "a",
        "Astana-Energy",
        "astana.energy",
        "-astana",
        "_astana",
        "astana energy",
        "a" * 64,
        "astana\n",
        "астана",
    ],
)
def test_agency_inbox_refuses_codes_that_make_bad_topic_names(code: str) -> None:
    with pytest.raises(ValueError):
        agency_inbox(code)


def test_every_fixed_topic_is_listed_once() -> None:
    constants = {
        value
        for name, value in vars(topics).items()
        if name.isupper() and isinstance(value, str) and not name.endswith("PATTERN")
    }

    assert len(topics.ALL_FIXED_TOPICS) == len(set(topics.ALL_FIXED_TOPICS)) == 16
    assert set(topics.ALL_FIXED_TOPICS) == constants


# --- classifiers ------------------------------------------------------------------------


def test_every_ikomek_category_is_mapped_to_a_national_category() -> None:
    ikomek_codes = {
        "HEALTHCARE",
        "PUBLIC_TRANSPORT",
        "EDUCATION",
        "ELECTRICITY",
        "UTILITY_BILL",
        "HEATING",
        "WATER",
        "LIFTS",
        "ROADS",
        "WASTE",
        "LIGHTING",
        "OTHER",
    }

    assert set(IKOMEK_CATEGORY_MAP) == ikomek_codes
    assert IKOMEK_CATEGORY_MAP["HEATING"] is Category.UTILITIES_HEATING
    assert IKOMEK_CATEGORY_MAP["HEALTHCARE"] is Category.HEALTH


def test_every_ikomek_district_is_an_astana_kato_code() -> None:
    districts = {"ALMATY", "BAIKONYR", "YESIL", "SARYARKA", "NURA", "SARAISHYK"}

    assert set(IKOMEK_DISTRICT_KATO) == districts
    assert len(set(IKOMEK_DISTRICT_KATO.values())) == len(districts)
    for kato in IKOMEK_DISTRICT_KATO.values():
        assert len(kato) == 9 and kato.isdigit() and kato.startswith("71")


def test_the_classifier_has_the_26_national_categories() -> None:
    assert len(Category) >= 26
    assert Category("utilities.heating") is Category.UTILITIES_HEATING
    assert Category("digital.egov") is Category.DIGITAL_EGOV


def test_every_category_has_kazakh_russian_and_english_titles() -> None:
    assert set(CATEGORY_TITLES) == set(Category)
    for titles in CATEGORY_TITLES.values():
        assert set(titles) == {"kk", "ru", "en"}
        assert all(title.strip() for title in titles.values())


def test_every_region_of_republican_significance_has_names() -> None:
    assert sorted(REGION_KATO) == [
        "10",
        "11",
        "15",
        "19",
        "23",
        "27",
        "31",
        "33",
        "35",
        "39",
        "43",
        "47",
        "55",
        "59",
        "61",
        "62",
        "63",
        "71",
        "75",
        "79",
    ]
    for names in REGION_KATO.values():
        assert set(names) == {"kk", "ru", "en"} and all(names.values())


# --- deterministic ids ------------------------------------------------------------------


def test_deterministic_id_is_stable() -> None:
    first = deterministic_id("routed", "0c5f3f47-5a4e-5d0c-8a37-1f4f6f3e2b10")

    assert first == deterministic_id("routed", "0c5f3f47-5a4e-5d0c-8a37-1f4f6f3e2b10")
    assert uuid.UUID(first).version == 5


def test_deterministic_id_differs_for_different_parts() -> None:
    assert deterministic_id("routed", "e1") != deterministic_id("routed", "e2")
    assert deterministic_id("ab", "c") != deterministic_id("a", "bc")
    assert deterministic_id("abc") != deterministic_id("ab", "c")


def test_deterministic_id_needs_at_least_one_part() -> None:
    with pytest.raises(ValueError):
        deterministic_id()


def test_the_package_exports_what_it_declares() -> None:
    for name in contracts.__all__:
        assert hasattr(contracts, name), name


def test_a_triage_decision_names_a_body_or_a_dismissal_never_both_nor_neither() -> None:
    data = TriageDecided.example().model_dump()
    dismissal = {**data, "agency_code": None, "dismissal": "offensive"}
    assert TriageDecided.model_validate(dismissal).dismissal is DismissalReason.OFFENSIVE

    for wrong in ({**data, "dismissal": "offensive"}, {**data, "agency_code": None}):
        with pytest.raises(ValidationError, match="either a body"):
            TriageDecided.model_validate(wrong)


def test_the_routed_topic_reads_a_routing_decision_or_a_dismissal() -> None:
    adapter = TypeAdapter(RoutingDecision)
    for event in (AppealRouted.example(), AppealDismissed.example()):
        assert adapter.validate_json(event.model_dump_json()) == event
