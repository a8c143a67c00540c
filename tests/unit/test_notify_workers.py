"""When an attempt's claim counts as abandoned (services/notify/workers.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notify.workers import ClaimHolder, Worker, abandoned_or_recheck, liveness

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=120)
ALIVE = liveness()
ME = Worker("me-now", "notify-0")


def verdict(claim: ClaimHolder, last_beat: datetime | None = None) -> datetime | None:
    return abandoned_or_recheck(claim, ME, last_beat, NOW, claim_timeout=TIMEOUT, alive_for=ALIVE)


def test_liveness_is_three_missed_beats_and_never_under_fifteen_seconds() -> None:
    assert liveness(5) == timedelta(seconds=15) and liveness(1) == timedelta(seconds=15)
    assert liveness(10) == timedelta(seconds=30)


def test_an_earlier_life_of_this_instance_left_it() -> None:
    claim = ClaimHolder(NOW - timedelta(seconds=2), "me-before", "notify-0")
    assert verdict(claim, last_beat=NOW) is None


def test_a_worker_that_still_beats_is_on_it_until_it_stops_or_the_claim_times_out() -> None:
    claim = ClaimHolder(NOW - timedelta(seconds=2), "other", "notify-1")
    assert verdict(claim, last_beat=NOW - timedelta(seconds=1)) == NOW + timedelta(seconds=14)
    old = ClaimHolder(NOW - timedelta(seconds=119), "other", "notify-1")
    assert verdict(old, last_beat=NOW) == NOW + timedelta(seconds=1)


def test_a_worker_without_a_recent_beat_is_gone() -> None:
    claim = ClaimHolder(NOW - timedelta(seconds=30), "other", "notify-1")
    assert verdict(claim, last_beat=NOW - timedelta(seconds=15)) is None
    assert verdict(claim, last_beat=None) is None


def test_claims_without_an_owner_wait_for_the_timeout() -> None:
    legacy = ClaimHolder(NOW - timedelta(seconds=5), None, None)
    assert verdict(legacy) == NOW + timedelta(seconds=115)
    assert verdict(ClaimHolder(NOW - TIMEOUT, None, None)) is None


def test_without_an_instance_id_only_heartbeats_tell() -> None:
    anonymous = Worker("me-now", None)
    claim = ClaimHolder(NOW - timedelta(seconds=2), "me-before", None)
    assert (
        abandoned_or_recheck(claim, anonymous, NOW, NOW, claim_timeout=TIMEOUT, alive_for=ALIVE)
        == NOW + ALIVE
    )


def test_our_own_claim_no_longer_in_flight_was_left_by_a_failed_attempt() -> None:
    # E.g. the provider took the message, then the store went away before the result was
    # written: the redelivered registration finds our claim, and nobody is on it.
    ours = ClaimHolder(NOW - timedelta(seconds=5), "me-now", "notify-0")
    assert verdict(ours, last_beat=NOW) is None
