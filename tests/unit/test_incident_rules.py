"""Mass incidents' rules (services/routing/incidents.py): the threshold within the window,
one place, replay-safe and deterministic."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contracts import Category, GeoPoint
from services.routing.incidents import (
    ClusterRule,
    Grew,
    KeyState,
    Opened,
    Sighting,
    cluster_key,
    district_of,
    metres_between,
    observe,
    observe_all,
)

T0 = datetime(2026, 1, 20, 7, 0, tzinfo=ZoneInfo("Asia/Almaty"))
RULE = ClusterRule(threshold=5, window_minutes=120, distance_m=300)
KEY = cluster_key("astana-energy", Category.UTILITIES_HEATING, "7112")
BUILDING = GeoPoint(lat=51.1282, lon=71.4304)
ACROSS_TOWN = GeoPoint(lat=51.1700, lon=71.4900)  # ~6 km away


def call(n: int, minutes: float, where: GeoPoint | None = BUILDING) -> Sighting:
    return Sighting(f"a{n:03d}", f"ZH-20260120-{n:06d}", T0 + timedelta(minutes=minutes), where)


def run(sightings: list[Sighting], rule: ClusterRule = RULE) -> tuple[KeyState, list]:
    state, changes = KeyState(), []
    for s in sightings:
        seen = observe(state, KEY, s, rule)
        state = seen.state
        if seen.change is not None:
            changes.append(seen.change)
    return state, changes


def test_the_threshold_within_the_window_opens_one_incident_and_then_it_grows() -> None:
    _, changes = run([call(n, n * 3) for n in range(1, 51)])  # 50 calls in 2.5 hours

    opened, *grew = changes
    assert isinstance(opened, Opened)
    assert [m.appeal_id for m in opened.members] == ["a001", "a002", "a003", "a004", "a005"]
    assert all(isinstance(g, Grew) and g.incident_id == opened.incident_id for g in grew)
    assert [g.member_count for g in grew] == list(range(6, 51))


def test_fewer_than_the_threshold_within_the_window_is_no_incident() -> None:
    # Five calls, but never five within two hours.
    _, changes = run([call(n, n * 40) for n in range(1, 6)])
    assert changes == []


def test_far_apart_in_one_district_are_two_places_and_no_incident() -> None:
    sightings = [call(n, n, BUILDING if n % 2 else ACROSS_TOWN) for n in range(1, 9)]
    state, changes = run(sightings)
    assert changes == []  # four and four: neither reaches five
    assert len(state.groups) == 2
    assert metres_between(BUILDING, ACROSS_TOWN) > RULE.distance_m


def test_a_call_without_coordinates_counts_in_the_district() -> None:
    sightings = [call(1, 0), call(2, 1, None), call(3, 2), call(4, 3, None), call(5, 4)]
    _, [opened] = run(sightings)
    assert isinstance(opened, Opened) and len(opened.members) == 5


def test_a_redelivered_pending_sighting_changes_nothing() -> None:
    # (Members of an incident are remembered by the detector's store, not the state:
    # IncidentScenarios replays those.)
    pending = [call(n, n) for n in range(1, 4)]
    state, _ = run(pending)
    again = observe(state, KEY, pending[1], RULE)
    assert again.seen and again.state == state and again.change is None


def test_the_same_sightings_in_the_same_order_make_the_same_incident() -> None:
    sightings = [call(n, n) for n in range(1, 8)]
    state, changes = run(sightings)
    replayed_state, replayed = run(sightings)
    assert replayed == changes and replayed_state == state


def test_an_answered_incident_stops_growing_and_later_calls_start_anew() -> None:
    state, [opened, *_] = run([call(n, n) for n in range(1, 7)])
    seen = observe(state, KEY, call(7, 10), RULE, resolved=frozenset({opened.incident_id}))
    assert seen.change is None
    assert [(len(g.members), g.incident_id) for g in seen.state.groups] == [(1, None)]


def test_a_late_sighting_does_not_stretch_a_group_beyond_its_window() -> None:
    # Four calls at noon, then one received at 09:00 that arrives late: not of them.
    state, changes = run([call(n, 300 + n) for n in range(1, 5)] + [call(5, 0)])
    assert changes == []
    assert [len(g.members) for g in state.groups] == [4, 1]


def test_the_district_is_the_first_four_digits_of_kato() -> None:
    assert district_of("711210000") == "7112"
    assert district_of(None) is None and district_of("71") is None


def test_sightings_redelivered_after_the_states_write_are_seen_even_as_members() -> None:
    # The detector writes the state, then marks its sightings handled; a crash between the
    # two redelivers them. A member of an incident is only a count in the state: the state's
    # `recent` (the sightings of its last write) is what recognises them.
    first = observe_all(KeyState(), KEY, [call(n, n) for n in range(1, 7)], RULE)
    [(by, opened), (_, grew)] = first.changes
    assert (by, isinstance(opened, Opened), isinstance(grew, Grew)) == ("a005", True, True)
    assert first.handled == first.state.recent == ("a001", "a002", "a003", "a004", "a005", "a006")

    again = observe_all(first.state, KEY, [call(5, 5), call(6, 6), call(7, 7)], RULE)
    [(by, grew7)] = again.changes
    assert by == "a007" and isinstance(grew7, Grew) and grew7.member_count == 7
    assert again.handled == ("a005", "a006", "a007") == again.state.recent
    # The same appeal twice in one batch (its sighting republished) counts once.
    twice = observe_all(KeyState(), KEY, [call(1, 1), call(1, 1)], RULE)
    assert twice.handled == ("a001",) and len(twice.state.groups[0].members) == 1
