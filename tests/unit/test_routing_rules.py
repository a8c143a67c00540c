"""Routing rules beyond the golden table: Art. 65 forwarding deadlines, urgent anonymous
reports, the classification threshold, redirect chains with loop protection, triage and the
operator's decision (services/routing/decisions.py, classifier.py). Pure: no broker, no store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from contracts import (
    AppealRedirected,
    AppealRegistered,
    Applicant,
    Category,
    TriageDecided,
)
from services.routing.classifier import TextClassifier
from services.routing.decisions import (
    Routed,
    RoutingState,
    Rules,
    Triaged,
    decide_operator,
    decide_redirect,
    decide_route,
)
from services.routing.policy import RoutingPolicy
from services.routing.ranking import competent_bodies

ASTANA_YESIL = "711610000"
NOW = datetime.fromisoformat("2026-03-06T15:10:00+05:00")


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.default()


def appeal(**changes: Any) -> AppealRegistered:
    data = AppealRegistered.example().model_dump()
    data.update(changes)
    return AppealRegistered.model_validate(data)


def redirect(agency: str, suggested: str | None = None, n: int = 1) -> AppealRedirected:
    data = AppealRedirected.example().model_dump()
    data.update(
        agency_code=agency,
        suggested_agency_code=suggested,
        action_id=f"{agency}/redirected/{n}",
        reason="Не наша компетенция.",
    )
    return AppealRedirected.model_validate(data)


def routed(decision: object) -> Routed:
    assert isinstance(decision, Routed), decision
    return decision


def triaged(decision: object) -> Triaged:
    assert isinstance(decision, Triaged), decision
    return decision


# --- Art. 65 forwarding ------------------------------------------------------------------------


def test_a_forwarded_appeal_carries_a_three_working_day_deadline_over_nauryz(
    rules: Rules,
) -> None:
    # Registered Fri 20 Mar 2026; 21-22 are a weekend, 23-25 Nauryz days off:
    # Thu 26 (1), Fri 27 (2), Mon 30 (3).
    friday = datetime.fromisoformat("2026-03-20T10:00:00+05:00")
    wrong_body = appeal(
        category=Category.OTHER,
        addressed_to="ministry-agriculture",
        subject="Лифт",
        text="Лифт не работает вторую неделю.",
        region_kato=ASTANA_YESIL,
        received_at=friday,
        registered_at=friday,
    )

    decision = routed(decide_route(wrong_body, rules.registry, rules))

    assert decision.agency.code == "astana-housing"
    assert decision.forwarded is True
    assert decision.forward_due_at == datetime.fromisoformat("2026-03-30T18:00:00+05:00")
    assert "ministry of agriculture" in decision.reason.lower()


def test_the_documented_example_forwarding_deadline_skips_the_march_8_transfer(
    rules: Rules,
) -> None:
    # Registered Thu 5 Mar 2026; Mon 9 Mar is off (8 Mar fell on a Sunday).
    decision = routed(decide_route(appeal(addressed_to="ministry-justice"), rules.registry, rules))
    assert decision.forward_due_at == datetime.fromisoformat("2026-03-11T18:00:00+05:00")


def test_an_appeal_sent_straight_to_its_competent_body_has_no_forwarding_deadline(
    rules: Rules,
) -> None:
    decision = routed(decide_route(appeal(), rules.registry, rules))
    assert (decision.forwarded, decision.forward_due_at) == (False, None)


# --- urgent anonymous reports ------------------------------------------------------------------


def test_an_urgent_anonymous_report_without_a_place_goes_to_the_ministry_of_internal_affairs(
    rules: Rules,
) -> None:
    report = appeal(
        category=Category.CORRUPTION,
        region_kato=None,
        urgent=True,
        applicant=Applicant(anonymous=True),
    )
    decision = routed(decide_route(report, rules.registry, rules))
    assert decision.agency.code == "ministry-internal-affairs"
    assert decision.rule_id == "urgent-anonymous-internal-affairs"


def test_an_urgent_report_with_a_named_applicant_follows_the_ordinary_rules(
    rules: Rules,
) -> None:
    report = appeal(category=Category.CORRUPTION, urgent=True)
    decision = routed(decide_route(report, rules.registry, rules))
    assert decision.agency.code == "anti-corruption-agency"
    assert decision.rule_id == "most-specific-competent-body"


# --- text classification -----------------------------------------------------------------------


def test_the_classification_threshold_is_configurable(rules: Rules) -> None:
    # One weak keyword ("батаре" is strong, "тепл" is not): confidence 0.5.
    lukewarm = appeal(category=Category.OTHER, text="Дома не тепло.")
    lenient = Rules(
        rules.registry,
        rules.classifier,
        RoutingPolicy(classification_threshold=0.4),
        rules.calendar,
    )

    assert isinstance(decide_route(lukewarm, rules.registry, rules), Triaged)
    decision = routed(decide_route(lukewarm, lenient.registry, lenient))
    assert decision.agency.code == "astana-energy"
    assert decision.rule_id == "text-classified-competent-body"
    assert decision.rule_version.endswith(rules.classifier.version)
    assert "confidence 0.50" in decision.reason


def test_a_triaged_appeal_lists_candidates_most_likely_first_and_the_general_body_last(
    rules: Rules,
) -> None:
    unclear = appeal(category=Category.OTHER, text="Проблема возле остановки, напротив дороги.")
    decision = triaged(decide_route(unclear, rules.registry, rules))

    codes = [c.agency_code for c in decision.candidates]
    assert set(codes[:2]) == {"astana-roads", "astana-transport"}
    assert codes[-1] == "akimat-astana"
    assert len(codes) == len(set(codes)) <= rules.policy.triage_candidates
    assert [c.confidence for c in decision.candidates] == sorted(
        (c.confidence for c in decision.candidates), reverse=True
    )
    assert "threshold 0.60" in decision.reason


def test_a_category_only_the_catch_all_takes_is_read_from_the_text(rules: Rules) -> None:
    # Business without a place: only the Government Office takes it nationally, and the
    # text is about gas. Lifts without a place have a ministry: the text is not consulted.
    gas = appeal(category=Category.BUSINESS, region_kato=None, text="Нет газа, запах газа в кафе.")
    lifts = appeal(category=Category.LIFTS, region_kato=None, text="Нет газа.")

    by_text = routed(decide_route(gas, rules.registry, rules))
    assert (by_text.agency.code, by_text.rule_id) == (
        "ministry-energy",
        "text-classified-competent-body",
    )
    by_category = routed(decide_route(lifts, rules.registry, rules))
    assert (by_category.agency.code, by_category.rule_id) == (
        "ministry-industry-construction",
        "most-specific-competent-body",
    )


def test_an_uncovered_category_with_an_inconclusive_text_falls_back_to_the_government_office(
    rules: Rules,
) -> None:
    business = appeal(category=Category.BUSINESS, region_kato=None, text="Прошу разъяснить.")
    decision = routed(decide_route(business, rules.registry, rules))
    assert (decision.agency.code, decision.rule_id) == ("government-office", "national-fallback")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Батареи холодные, в батареях нет тепла", Category.UTILITIES_HEATING),
        ("Жылумен жабдықтау тоқтады, жылуы жоқ", Category.UTILITIES_HEATING),
        ("Мектепте мұғалімдер жетіспейді", Category.EDUCATION),
        ("Зейнетақымды алмадым", Category.SOCIAL_PENSION),
        ("Ауладағы қоқыс жәшіктері толып кетті, қоқысты шығармайды", Category.WASTE),
        ("Парақор шенеунік", Category.CORRUPTION),
    ],
)
def test_the_classifier_matches_kazakh_and_russian_word_forms(
    text: str, category: Category
) -> None:
    result = TextClassifier.default().classify(text)
    assert result.best is not None and result.best.category is category
    assert result.confidence >= 0.6


def test_an_exact_word_stem_does_not_match_longer_words() -> None:
    # "газ$" must not read "газета" or "газон" as gas.
    assert TextClassifier.default().classify("Газета про газон").best is None


def test_competing_evidence_lowers_the_confidence() -> None:
    result = TextClassifier.default().classify("Яма на дороге у остановки")
    roads, transport = result.scores[:2]
    assert (roads.category, transport.category) == (Category.ROADS, Category.TRANSPORT_PUBLIC)
    assert 0 < transport.confidence < roads.confidence < 1


# --- redirects ---------------------------------------------------------------------------------


def heating_state(*declined: str, holder: str = "astana-energy") -> RoutingState:
    return RoutingState(
        hop=len(declined),
        agency_code=holder,
        category=Category.UTILITIES_HEATING,
        declined_by=declined,
        held_by=(*declined, holder),
    )


def test_a_redirect_goes_to_the_next_competent_body_upward(rules: Rules) -> None:
    decision = routed(
        decide_redirect(appeal(), heating_state(), redirect("astana-energy"), rules, NOW)
    )
    assert decision.agency.code == "akimat-astana"
    assert decision.rule_id == "redirect-to-next-competent-body"
    assert decision.forwarded is True
    assert "Energy and Utilities Department of Astana declined" in decision.reason
    # Fri 6 Mar 2026 → Tue 10 (1; Mon 9 off), Wed 11 (2), Thu 12 (3).
    assert decision.forward_due_at == datetime.fromisoformat("2026-03-12T18:00:00+05:00")


def test_a_redirect_follows_the_suggestion_of_a_body_with_jurisdiction(rules: Rules) -> None:
    decision = routed(
        decide_redirect(
            appeal(),
            heating_state(),
            redirect("astana-energy", suggested="akimat-astana-almaty"),
            rules,
            NOW,
        )
    )
    assert decision.agency.code == "akimat-astana-almaty"
    assert decision.rule_id == "redirect-to-suggested-body"


def test_a_suggestion_without_jurisdiction_over_the_place_is_not_followed(rules: Rules) -> None:
    decision = routed(
        decide_redirect(
            appeal(),
            heating_state(),
            redirect("astana-energy", suggested="akimat-shymkent"),
            rules,
            NOW,
        )
    )
    assert decision.agency.code == "akimat-astana"
    assert "no jurisdiction" in decision.reason


def test_a_redirect_chain_never_returns_to_a_body_that_declined(rules: Rules) -> None:
    # energy declines suggesting the akimat; the akimat declines suggesting energy again.
    first = routed(
        decide_redirect(
            appeal(), heating_state(), redirect("astana-energy", "akimat-astana"), rules, NOW
        )
    )
    state = heating_state("astana-energy", holder=first.agency.code)
    second = routed(
        decide_redirect(appeal(), state, redirect("akimat-astana", "astana-energy"), rules, NOW)
    )

    assert first.agency.code == "akimat-astana"
    assert second.agency.code == "ministry-energy"
    assert "already declined" in second.reason


def test_more_declines_than_the_hop_limit_send_the_appeal_to_triage(rules: Rules) -> None:
    state = heating_state("astana-energy", "akimat-astana", holder="ministry-energy")
    strict = Rules(rules.registry, rules.classifier, RoutingPolicy(max_hops=2), rules.calendar)

    decision = triaged(decide_redirect(appeal(), state, redirect("ministry-energy"), strict, NOW))

    assert decision.reason_code == "max_hops"
    codes = [c.agency_code for c in decision.candidates]
    assert "government-office" in codes
    assert not {"astana-energy", "akimat-astana", "ministry-energy"} & set(codes)


def test_when_every_competent_body_has_declined_the_appeal_goes_to_triage(rules: Rules) -> None:
    everyone = [
        b.code for b in competent_bodies(rules.registry, Category.UTILITIES_HEATING, "711210000")
    ]
    *declined, last = everyone
    generous = Rules(rules.registry, rules.classifier, RoutingPolicy(max_hops=10), rules.calendar)

    decision = triaged(
        decide_redirect(
            appeal(), heating_state(*declined, holder=last), redirect(last), generous, NOW
        )
    )
    assert decision.reason_code == "no_competent_body_left"


# --- the operator's decision -------------------------------------------------------------------


def operator_choice(agency: str, category: Category | None = None) -> TriageDecided:
    data = TriageDecided.example().model_dump()
    data.update(agency_code=agency, category=category)
    return TriageDecided.model_validate(data)


def test_the_operator_decision_is_routed_with_the_operator_as_the_reason(rules: Rules) -> None:
    state = RoutingState(hop=0, agency_code=None, category=Category.OTHER)
    decision = routed(
        decide_operator(
            appeal(category=Category.OTHER),
            state,
            operator_choice("akimat-astana-almaty", Category.HOUSING),
            rules,
            NOW,
        )
    )
    assert decision.agency.code == "akimat-astana-almaty"
    assert decision.rule_id == "triage-operator-decision"
    assert decision.category is Category.HOUSING
    assert "op.madina.s" in decision.reason and "ОСИ" in decision.reason
    assert decision.forwarded is False


def test_an_operator_decision_after_declines_is_a_forwarding(rules: Rules) -> None:
    state = RoutingState(
        hop=3,
        agency_code=None,
        category=Category.UTILITIES_HEATING,
        declined_by=("astana-energy",),
        held_by=("astana-energy",),
    )
    decision = routed(
        decide_operator(appeal(), state, operator_choice("astana-energy"), rules, NOW)
    )
    assert decision.agency.code == "astana-energy"  # a human may overrule a decline
    assert decision.forwarded is False  # it goes back to the body that last held it
    other = routed(decide_operator(appeal(), state, operator_choice("akimat-astana"), rules, NOW))
    assert other.forwarded is True and other.forward_due_at is not None


def test_an_operator_choice_missing_from_the_registry_goes_back_to_triage(rules: Rules) -> None:
    state = RoutingState(hop=0, agency_code=None, category=Category.OTHER)
    decision = triaged(
        decide_operator(appeal(), state, operator_choice("ministry-of-magic"), rules, NOW)
    )
    assert decision.reason_code == "operator_chose_unknown_body"
