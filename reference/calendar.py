"""Kazakhstan's working-day calendar and the project's deadline counting convention.

Owns:
- which dates are working days: Saturday/Sunday weekends, statutory holidays with their
  weekend transfers, the first day of Kurban Ait, and the government's yearly lists of days
  off (which, where shipped, are the truth for that year and replace the rules);
- where each comes from: the statutory holidays of the Law on holidays, as amended, and
  their moves off a weekend are the `holidays` package's (PyPI, pinned; country KZ — its
  own tests and its citations of the law's history are its upkeep, `statutory_days_off`);
  what it cannot know is our data in ``calendar_kz.json``: the government's yearly lists
  (transfer decrees) and the first day of Kurban Ait as announced (estimated until then);
- Art. 64 registration: an appeal received outside working hours or on a non-working day is
  registered at the start of the next working day;
- the counting convention of DESIGN.md §2: the registration day is day 0, and a deadline of
  N working days ends at ``work_end`` local time on the N-th working day after it.

Does not own: timers, clocks ("now"), persistence, the two-month extension cap, or any I/O
beyond reading the bundled ``calendar_kz.json`` once (``WorkingCalendar.default()``).

A calendar covers the contiguous years its data names (an official list or a Kurban Ait
date). Asking about any other year raises ``CalendarYearNotCovered`` instead of guessing a
moveable feast; extending coverage is a data change in ``calendar_kz.json``.
"""

from __future__ import annotations

import functools
import json
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "BUNDLED_CALENDAR_PATH",
    "CalendarYearNotCovered",
    "WorkingCalendar",
    "load_bundled_calendar_data",
    "statutory_days_off",
]

BUNDLED_CALENDAR_PATH = Path(__file__).with_name("calendar_kz.json")

DEFAULT_TIME_ZONE = "Asia/Almaty"
DEFAULT_WORK_START = time(9, 0)
DEFAULT_WORK_END = time(18, 0)

_ONE_DAY = timedelta(days=1)


class CalendarYearNotCovered(LookupError):
    """The calendar has no data for a year (neither an official list nor a Kurban Ait date)."""


def load_bundled_calendar_data() -> dict[str, Any]:
    """Parse the calendar data shipped next to this module (a fresh dict on every call)."""
    return json.loads(BUNDLED_CALENDAR_PATH.read_text(encoding="utf-8"))


