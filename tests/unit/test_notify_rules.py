"""The rule table (services/notify/rules.py): who is told what, as data."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRedirected,
    AppealRegistered,
    AppealRejected,
    AppealRouted,
    DeadlineExtended,
    DeadlineKind,
    Language,
    RecipientRole,
    SlaBreached,
    SlaStopped,
    SlaTimerStarted,
    SlaWarning,
)
from services.notify.directory import StaffDirectory, load_agency_names
from services.notify.rules import (
    CONDITIONS,
    RULES,
    AppealView,
    rules_for,
    staff_codes,
    template_variables,
)
from services.notify.store import appeal_document, appeal_from_document
from services.notify.templates import TEMPLATES, VARIABLES, render

ALMATY = ZoneInfo("Asia/Almaty")


def name_of(code: str, language: Language) -> str:
    return f"{code}/{language}"


def test_every_rule_names_an_existing_template_and_condition() -> None:
    for rule in RULES:
        assert rule.template in TEMPLATES, rule
        assert rule.when in CONDITIONS, rule


def test_no_event_tells_the_same_recipient_twice_with_the_same_template() -> None:
    keys = [(r.event_type, r.role, r.template) for r in RULES]
    assert len(keys) == len(set(keys))


def test_a_registration_tells_the_citizen_the_number_and_deadline() -> None:
    [rule] = rules_for(AppealRegistered.example())
    assert (rule.role, rule.template, rule.mandatory) == (
        RecipientRole.CITIZEN,
        "appeal_registered",
        True,
    )


def test_routing_tells_the_receiving_desk_and_only_on_forwarding_the_citizen() -> None:
    routed = AppealRouted.example()
    assert [r.template for r in rules_for(routed)] == ["new_assignment"]
    forwarded = routed.model_copy(update={"forwarded": True})
    assert [r.template for r in rules_for(forwarded)] == ["appeal_forwarded", "new_assignment"]


def test_only_an_anonymous_rejection_with_a_contact_tells_the_citizen() -> None:
    rejected = AppealRejected.example()
    assert rules_for(rejected) == []  # validation failures are the channel's to explain
    anonymous = rejected.model_copy(update={"reason_code": "anonymous_not_considered"})
    assert [r.template for r in rules_for(anonymous)] == ["anonymous_not_considered"]
    unreachable = anonymous.model_copy(update={"applicant_contact": None})
    assert rules_for(unreachable) == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (AppealAccepted.example(), [(RecipientRole.CITIZEN, "appeal_accepted", False)]),
        (DeadlineExtended.example(), [(RecipientRole.CITIZEN, "deadline_extended", True)]),
        (AppealAnswered.example(), [(RecipientRole.CITIZEN, "appeal_answered", True)]),
        (SlaWarning.example(), [(RecipientRole.OFFICER, "sla_warning", True)]),
        (
            SlaBreached.example(),
            [
                (RecipientRole.SUPERVISOR, "sla_breached", True),
                (RecipientRole.CITIZEN, "answer_deadline_passed", True),
            ],
        ),
        (
            SlaBreached.example().model_copy(update={"deadline_kind": DeadlineKind.FORWARDING}),
            [(RecipientRole.SUPERVISOR, "sla_breached", True)],
        ),
        (AppealRedirected.example(), []),
        (SlaTimerStarted.example(), []),
        (SlaStopped.example(), []),
    ],
)
def test_each_event_has_its_recipients_templates_and_legal_weight(event, expected) -> None:
    assert [(r.role, r.template, r.mandatory) for r in rules_for(event)] == expected


def test_breaches_are_urgent_and_go_to_every_escalation_target() -> None:
    breached = SlaBreached.example()
    [rule, citizens] = rules_for(breached)
    assert rule.urgent and not citizens.urgent
    assert staff_codes(rule, breached) == ["astana-akimat", "prosecutor-astana"]
    nobody_named = breached.model_copy(update={"escalate_to": []})
    assert staff_codes(rule, nobody_named) == ["astana-energy"]


def test_the_only_optional_notice_is_the_acceptance() -> None:
    assert [r.template for r in RULES if not r.mandatory] == ["appeal_accepted"]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.event_type}->{r.template}")
@pytest.mark.parametrize("language", [Language.KK, Language.RU])
def test_every_rule_fills_exactly_its_templates_variables(rule, language) -> None:
    event_class = {
        "appeal.registered": AppealRegistered,
        "appeal.rejected": AppealRejected,
        "appeal.routed": AppealRouted,
        "appeal.dismissed": AppealDismissed,
        "agency.accepted": AppealAccepted,
        "agency.extended": DeadlineExtended,
        "agency.answered": AppealAnswered,
        "sla.warning": SlaWarning,
        "sla.breached": SlaBreached,
        "sla.started": SlaTimerStarted,
    }[rule.event_type]
    event = event_class.example()
    if isinstance(event, DeadlineExtended):  # one whose proposed day was a day off
        event = moved_extension()
    if isinstance(event, SlaTimerStarted):  # one the calendar moved
        event = moved_by_the_calendar()
    appeal = AppealView.from_registered(AppealRegistered.example())

    variables = template_variables(rule.template, event, appeal, language, name_of, ALMATY)

    assert set(variables) == VARIABLES[rule.template]
    assert all(isinstance(v, str) and v for v in variables.values())


def moved_by_the_calendar() -> SlaTimerStarted:
    return SlaTimerStarted.example().model_copy(
        update={
            "generation": 2,
            "previous_due_at": datetime(2026, 4, 1, 18, tzinfo=ALMATY),
            "due_at": datetime(2026, 4, 2, 18, tzinfo=ALMATY),
            "moved_because": "the working-day calendar changed",
            "calendar_version": "kz-calendar-2026.2+0123abcd",
        }
    )


def test_a_deadline_the_calendar_moved_tells_the_citizen_the_new_date_only_for_the_answer() -> None:
    moved = moved_by_the_calendar()
    assert [(r.role, r.template, r.mandatory) for r in rules_for(moved)] == [
        (RecipientRole.CITIZEN, "answer_date_moved", True)
    ]
    forwarding = moved.model_copy(update={"deadline_kind": DeadlineKind.FORWARDING})
    assert rules_for(forwarding) == [] and rules_for(SlaTimerStarted.example()) == []
    appeal = AppealView.from_registered(AppealRegistered.example())
    variables = template_variables("answer_date_moved", moved, appeal, Language.RU, name_of, ALMATY)
    text = render("answer_date_moved", Language.RU, variables)
    assert "до 02.04.2026 18:00 вместо 01.04.2026 18:00" in text


def moved_extension() -> DeadlineExtended:
    # Proposed Saturday 2 May 2026; Friday 1 May is a holiday: the term ends Monday 4 May.
    return DeadlineExtended.example().model_copy(
        update={
            "new_due_at": datetime(2026, 5, 4, 18, tzinfo=ALMATY),
            "proposed_due_at": datetime(2026, 5, 2, 12, tzinfo=ALMATY),
            "moved_from_day_off": date(2026, 5, 2),
        }
    )


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        (Language.RU, "Орган назвал 02.05.2026 — это выходной день"),
        (Language.KK, "Орган 02.05.2026 күнін ұсынды, ол — демалыс күні"),
    ],
)
def test_the_extension_notice_says_which_day_the_term_became_and_why(
    language: Language, sentence: str
) -> None:
    appeal = AppealView.from_registered(AppealRegistered.example())
    moved = template_variables(
        "deadline_extended", moved_extension(), appeal, language, name_of, ALMATY
    )
    text = render("deadline_extended", language, moved)
    assert "04.05.2026 18:00" in text and sentence in text
    as_proposed = template_variables(
        "deadline_extended", DeadlineExtended.example(), appeal, language, name_of, ALMATY
    )
    assert as_proposed["moved"] == ""
    assert "  " not in render("deadline_extended", language, as_proposed)


def test_dates_in_variables_are_almaty_local_time() -> None:
    appeal = AppealView.from_registered(AppealRegistered.example())
    variables = template_variables(
        "deadline_extended", DeadlineExtended.example(), appeal, Language.RU, name_of, ALMATY
    )
    assert variables["new_due_at"] == "30.04.2026 18:00"


def test_the_answer_outcome_is_worded_in_the_recipients_language() -> None:
    appeal = AppealView.from_registered(AppealRegistered.example())
    kk = template_variables(
        "appeal_answered", AppealAnswered.example(), appeal, Language.KK, name_of, ALMATY
    )
    ru = template_variables(
        "appeal_answered", AppealAnswered.example(), appeal, Language.RU, name_of, ALMATY
    )
    assert (kk["outcome"], ru["outcome"]) == ("қанағаттандырылды", "удовлетворено")


def test_the_appeal_projection_round_trips_through_its_document() -> None:
    appeal = AppealView.from_registered(AppealRegistered.example())
    assert appeal_from_document(appeal_document(appeal)) == appeal


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (Language.RU, ["считается отказом", "в вышестоящий орган (Акимат города Астана)", "в суд"]),
        (Language.KK, ["бас тарту болып саналады", "сотқа"]),
    ],
)
def test_silence_tells_the_citizen_it_is_a_refusal_and_where_to_complain(
    language: Language, words: list[str]
) -> None:
    breached = SlaBreached.example()  # astana-energy, whose parent is the city's akimat
    appeal = AppealView.from_registered(AppealRegistered.example())
    directory = StaffDirectory({}, load_agency_names())
    variables = template_variables(
        "answer_deadline_passed",
        breached,
        appeal,
        language,
        directory.agency_name,
        ALMATY,
        directory.supervising_body,
    )
    text = render("answer_deadline_passed", language, variables)
    assert appeal.registration_number in text and "01.04.2026 18:00" in text
    assert all(word in text for word in words), text
    # A body with no supervising body: the court only.
    alone = template_variables(
        "answer_deadline_passed", breached, appeal, language, directory.agency_name, ALMATY
    )
    assert alone["complain_to"] in (" сотқа", " в суд")


def test_the_answer_notice_tells_how_to_rate_it_and_where_a_contest_goes() -> None:
    appeal = AppealView.from_registered(AppealRegistered.example())
    answer = AppealAnswered.example()  # astana-energy, whose parent is the city's akimat
    directory = StaffDirectory({}, load_agency_names())
    ru = template_variables(
        "appeal_answered",
        answer,
        appeal,
        Language.RU,
        directory.agency_name,
        ALMATY,
        directory.supervising_body,
    )
    number = appeal.registration_number
    assert f"«{number} 1» — удовлетворены" in ru["feedback"]
    assert "повторная жалоба в вышестоящий орган (Акимат города Астана)" in ru["feedback"]
    text = render("appeal_answered", Language.RU, ru)
    assert text.endswith(ru["feedback"]) and "Как получить ответ" in text
    # A body no one supervises: the rating only.
    top = answer.model_copy(update={"agency_code": "government-office"})
    kk = template_variables(
        "appeal_answered",
        top,
        appeal,
        Language.KK,
        directory.agency_name,
        ALMATY,
        directory.supervising_body,
    )
    assert f"«{number} 2» — қанағаттанбаймын." in kk["feedback"]
    assert "шағым" not in kk["feedback"]


def test_a_dismissal_tells_the_citizen_the_ground_the_note_and_that_it_can_be_appealed() -> None:
    dismissed = AppealDismissed.example().model_copy(update={"note": "Контактов нет"})
    appeal = AppealView.from_registered(AppealRegistered.example())
    [rule] = rules_for(dismissed)
    assert (rule.role, rule.template, rule.mandatory) == (
        RecipientRole.CITIZEN,
        "appeal_dismissed",
        True,
    )

    text = render(
        "appeal_dismissed",
        Language.RU,
        template_variables(rule.template, dismissed, appeal, Language.RU, name_of, ALMATY),
    )
    assert text.startswith("Ваше обращение № ZH-20260305-000123 оставлено без рассмотрения: ")
    assert "невозможно установить суть обращения. Контактов нет. " in text
    assert "обжаловать" in text
