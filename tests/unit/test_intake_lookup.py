"""Lookup codes (services/intake/lookup.py) and the per-caller rate limit
(services/common/rate_limit.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.clock import ManualClock
from services.common.rate_limit import RateLimiter
from services.common.secret_files import SecretRef
from services.intake.lookup import CROCKFORD, LookupCodes, district_of, lookup_code, normalise

KEY = b"k" * 32


@given(st.text(min_size=1, max_size=40))
def test_a_code_is_eight_unambiguous_characters_in_two_groups(appeal_id: str) -> None:
    code = lookup_code(KEY, appeal_id)
    assert len(code) == 9 and code[4] == "-"
    assert all(char in CROCKFORD for char in code.replace("-", ""))
    assert normalise(code) == code


def test_the_code_depends_on_the_key_and_the_appeal() -> None:
    assert lookup_code(KEY, "a") == lookup_code(KEY, "a")
    assert lookup_code(KEY, "a") != lookup_code(KEY, "b")
    assert lookup_code(KEY, "a") != lookup_code(b"another key", "a")


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("abcd-efgh", "ABCD-EFGH"),
        ("ABCD EFGH", "ABCD-EFGH"),
        ("abcdefgh", "ABCD-EFGH"),
        ("OIL0-1234", "0110-1234"),  # letters people type for digits
        ("ABCD-EFG", None),
        ("ABCD-EFGHJ", None),
        ("ABCD-EFGU", None),  # U is not in the alphabet
        ("", None),
    ],
)
def test_a_code_is_read_forgivingly_but_never_loosely(typed: str, read: str | None) -> None:
    assert normalise(typed) == read


def test_matching_accepts_the_forms_people_type_and_nothing_else() -> None:
    codes = LookupCodes(SecretRef.given(KEY))
    code = codes.code_for("appeal-1")
    assert codes.matches("appeal-1", code.lower())
    assert codes.matches("appeal-1", code.replace("-", " "))
    assert not codes.matches("appeal-2", code)
    assert not codes.matches("appeal-1", "")


def test_the_place_is_cut_to_its_district() -> None:
    assert district_of("751110000") == "751100000"
    assert district_of("711210000") == "711200000"
    assert district_of(None) is None


def test_a_caller_gets_the_burst_then_the_rate_and_is_told_when_to_come_back() -> None:
    clock = ManualClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)
    assert [limiter.check("a").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.check("a")
    assert not refused.allowed and refused.retry_after_seconds == 10
    assert limiter.check("b").allowed  # another caller has its own bucket
    clock.advance(timedelta(seconds=10))
    assert limiter.check("a").allowed
    assert not limiter.check("a").allowed
    clock.advance(timedelta(minutes=10))  # a long pause refills only up to the burst
    assert [limiter.check("a").allowed for _ in range(4)] == [True, True, True, False]


def test_the_limiter_forgets_the_least_recent_callers_beyond_its_bound() -> None:
    clock = ManualClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    limiter = RateLimiter(per_minute=1, burst=1, clock=clock, max_callers=2)
    assert limiter.check("a").allowed and not limiter.check("a").allowed
    limiter.check("b")
    limiter.check("c")  # "a" is dropped
    assert len(limiter._buckets) == 2
    assert limiter.check("a").allowed  # starts full again