class WorkingCalendar:
    """An immutable working-day calendar built from calendar data (see ``calendar_kz.json``).

    Every per-year set of days off is computed at construction, so queries are set lookups
    or a binary search and the instance can be shared freely between tasks and threads.
    Date arguments must be ``date`` (not ``datetime``); datetime arguments must be
    timezone-aware and are interpreted in ``tz``.
    """

    __slots__ = (
        "tz",
        "work_start",
        "work_end",
        "version",
        "_days_off_by_year",
        "_provisional_years",
        "_working_days",
    )

    tz: tzinfo
    work_start: time
    work_end: time
    version: str
    _days_off_by_year: Mapping[int, frozenset[date]]
    _provisional_years: frozenset[int]
    # Every working day of the covered years, ascending: counting N working days is an index
    # step instead of a day-by-day walk.
    _working_days: tuple[date, ...]

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        tz: tzinfo | str = DEFAULT_TIME_ZONE,
        work_start: time = DEFAULT_WORK_START,
        work_end: time = DEFAULT_WORK_END,
    ) -> None:
        if isinstance(tz, str):
            tz = ZoneInfo(tz)
        if work_start.tzinfo is not None or work_end.tzinfo is not None:
            raise ValueError("work_start and work_end are local wall-clock times; pass them naive")
        if not work_start < work_end:
            raise ValueError(f"work_start {work_start} must be before work_end {work_end}")

        days_off_by_year, provisional_years = _days_off_from_data(data)
        working_days = tuple(
            day
            for year in sorted(days_off_by_year)
            for day in _all_days_of(year)
            if day not in days_off_by_year[year]
        )

        _set = object.__setattr__
        _set(self, "tz", tz)
        _set(self, "work_start", work_start)
        _set(self, "work_end", work_end)
        _set(self, "version", str(data.get("version", "unversioned")))
        _set(self, "_days_off_by_year", days_off_by_year)
        _set(self, "_provisional_years", provisional_years)
        _set(self, "_working_days", working_days)

    @classmethod
    def default(cls) -> WorkingCalendar:
        """The bundled calendar with the default zone and hours, loaded once per process."""
        return cls.bundled(DEFAULT_TIME_ZONE)

    @classmethod
    def from_file(cls, path: str | Path, tz: str = DEFAULT_TIME_ZONE) -> WorkingCalendar:
        """The calendar of a data file in ``calendar_kz.json``'s format, one per file and
        zone per process."""
        return _calendar_of_file(str(path), tz)

    @classmethod
    def bundled(cls, tz: str) -> WorkingCalendar:
        """The bundled calendar in time zone `tz` with the default hours, one per zone and
        process."""
        return _bundled_calendar(tz)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        years = self.covered_years
        return (
            f"{type(self).__name__}(version={self.version!r}, "
            f"years={years.start}-{years.stop - 1}, tz={self.tz!s}, "
            f"hours={self.work_start:%H:%M}-{self.work_end:%H:%M})"
        )

    # --- the calendar -------------------------------------------------------------------

    @property
    def covered_years(self) -> range:
        """The years this calendar can answer for."""
        years = self._days_off_by_year.keys()
        return range(min(years), max(years) + 1)

    def days_off(self, year: int) -> frozenset[date]:
        """Every non-working date of ``year``: weekends and holidays, minus worked weekend days."""
        try:
            return self._days_off_by_year[year]
        except KeyError:
            raise self._not_covered(year) from None

    def is_provisional(self, year: int) -> bool:
        """True where no official list was shipped and the year is derived from the rules
        (and possibly from an estimated Kurban Ait date)."""
        if year not in self._days_off_by_year:
            raise self._not_covered(year)
        return year in self._provisional_years

    def is_working_day(self, d: date) -> bool:
        _require_date(d)
        return d not in self.days_off(d.year)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return self.add_working_days(d, 1)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d``; for n == 0, ``d`` itself if it is a working day,
        else the next working day."""
        _require_date(d)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0 and self.is_working_day(d):
            return d
        self.days_off(d.year)  # raises for a year outside the calendar
        first_after = bisect_right(self._working_days, d)
        index = first_after + max(n, 1) - 1
        if index >= len(self._working_days):
            raise self._not_covered(self.covered_years.stop)
        return self._working_days[index]

    # --- appeals: registration and deadlines --------------------------------------------

    def registration_time(self, received_at: datetime) -> datetime:
        """Art. 64: when an appeal received at ``received_at`` counts as registered.

        Within working hours ([work_start, work_end) on a working day) it is registered at
        once; before work_start on a working day, at work_start that day; otherwise at
        work_start of the next working day. The result is in the calendar's zone.
        """
        local = self._to_local(received_at, "received_at")
        day, clock = local.date(), local.time()
        if self.is_working_day(day):
            if clock < self.work_start:
                return self._at(day, self.work_start)
            if clock < self.work_end:
                return local
        return self._at(self.next_working_day(day), self.work_start)

    def deadline(self, registered_at: datetime, working_days: int) -> datetime:
        """End of a term of ``working_days`` working days: work_end on the N-th working day
        after the registration day (its local date is day 0)."""
        local = self._to_local(registered_at, "registered_at")
        return self._at(self.add_working_days(local.date(), working_days), self.work_end)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after ``start``'s local date up to and including ``end``'s local date
        (0 if ``end`` falls on the same day or earlier).

        Inverse of ``deadline``: ``working_days_between(reg, deadline(reg, n)) == n`` for
        n >= 1, and for n == 0 when the registration day is a working day (as it always is
        for a time returned by ``registration_time``).
        """
        start_day = self._to_local(start, "start").date()
        end_day = self._to_local(end, "end").date()
        self.days_off(start_day.year)
        self.days_off(end_day.year)
        if end_day <= start_day:
            return 0
        return bisect_right(self._working_days, end_day) - bisect_right(
            self._working_days, start_day
        )

    # --- helpers ------------------------------------------------------------------------

    def _to_local(self, moment: datetime, name: str) -> datetime:
        if not isinstance(moment, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
        return moment.astimezone(self.tz)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.tz)

    def _not_covered(self, year: int) -> CalendarYearNotCovered:
        years = self.covered_years
        return CalendarYearNotCovered(
            f"working-day calendar {self.version!r} covers {years.start}-{years.stop - 1}, "
            f"not {year}; add the year's official list or Kurban Ait date to calendar_kz.json"
        )


@functools.cache
def _bundled_calendar(tz: str) -> WorkingCalendar:
    return WorkingCalendar(load_bundled_calendar_data(), tz=tz)


