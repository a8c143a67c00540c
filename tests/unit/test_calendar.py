"""The Kazakh working-day calendar and the deadline counting convention (DESIGN.md §2).

Every expected date below was worked out by hand from a wall calendar; the comments show
the reasoning so a reader can check it without running anything.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from reference.calendar import (
    CalendarYearNotCovered,
    WorkingCalendar,
    load_bundled_calendar_data,
    statutory_days_off,
)

ALMATY = ZoneInfo("Asia/Almaty")
UTC = UTC


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.default()


@pytest.fixture(scope="module")
def rules_only_calendar() -> WorkingCalendar:
    """The bundled data without the official lists: every year derived from the rules."""
    data = load_bundled_calendar_data()
    del data["official_years"]
    return WorkingCalendar(data)


def almaty(*args: int) -> datetime:
    return datetime(*args, tzinfo=ALMATY)


def days_off_in(cal: WorkingCalendar, year: int, month: int) -> list[int]:
    """Weekday days off of a month (weekends left out), as day numbers."""
    return sorted(d.day for d in cal.days_off(year) if d.month == month and d.isoweekday() < 6)


# --- the machine's time zone database -----------------------------------------------------


def test_the_almaty_zone_knows_kazakhstan_moved_to_utc_plus_5_in_2024() -> None:
    # A stale tz database would still say UTC+6 and shift every registration by an hour.
    assert ALMATY.utcoffset(datetime(2026, 1, 1)) == timedelta(hours=5)


# --- the calendar: holidays of 2025 and 2026 ----------------------------------------------


def test_new_year_2026_gives_1_2_and_7_january_off(calendar: WorkingCalendar) -> None:
    # 1 Jan 2026 is a Thursday, 2 Jan a Friday, 7 Jan (Orthodox Christmas) a Wednesday.
    assert days_off_in(calendar, 2026, 1) == [1, 2, 7]
    assert not calendar.is_working_day(date(2026, 1, 1))
    assert not calendar.is_working_day(date(2026, 1, 2))
    assert calendar.is_working_day(date(2026, 1, 5))  # Monday
    assert calendar.is_working_day(date(2026, 1, 6))
    assert not calendar.is_working_day(date(2026, 1, 7))


def test_2025_has_3_january_off_and_sunday_5_january_worked_by_decree(
    calendar: WorkingCalendar,
) -> None:
    # 2025 decree: Fri 3 Jan off, swapped with Sun 5 Jan, which becomes a working day.
    assert days_off_in(calendar, 2025, 1) == [1, 2, 3, 7]
    assert not calendar.is_working_day(date(2025, 1, 3))
    assert not calendar.is_working_day(date(2025, 1, 4))  # Saturday stays off
    assert calendar.is_working_day(date(2025, 1, 5))
    # From Thu 2 Jan the next working day is that Sunday (3 off, 4 Saturday).
    assert calendar.next_working_day(date(2025, 1, 2)) == date(2025, 1, 5)
    # Then Mon 6 Jan, and Tue 7 Jan (Christmas) is skipped for Wed 8 Jan.
    assert calendar.add_working_days(date(2025, 1, 2), 3) == date(2025, 1, 8)


def test_nauryz_2025_moves_saturday_and_sunday_to_monday_and_tuesday(
    calendar: WorkingCalendar,
) -> None:
    # 21 Mar 2025 is a Friday (off), 22 Sat and 23 Sun move to Mon 24 and Tue 25.
    # 8 Mar 2025 is a Saturday and moves to Mon 10 Mar.
    assert days_off_in(calendar, 2025, 3) == [10, 21, 24, 25]
    assert calendar.is_working_day(date(2025, 3, 26))


def test_nauryz_2026_moves_saturday_and_sunday_past_monday_23(calendar: WorkingCalendar) -> None:
    # 21 Mar 2026 is a Saturday, 22 a Sunday, 23 a Monday (off in its own right), so the
    # weekend holidays land on Tue 24 and Wed 25. 8 Mar is a Sunday and moves to Mon 9.
    assert days_off_in(calendar, 2026, 3) == [9, 23, 24, 25]
    assert calendar.next_working_day(date(2026, 3, 20)) == date(2026, 3, 26)


def test_may_holidays_2026_give_11_may_off_because_9_may_is_a_saturday(
    calendar: WorkingCalendar,
) -> None:
    # 1 May Fri, 7 May Thu, 9 May Sat -> Mon 11 May; Kurban Ait on Wed 27 May.
    assert days_off_in(calendar, 2026, 5) == [1, 7, 11, 27]


def test_kurban_ait_2025_is_friday_6_june(calendar: WorkingCalendar) -> None:
    assert date(2025, 6, 6).isoweekday() == 5
    assert not calendar.is_working_day(date(2025, 6, 6))
    assert days_off_in(calendar, 2025, 6) == [6]


def test_kurban_ait_2026_is_wednesday_27_may(calendar: WorkingCalendar) -> None:
    assert date(2026, 5, 27).isoweekday() == 3
    assert not calendar.is_working_day(date(2026, 5, 27))
    assert calendar.next_working_day(date(2026, 5, 26)) == date(2026, 5, 28)


def test_independence_day_16_december_is_off_in_both_years(calendar: WorkingCalendar) -> None:
    # Tue 16 Dec 2025 and Wed 16 Dec 2026: weekdays, no transfer needed.
    assert days_off_in(calendar, 2025, 12) == [16]
    assert days_off_in(calendar, 2026, 12) == [16]


def test_there_is_no_constitution_day_in_2026_so_monday_31_august_is_worked(
    calendar: WorkingCalendar,
) -> None:
    # The Law on holidays as amended in 2026: Constitution Day leaves 30 August (a Sunday in
    # 2026, which DESIGN.md's list had moved to Mon 31) and is 15 March from 2027.
    assert date(2026, 8, 30).isoweekday() == 7
    assert days_off_in(calendar, 2026, 8) == []
    assert calendar.next_working_day(date(2026, 8, 28)) == date(2026, 8, 31)


def test_the_rest_of_2025_matches_the_official_list(calendar: WorkingCalendar) -> None:
    # Capital Day Sun 6 Jul -> Mon 7 Jul; Constitution Day Sat 30 Aug -> Mon 1 Sep;
    # Republic Day Sat 25 Oct -> Mon 27 Oct.
    assert days_off_in(calendar, 2025, 7) == [7]
    assert days_off_in(calendar, 2025, 8) == []
    assert days_off_in(calendar, 2025, 9) == [1]
    assert days_off_in(calendar, 2025, 10) == [27]
    assert days_off_in(calendar, 2025, 5) == [1, 7, 9]


# --- official lists versus rules ----------------------------------------------------------


def test_the_rules_reproduce_the_official_2026_list_exactly(
    calendar: WorkingCalendar, rules_only_calendar: WorkingCalendar
) -> None:
    assert rules_only_calendar.is_provisional(2026)
    assert rules_only_calendar.days_off(2026) == calendar.days_off(2026)


def test_the_rules_differ_from_2025_only_by_the_january_decree(
    calendar: WorkingCalendar, rules_only_calendar: WorkingCalendar
) -> None:
    # The rules cannot know the government's swap of Fri 3 Jan with Sun 5 Jan; that is
    # why official lists are shipped as data and win over the rules.
    derived, official = rules_only_calendar.days_off(2025), calendar.days_off(2025)
    assert official - derived == {date(2025, 1, 3)}
    assert derived - official == {date(2025, 1, 5)}


@pytest.mark.parametrize("year", sorted(load_bundled_calendar_data()["official_years"]))
def test_the_holidays_package_and_our_official_list_agree_on_every_weekday_off(
    year: str,
) -> None:
    """The package (statutory holidays, their moves, its own record of decrees and Kurban
    Ait) and our official list must name the same weekdays off; a disagreement is a law or
    a decree one of them missed — look it up before changing either."""
    listed = holidays.country_holidays("KZ", years=int(year))
    by_package = {day for day in listed if day.isoweekday() < 6}
    ours = {
        day
        for day in map(
            date.fromisoformat, load_bundled_calendar_data()["official_years"][year]["days_off"]
        )
        if day.isoweekday() < 6
    }
    assert by_package == ours, {"package only": by_package - ours, "ours only": ours - by_package}


def test_the_statutory_days_come_from_the_package_without_decrees_or_kurban_ait() -> None:
    # 2025's decree moved Sun 5 Jan to Fri 3 Jan: a decree, ours to keep, not the law's.
    assert date(2025, 1, 3) not in statutory_days_off(2025)
    assert date(2025, 6, 6) not in statutory_days_off(2025)  # Kurban Ait: our data
    assert date(2025, 3, 24) in statutory_days_off(2025)  # Nauryz moved off the weekend
    assert date(2027, 3, 15) in statutory_days_off(2027)


def test_2027_is_provisional_and_2025_and_2026_are_official(calendar: WorkingCalendar) -> None:
    assert not calendar.is_provisional(2025)
    assert not calendar.is_provisional(2026)
    assert calendar.is_provisional(2027)
    assert calendar.covered_years == range(2025, 2031)


def test_2027_is_derived_from_the_rules_with_the_estimated_kurban_ait(
    calendar: WorkingCalendar,
) -> None:
    # 2027: 1 Jan Fri, 2 Jan Sat -> Mon 4 Jan, 7 Jan Thu. 8 Mar Mon, Constitution Day Mon
    # 15 Mar (new in the amended law). Nauryz Sun 21 -> Wed 24 (Mon 22 and Tue 23 are
    # holidays). 1 May Sat -> Mon 3 May, 7 May Fri, 9 May Sun -> Mon 10 May. Kurban Ait
    # (estimate) Sun 16 May does not move. 30 August is no longer a holiday: Mon 30 worked.
    assert days_off_in(calendar, 2027, 1) == [1, 4, 7]
    assert days_off_in(calendar, 2027, 3) == [8, 15, 22, 23, 24]
    assert days_off_in(calendar, 2027, 5) == [3, 7, 10]
    assert date(2027, 5, 16) in calendar.days_off(2027)
    assert days_off_in(calendar, 2027, 8) == []


def test_years_outside_the_data_are_refused_rather_than_guessed(
    calendar: WorkingCalendar,
) -> None:
    with pytest.raises(CalendarYearNotCovered):
        calendar.is_working_day(date(2024, 12, 31))
    with pytest.raises(CalendarYearNotCovered):
        calendar.is_provisional(2031)
    with pytest.raises(CalendarYearNotCovered):
        calendar.add_working_days(date(2030, 12, 20), 30)


def test_a_datetime_is_not_accepted_where_a_date_is_expected(calendar: WorkingCalendar) -> None:
    with pytest.raises(TypeError):
        calendar.is_working_day(almaty(2026, 3, 5, 10))  # type: ignore[arg-type]


def test_the_calendar_cannot_be_modified(calendar: WorkingCalendar) -> None:
    with pytest.raises(AttributeError):
        calendar.work_end = time(20)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        calendar.days_off(2026).add(date(2026, 3, 5))  # type: ignore[attr-defined]


def test_the_default_calendar_is_loaded_once() -> None:
    assert WorkingCalendar.default() is WorkingCalendar.default()


# --- counting working days ----------------------------------------------------------------


def test_adding_zero_working_days_keeps_a_working_day_and_skips_a_day_off(
    calendar: WorkingCalendar,
) -> None:
    assert calendar.add_working_days(date(2026, 3, 5), 0) == date(2026, 3, 5)
    # Sat 7 Mar 2026 -> Sun 8 -> Mon 9 (8 Mar transferred) -> Tue 10.
    assert calendar.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 10)


def test_negative_working_days_are_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 3, 5), -1)


def test_stepping_day_by_day_agrees_with_add_working_days(calendar: WorkingCalendar) -> None:
    # An independent, naive count over two years as a cross-check of the index arithmetic.
    start = date(2025, 1, 1)
    while start < date(2026, 12, 1):
        expected, day, counted = [], start, 0
        while counted < 20:
            day += timedelta(days=1)
            if day not in calendar.days_off(day.year):
                counted += 1
                expected.append(day)
        for n in (1, 3, 15, 20):
            assert calendar.add_working_days(start, n) == expected[n - 1], (start, n)
        start += timedelta(days=1)


# --- Art. 64 registration -----------------------------------------------------------------


def test_an_appeal_received_in_working_hours_is_registered_at_once(
    calendar: WorkingCalendar,
) -> None:
    received = datetime(2026, 3, 5, 4, 0, tzinfo=UTC)  # 09:00 in Almaty (UTC+5)
    registered = calendar.registration_time(received)
    assert registered == almaty(2026, 3, 5, 9, 0)
    assert registered.tzinfo == ALMATY
    assert calendar.registration_time(almaty(2026, 3, 5, 17, 59, 59)) == almaty(
        2026, 3, 5, 17, 59, 59
    )


def test_an_appeal_received_before_opening_is_registered_at_nine_that_day(
    calendar: WorkingCalendar,
) -> None:
    received = datetime(2026, 3, 5, 3, 59, tzinfo=UTC)  # 08:59 in Almaty
    assert calendar.registration_time(received) == almaty(2026, 3, 5, 9, 0)


def test_an_appeal_received_after_hours_is_registered_next_working_day_at_nine(
    calendar: WorkingCalendar,
) -> None:
    # 18:00 sharp is already after hours; Thu 5 Mar -> Fri 6 Mar.
    assert calendar.registration_time(almaty(2026, 3, 5, 18, 0)) == almaty(2026, 3, 6, 9, 0)
    assert calendar.registration_time(almaty(2026, 3, 5, 23, 30)) == almaty(2026, 3, 6, 9, 0)


def test_an_appeal_received_on_saturday_is_registered_on_the_next_working_day(
    calendar: WorkingCalendar,
) -> None:
    # Sat 7 Mar 2026 -> Mon 9 Mar is the transferred Women's Day -> Tue 10 Mar.
    assert calendar.registration_time(almaty(2026, 3, 7, 11, 0)) == almaty(2026, 3, 10, 9, 0)


def test_an_appeal_received_on_a_holiday_is_registered_after_it(
    calendar: WorkingCalendar,
) -> None:
    # Mon 23 Mar 2026 at noon: 23, 24, 25 are Nauryz days off -> Thu 26 Mar.
    assert calendar.registration_time(almaty(2026, 3, 23, 12, 0)) == almaty(2026, 3, 26, 9, 0)


def test_registration_uses_almaty_local_date_not_utc_date(calendar: WorkingCalendar) -> None:
    # 20:00 UTC on Thu 5 Mar is 01:00 on Fri 6 Mar in Almaty, before opening -> 09:00 Fri.
    assert calendar.registration_time(datetime(2026, 3, 5, 20, 0, tzinfo=UTC)) == almaty(
        2026, 3, 6, 9, 0
    )


def test_naive_datetimes_are_refused(calendar: WorkingCalendar) -> None:
    naive = datetime(2026, 3, 5, 10, 0)
    with pytest.raises(ValueError):
        calendar.registration_time(naive)
    with pytest.raises(ValueError):
        calendar.deadline(naive, 15)
    with pytest.raises(ValueError):
        calendar.working_days_between(naive, almaty(2026, 3, 6, 10))


def test_working_hours_and_zone_are_configurable() -> None:
    cal = WorkingCalendar(
        load_bundled_calendar_data(), tz="Asia/Aqtobe", work_start=time(8), work_end=time(17)
    )
    assert cal.registration_time(almaty(2026, 3, 5, 17, 30)) == datetime(
        2026, 3, 6, 8, 0, tzinfo=ZoneInfo("Asia/Aqtobe")
    )
    assert cal.deadline(almaty(2026, 3, 5, 10), 1) == datetime(
        2026, 3, 6, 17, 0, tzinfo=ZoneInfo("Asia/Aqtobe")
    )


# --- deadlines ----------------------------------------------------------------------------


def test_worked_example_15_working_days_from_thursday_5_march_2026(
    calendar: WorkingCalendar,
) -> None:
    # Day 0 Thu 5 Mar. 1 Fri 6; Mon 9 off; 2-5 Tue 10 - Fri 13; 6-10 Mon 16 - Fri 20;
    # 23-25 Mar off; 11 Thu 26, 12 Fri 27, 13 Mon 30, 14 Tue 31, 15 Wed 1 Apr.
    registered = almaty(2026, 3, 5, 11, 20)
    assert calendar.deadline(registered, 15) == almaty(2026, 4, 1, 18, 0)


def test_the_forwarding_term_of_3_working_days_skips_a_holiday(calendar: WorkingCalendar) -> None:
    # Registered Fri 20 Mar 2026: 23-25 Mar off -> 1 Thu 26, 2 Fri 27, 3 Mon 30.
    assert calendar.deadline(almaty(2026, 3, 20, 15, 0), 3) == almaty(2026, 3, 30, 18, 0)


def test_a_deadline_crosses_the_new_year(calendar: WorkingCalendar) -> None:
    # Received Sat 20 Dec 2025 -> registered Mon 22 Dec 09:00 (day 0).
    # 1 Tue 23, 2 Wed 24, 3 Thu 25, 4 Fri 26, 5 Mon 29, 6 Tue 30, 7 Wed 31;
    # 1-2 Jan 2026 off, 3-4 weekend; 8 Mon 5, 9 Tue 6; 7 Jan off; 10 Thu 8, 11 Fri 9,
    # 12 Mon 12, 13 Tue 13, 14 Wed 14, 15 Thu 15.
    registered = calendar.registration_time(almaty(2025, 12, 20, 14, 0))
    assert registered == almaty(2025, 12, 22, 9, 0)
    due = calendar.deadline(registered, 15)
    assert due == almaty(2026, 1, 15, 18, 0)
    assert calendar.working_days_between(registered, due) == 15


def test_deadline_and_working_days_between_agree_across_2025_and_2026(
    calendar: WorkingCalendar,
) -> None:
    received = almaty(2025, 1, 1, 0, 0)
    while received < almaty(2026, 11, 1):
        registered = calendar.registration_time(received)
        for n in (0, 1, 3, 15, 44):
            due = calendar.deadline(registered, n)
            assert due.time() == time(18, 0)
            assert calendar.is_working_day(due.date())
            assert calendar.working_days_between(registered, due) == n, (received, n)
            if n:
                # One minute into the day before the due day is one working day short.
                previous = calendar.add_working_days(registered.date(), n - 1)
                assert (
                    calendar.working_days_between(
                        registered, almaty(previous.year, previous.month, previous.day, 12, 0)
                    )
                    == n - 1
                )
        received += timedelta(hours=7, minutes=13)


def test_working_days_between_is_zero_on_the_same_day_or_backwards(
    calendar: WorkingCalendar,
) -> None:
    registered = almaty(2026, 3, 5, 10, 0)
    assert calendar.working_days_between(registered, almaty(2026, 3, 5, 17, 0)) == 0
    assert calendar.working_days_between(registered, almaty(2026, 3, 1, 17, 0)) == 0
    # Days off after the start are not counted: Fri 6 only, through Mon 9 (off).
    assert calendar.working_days_between(registered, almaty(2026, 3, 9, 12, 0)) == 1


# --- the data file ------------------------------------------------------------------------


def test_calendar_data_with_a_missing_year_is_refused() -> None:
    data = load_bundled_calendar_data()
    del data["kurban_ait"]["first_day"]["2028"]
    with pytest.raises(ValueError, match="contiguous"):
        WorkingCalendar(data)


def test_an_official_list_filed_under_the_wrong_year_is_refused() -> None:
    data = load_bundled_calendar_data()
    data["official_years"]["2026"]["days_off"].append("2027-01-01")
    with pytest.raises(ValueError, match="2026"):
        WorkingCalendar(data)


def test_the_bundled_data_names_its_version_and_source(calendar: WorkingCalendar) -> None:
    data = load_bundled_calendar_data()
    assert calendar.version == data["version"]
    assert data["source"]
