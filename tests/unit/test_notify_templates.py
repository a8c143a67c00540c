"""Citizen-facing message templates (services/notify/templates.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from contracts import Language
from reference.calendar import DEFAULT_TIME_ZONE
from services.notify.templates import TEMPLATES, local_time, lookup_sentence, render

UTC = UTC

REGISTERED_VARIABLES = {
    "registration_number": "ZH-20260305-7KQ4XW2M",
    "registered_at": "05.03.2026 10:15",
    "answer_due_at": "01.04.2026 18:00",
    "lookup": " Код для проверки статуса: P3RM-9TQ5.",
}


def test_every_template_exists_in_kazakh_russian_and_english() -> None:
    assert TEMPLATES, "no templates defined"
    for name, by_language in TEMPLATES.items():
        assert set(by_language) == {Language.KK, Language.RU, Language.EN}, name


@pytest.mark.parametrize("language", list(Language))
def test_rendering_with_every_variable_leaves_no_placeholder(language: Language) -> None:
    text = render("appeal_registered", language, REGISTERED_VARIABLES)

    assert "$" not in text
    for value in REGISTERED_VARIABLES.values():
        assert value in text


@pytest.mark.parametrize("language", list(Language))
def test_rendering_without_a_variable_raises_rather_than_sending_half_a_text(
    language: Language,
) -> None:
    incomplete = {k: v for k, v in REGISTERED_VARIABLES.items() if k != "answer_due_at"}
    with pytest.raises(KeyError, match="answer_due_at"):
        render("appeal_registered", language, incomplete)


@pytest.mark.parametrize("language", list(Language))
def test_the_registration_notice_gives_the_lookup_code_when_there_is_one(
    language: Language,
) -> None:
    with_code = render(
        "appeal_registered",
        language,
        {**REGISTERED_VARIABLES, "lookup": lookup_sentence("P3RM-9TQ5", language)},
    )
    assert "P3RM-9TQ5" in with_code and with_code.endswith("P3RM-9TQ5.")
    # An appeal registered before codes existed: the notice simply ends after the deadline.
    without = render(
        "appeal_registered",
        language,
        {**REGISTERED_VARIABLES, "lookup": lookup_sentence(None, language)},
    )
    assert without.endswith(".") and "9TQ5" not in without and "  " not in without


def test_an_unknown_template_name_raises() -> None:
    with pytest.raises(KeyError):
        render("appeal_teleported", Language.EN, REGISTERED_VARIABLES)


ALMATY = ZoneInfo(DEFAULT_TIME_ZONE)


def test_local_time_shows_a_utc_instant_in_almaty_time() -> None:
    # Kazakhstan is UTC+5 since 2024-03-01: 13:00 UTC is 18:00 in Almaty.
    assert local_time(datetime(2026, 4, 1, 13, 0, tzinfo=UTC), ALMATY) == "01.04.2026 18:00"


def test_local_time_moves_to_the_next_day_when_utc_evening_is_after_midnight_in_almaty() -> None:
    # 20:30 UTC on 31 Mar + 5 h = 01:30 on 1 Apr.
    assert local_time(datetime(2026, 3, 31, 20, 30, tzinfo=UTC), ALMATY) == "01.04.2026 01:30"


def test_local_time_of_an_instant_already_at_plus_5_is_unchanged() -> None:
    plus_5 = timezone(timedelta(hours=5))
    assert local_time(datetime(2026, 3, 5, 10, 15, tzinfo=plus_5), ALMATY) == "05.03.2026 10:15"


def test_a_value_that_looks_like_code_is_inserted_literally_never_evaluated() -> None:
    hostile = "${__import__('os')}"
    variables = {**REGISTERED_VARIABLES, "registration_number": hostile}

    text = render("appeal_registered", Language.EN, variables)

    assert hostile in text
    assert "module" not in text  # what str(__import__('os')) would have produced


def test_a_value_that_names_another_placeholder_is_not_substituted_again() -> None:
    variables = {**REGISTERED_VARIABLES, "registration_number": "$answer_due_at"}

    text = render("appeal_registered", Language.RU, variables)

    assert "$answer_due_at" in text


# --- every template, every language ---------------------------------------------------------

from string import Template  # noqa: E402

from contracts import AnswerOutcome, DeadlineKind  # noqa: E402
from services.notify.templates import (  # noqa: E402
    DEADLINE_WORDS,
    OUTCOME_WORDS,
    SUBJECTS,
    VARIABLES,
    render_subject,
)


def _placeholders(template: Template) -> set[str]:
    return {
        match.group("named") or match.group("braced")
        for match in template.pattern.finditer(template.template)
        if match.group("named") or match.group("braced")
    }


def test_every_template_has_a_subject_and_a_variable_list() -> None:
    assert set(TEMPLATES) == set(SUBJECTS) == set(VARIABLES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("language", list(Language))
def test_every_template_renders_every_variable_in_every_language(
    name: str, language: Language
) -> None:
    variables = {var: f"<{var}-value>" for var in VARIABLES[name]}

    body = render(name, language, variables)
    subject = render_subject(name, language, variables)

    assert _placeholders(TEMPLATES[name][language]) == VARIABLES[name]
    assert _placeholders(SUBJECTS[name][language]) <= VARIABLES[name]
    for value in variables.values():
        assert value in body, f"{name}/{language} does not show {value}"
    assert "$" not in body and "$" not in subject
    assert subject.strip()


def test_templates_in_different_languages_are_really_translated() -> None:
    for name, by_language in TEMPLATES.items():
        texts = [t.template for t in by_language.values()]
        assert len(set(texts)) == len(texts), name


def test_every_outcome_and_deadline_kind_has_words_in_every_language() -> None:
    assert set(OUTCOME_WORDS) == set(AnswerOutcome)
    assert set(DEADLINE_WORDS) == set(DeadlineKind)
    for words in (*OUTCOME_WORDS.values(), *DEADLINE_WORDS.values()):
        assert set(words) == set(Language) and all(words.values())


def test_local_time_follows_the_time_zone_it_is_given() -> None:
    # The same instant in Tokyo (UTC+9): a deployment in another zone shows its own time.
    assert local_time(datetime(2026, 4, 1, 13, 0, tzinfo=UTC), ZoneInfo("Asia/Tokyo")) == (
        "01.04.2026 22:00"
    )