@functools.cache
def _calendar_of_file(path: str, tz: str) -> WorkingCalendar:
    return WorkingCalendar(json.loads(Path(path).read_text(encoding="utf-8")), tz=tz)


def _require_date(d: object) -> None:
    # A datetime is a date subclass that never equals a date, so it would silently miss
    # every set lookup; refuse it instead.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")


def _all_days_of(year: int) -> Iterable[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += _ONE_DAY


# The `holidays` package's names (en_US) of what is not the law's own rule: a day off moved
# by a government decree (ours to keep, in official_years), and Eid al-Adha — Kurban Ait,
# whose date is announced each year (ours to keep, in kurban_ait).
_DECREED = "Day off (substituted from"
_ANNOUNCED = "Eid al-Adha"


@functools.cache
def statutory_days_off(year: int) -> frozenset[date]:
    """The Law on holidays' days off in ``year`` that fall on a weekday or were moved to one:
    its holidays and, for one on a Saturday or Sunday, the next working day (7 January
    excepted) — as the `holidays` package has the law, amendments included (no Constitution
    Day in 2026; 15 March from 2027). Without decree transfers and Kurban Ait."""
    listed = holidays.country_holidays("KZ", years=year, language="en_US")
    return frozenset(
        day
        for day, name in listed.items()
        if not name.startswith(_DECREED) and not name.startswith(_ANNOUNCED)
    )


def _days_off_from_data(
    data: Mapping[str, Any],
) -> tuple[Mapping[int, frozenset[date]], frozenset[int]]:
    weekend = frozenset(int(d) for d in data.get("weekend_isoweekdays", (6, 7)))
    if not weekend <= set(range(1, 8)):
        raise ValueError(f"weekend_isoweekdays must be ISO weekdays 1-7, got {sorted(weekend)}")

    kurban_section = data.get("kurban_ait", {})
    kurban_moves = bool(kurban_section.get("moves_from_weekend", False))
    kurban_by_year: dict[int, date] = {}
    estimated_kurban_years: set[int] = set()
    for year_text, entry in kurban_section.get("first_day", {}).items():
        year, day = int(year_text), date.fromisoformat(entry["date"])
        if day.year != year:
            raise ValueError(f"Kurban Ait {day} is filed under year {year}")
        kurban_by_year[year] = day
        if entry.get("estimate", False):
            estimated_kurban_years.add(year)

    days_off_by_year: dict[int, frozenset[date]] = {}
    for year_text, entry in data.get("official_years", {}).items():
        days_off_by_year[int(year_text)] = _official_days_off(int(year_text), entry, weekend)

    provisional: set[int] = set()
    for year, kurban in kurban_by_year.items():
        if year in days_off_by_year:
            continue
        days_off_by_year[year] = _derived_days_off(year, kurban, kurban_moves, weekend)
        provisional.add(year)

    if not days_off_by_year:
        raise ValueError("calendar data covers no year: give official_years or kurban_ait dates")
    years = sorted(days_off_by_year)
    if gaps := sorted(set(range(years[0], years[-1] + 1)) - set(years)):
        raise ValueError(f"calendar data must cover contiguous years; missing {gaps}")
    return dict(sorted(days_off_by_year.items())), frozenset(provisional)


def _official_days_off(
    year: int, entry: Mapping[str, Any], weekend: frozenset[int]
) -> frozenset[date]:
    listed_off = {date.fromisoformat(text) for text in entry["days_off"]}
    worked = {date.fromisoformat(text) for text in entry.get("worked_weekend_days", ())}
    for day in listed_off | worked:
        if day.year != year:
            raise ValueError(f"official list for {year} contains {day}")
    if overlap := listed_off & worked:
        raise ValueError(f"official list for {year} has days both off and worked: {overlap}")
    weekends = {day for day in _all_days_of(year) if day.isoweekday() in weekend}
    return frozenset((weekends | listed_off) - worked)


def _derived_days_off(
    year: int, kurban: date, kurban_moves: bool, weekend: frozenset[int]
) -> frozenset[date]:
    """A year without an official list: weekends, the law's days off (`statutory_days_off`),
    and Kurban Ait — moved off a weekend only if the data says it moves (it does not)."""
    off = {day for day in _all_days_of(year) if day.isoweekday() in weekend}
    off.update(statutory_days_off(year))
    off.add(kurban)
    if kurban_moves and kurban.isoweekday() in weekend:
        transfer = kurban + _ONE_DAY
        while transfer in off:
            transfer += _ONE_DAY
        off.add(transfer)
    return frozenset(off)
