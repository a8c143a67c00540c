"""Business-rule checks on channel input (services/intake/validation.py).

Every valid IIN below has its check digit worked out by hand in a comment, following the rule
of DESIGN.md §3: weights 1..11 on the first 11 digits, mod 11; if that gives 10, weights
3,4,5,6,7,8,9,10,11,1,2 mod 11; if that gives 10 again, no check digit is valid.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.intake.validation import (
    CLOCK_SKEW,
    TEXT_MAX_CHARS,
    Problems,
    iin_problem,
    normalise_phone,
    parse_timestamp,
)

PLUS_5 = timezone(timedelta(hours=5))
NOW = datetime(2026, 3, 5, 10, 15, tzinfo=PLUS_5)


def code_of(iin: str) -> str | None:
    problem = iin_problem(iin)
    return problem[0] if problem else None


# --- IIN: valid numbers -------------------------------------------------------------------


def test_the_documented_iin_is_valid() -> None:
    # 9 0 0 1 0 1 3 0 0 0 1 | 7
    # 9*1 + 1*4 + 1*6 + 3*7 + 1*11 = 9 + 4 + 6 + 21 + 11 = 51; 51 mod 11 = 7 = last digit.
    assert iin_problem("900101300017") is None


def test_an_iin_of_a_woman_born_in_the_1990s_is_valid() -> None:
    # 950615 = 15 Jun 1995, century/sex digit 4 (born in the 1900s, female), serial 0123.
    # 9*1 + 5*2 + 0*3 + 6*4 + 1*5 + 5*6 + 4*7 + 0*8 + 1*9 + 2*10 + 3*11
    # = 9 + 10 + 0 + 24 + 5 + 30 + 28 + 0 + 9 + 20 + 33 = 168; 168 mod 11 = 3 (165 = 15*11).
    assert iin_problem("950615401233") is None


def test_an_iin_born_on_29_february_of_the_leap_year_2000_is_valid() -> None:
    # 000229 with century digit 5 = 29 Feb 2000 (2000 is a leap year: divisible by 400).
    # 0 0 0 2 2 9 5 0 0 0 1: 2*4 + 2*5 + 9*6 + 5*7 + 1*11 = 8 + 10 + 54 + 35 + 11 = 118;
    # 118 mod 11 = 8 (110 = 10*11).
    assert iin_problem("000229500018") is None


def test_when_the_first_weights_give_10_the_second_weight_set_decides_the_check_digit() -> None:
    # 9 0 0 1 0 1 3 0 0 8 1, first weights 1..11:
    #   9 + 1*4 + 1*6 + 3*7 + 8*10 + 1*11 = 9 + 4 + 6 + 21 + 80 + 11 = 131; 131 mod 11 = 10.
    # Second weights 3,4,5,6,7,8,9,10,11,1,2:
    #   9*3 + 1*6 + 1*8 + 3*9 + 8*1 + 1*2 = 27 + 6 + 8 + 27 + 8 + 2 = 78; 78 mod 11 = 1.
    assert iin_problem("900101300811") is None
    # 10 is not a digit, so a check digit "0" (10 mod 10) must not slip through either.
    assert code_of("900101300810") == "iin_check_digit"


def test_an_iin_whose_both_weighted_sums_give_10_can_never_be_valid() -> None:
    # 9 0 0 1 0 1 3 0 0 8 0, first weights: 9 + 4 + 6 + 21 + 80 = 120; 120 mod 11 = 10.
    # Second weights: 27 + 6 + 8 + 27 + 8*1 + 0*2 = 76; 76 mod 11 = 10 again.
    for last_digit in "0123456789":
        assert iin_problem("90010130080" + last_digit) == (
            "iin_check_digit",
            "IIN cannot have a valid check digit",
        )


# --- IIN: invalid numbers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "iin",
    ["90010130001", "9001013000170", "", "90010130001A", "9001-0130001", " 900101300017"],
    ids=["11 digits", "13 digits", "empty", "a letter", "a dash", "a leading space"],
)
def test_an_iin_that_is_not_exactly_12_ascii_digits_has_the_wrong_format(iin: str) -> None:
    assert code_of(iin) == "iin_format"


@pytest.mark.parametrize("century_digit", ["0", "7", "8", "9"])
def test_an_iin_whose_7th_digit_is_not_1_to_6_has_no_century(century_digit: str) -> None:
    assert code_of("900101" + century_digit + "00017") == "iin_century"


@pytest.mark.parametrize(
    "iin",
    ["901301300017", "900132300017", "900001300017", "010229500018"],
    ids=["month 13", "day 32", "month 00", "29 Feb 2001 (not a leap year)"],
)
def test_an_iin_that_does_not_start_with_a_real_birth_date_is_refused(iin: str) -> None:
    assert code_of(iin) == "iin_birth_date"


def test_an_iin_with_the_wrong_check_digit_is_refused() -> None:
    # Same first 11 digits as the documented IIN, whose check digit is 7 (51 mod 11).
    assert iin_problem("900101300018") == ("iin_check_digit", "IIN check digit does not match")


def test_an_iin_with_a_trailing_newline_is_reported_as_a_format_problem() -> None:
    assert code_of("900101300017\n") == "iin_format"


def test_an_iin_written_in_non_ascii_digits_is_refused() -> None:
    arabic_indic = "".join(chr(0x0660 + int(c)) for c in "900101300017")
    assert code_of(arabic_indic) == "iin_format"


# --- phones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["8 701 123 45 67", "+7 (701) 123-45-67", "87011234567", "7011234567", "+77011234567"],
)
def test_common_spellings_of_a_kazakh_mobile_number_normalise_to_e164(raw: str) -> None:
    assert normalise_phone(raw) == "+77011234567"


@pytest.mark.parametrize(
    "raw",
    ["12345", "+1 202 555 0100", "", "8 701 123 45 6", "6011234567", "+7 701 123 45 67 8"],
    ids=["too short", "US number", "empty", "10 digits after 8", "10 digits not 7", "12 digits"],
)
def test_a_number_that_is_not_a_kazakh_phone_does_not_normalise(raw: str) -> None:
    assert normalise_phone(raw) is None


# --- timestamps ---------------------------------------------------------------------------


def test_a_timestamp_without_an_offset_is_refused() -> None:
    assert parse_timestamp("2026-03-05T09:31:12") is None
    problems = Problems()
    assert problems.check_timestamp("call_started_at", "2026-03-05T09:31:12", NOW) is None
    assert [(e.field, e.code) for e in problems.errors] == [("call_started_at", "timestamp_format")]


def test_a_timestamp_that_is_not_iso_8601_is_refused() -> None:
    assert parse_timestamp("05.03.2026 09:31") is None


def test_a_timestamp_with_an_offset_keeps_its_instant() -> None:
    # 04:31:12 UTC is 09:31:12 at UTC+5.
    parsed = parse_timestamp("2026-03-05T04:31:12+00:00")
    assert parsed == datetime(2026, 3, 5, 9, 31, 12, tzinfo=PLUS_5)


def test_a_timestamp_in_the_past_is_accepted() -> None:
    problems = Problems()
    value = problems.check_timestamp("created", "2026-03-05T09:31:12+05:00", NOW)
    assert value == datetime(2026, 3, 5, 9, 31, 12, tzinfo=PLUS_5)
    assert problems.errors == []


def test_a_timestamp_ahead_of_our_clock_within_the_skew_is_accepted() -> None:
    assert CLOCK_SKEW == timedelta(minutes=5)
    problems = Problems()
    # 10:19:59 is 4 min 59 s ahead of NOW (10:15); exactly +5 min is still accepted.
    assert problems.check_timestamp("created", "2026-03-05T10:19:59+05:00", NOW) is not None
    assert problems.check_timestamp("created", "2026-03-05T10:20:00+05:00", NOW) is not None
    assert problems.errors == []


def test_a_timestamp_beyond_the_skew_is_refused_as_future() -> None:
    problems = Problems()
    # 10:20:01 is 5 min 1 s ahead of NOW.
    assert problems.check_timestamp("created", "2026-03-05T10:20:01+05:00", NOW) is None
    assert [(e.field, e.code) for e in problems.errors] == [("created", "timestamp_in_future")]


def test_the_future_check_compares_instants_not_wall_clocks() -> None:
    # 05:25 UTC is 10:25 at UTC+5: ten minutes ahead of NOW although "05:25" < "10:15".
    problems = Problems()
    assert problems.check_timestamp("created", "2026-03-05T05:25:00Z", NOW) is None
    assert [e.code for e in problems.errors] == ["timestamp_in_future"]


# --- collecting problems ------------------------------------------------------------------


def test_problems_collects_every_error_with_its_dotted_field_and_code() -> None:
    problems = Problems()
    problems.check_iin("caller.iin", "900101300018")
    problems.check_phone("caller.phone", "12345")
    problems.check_language("lang", "de")
    problems.check_category("topic_code", "utilities.teleportation")
    problems.check_kato("kato_code", "71121000")
    problems.check_text("summary", "   ")
    problems.check_timestamp("call_started_at", "yesterday", NOW)

    assert [(e.field, e.code) for e in problems.errors] == [
        ("caller.iin", "iin_check_digit"),
        ("caller.phone", "phone_format"),
        ("lang", "language_unknown"),
        ("topic_code", "category_unknown"),
        ("kato_code", "kato_format"),
        ("summary", "text_empty"),
        ("call_started_at", "timestamp_format"),
    ]
    assert all(e.message for e in problems.errors)


def test_valid_values_add_no_problems_and_come_back_normalised() -> None:
    problems = Problems()
    problems.check_iin("caller.iin", "900101300017")
    assert problems.check_phone("caller.phone", "8 701 123 45 67") == "+77011234567"
    assert problems.check_language("lang", "kk") == "kk"
    assert problems.check_category("topic_code", "utilities.heating") == "utilities.heating"
    assert problems.check_kato("kato_code", "711210000") == "711210000"
    problems.check_text("summary", "Пәтерде жылу жоқ.")
    assert problems.errors == []


def test_a_missing_iin_or_phone_is_not_a_problem() -> None:
    problems = Problems()
    problems.check_iin("caller.iin", None)
    assert problems.check_phone("caller.phone", None) is None
    assert problems.check_phone("caller.phone", "") is None
    assert problems.errors == []


def test_a_text_longer_than_the_limit_is_refused_but_one_at_the_limit_is_not() -> None:
    problems = Problems()
    problems.check_text("summary", "а" * TEXT_MAX_CHARS)
    assert problems.errors == []
    problems.check_text("summary", "а" * (TEXT_MAX_CHARS + 1))
    assert [e.code for e in problems.errors] == ["text_too_long"]


def test_a_kato_code_with_a_trailing_newline_is_refused() -> None:
    problems = Problems()
    problems.check_kato("kato_code", "711210000\n")
    assert [e.code for e in problems.errors] == ["kato_format"]
