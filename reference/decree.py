"""A year's decree of days off, checked and added to the working-day calendar's data.

The government decrees each autumn which days off move next year (e.g. 2025: Friday 3
January off, Sunday 5 January worked); until then that year is provisional (the law's rules
only, `reference.calendar`). The operator's path:

    python -m reference.decree check decree-2027.json
    python -m reference.decree add decree-2027.json [--calendar FILE]

then every service restarts on the new calendar (TYNDAU_CALENDAR_FILE, or the bundled file
in a new release), and `GET /v1/calendar/replan` on sla shows which open timers it moves,
`POST` moves them — once (services/sla/replan.py).

A decree file: ``{"year": 2027, "source": "...", "days_off": ["2027-01-08", ...],
"worked_weekend_days": ["2027-01-16"], "kurban_ait": "2027-05-16"}`` — `days_off` is the
year's complete list of weekdays off, as the official lists in calendar_kz.json are;
`kurban_ait` the announced first day (optional when the data has it announced already).

Checked on load (each problem named, nothing written if there is one): every date in the
year; no date both off and worked; worked days are Saturdays or Sundays and days off are
weekdays; complete — every weekday the law makes a day off (`statutory_days_off`) and Kurban
Ait on a weekday are in `days_off`. Adding the same decree again changes nothing.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from reference.calendar import BUNDLED_CALENDAR_PATH, WorkingCalendar, statutory_days_off


class DecreeRefused(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def problems_of(decree: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """Everything wrong with `decree` for the calendar `data` (empty: it may be added)."""
    problems: list[str] = []
    year = decree.get("year")
    if not isinstance(year, int):
        return ["year: a whole number, e.g. 2027"]

    def dates(field: str) -> set[date]:
        found = set()
        for text in decree.get(field, []):
            try:
                day = date.fromisoformat(text)
            except (TypeError, ValueError):
                problems.append(f"{field}: {text!r} is not a date (YYYY-MM-DD)")
                continue
            if day.year != year:
                problems.append(f"{field}: {day} is not in {year}")
            found.add(day)
        return found

    if not decree.get("days_off"):
        problems.append("days_off: the year's complete list of weekdays off is required")
    off, worked = dates("days_off"), dates("worked_weekend_days")
    for day in sorted(off & worked):
        problems.append(f"{day} is both a day off and a worked day")
    for day in sorted(d for d in worked if d.isoweekday() < 6):
        problems.append(f"worked_weekend_days: {day} is a weekday, not a weekend day")
    for day in sorted(d for d in off if d.isoweekday() >= 6):
        problems.append(f"days_off: {day} is a weekend day (list weekdays off only)")
    kurban = _kurban_of(decree, data, year, problems)
    required = {d for d in statutory_days_off(year) if d.isoweekday() < 6}
    if kurban is not None and kurban.isoweekday() < 6:
        required.add(kurban)
    for day in sorted(required - off):
        problems.append(f"incomplete: {day} is a day off by law and is not in days_off")
    return problems


def _kurban_of(
    decree: Mapping[str, Any], data: Mapping[str, Any], year: int, problems: list[str]
) -> date | None:
    given = decree.get("kurban_ait")
    if given is None:
        known = data.get("kurban_ait", {}).get("first_day", {}).get(str(year))
        if known is None or known.get("estimate", False):
            problems.append(f"kurban_ait: {year}'s first day is not announced in the data; give it")
            return None
        return date.fromisoformat(known["date"])
    try:
        day = date.fromisoformat(given)
    except (TypeError, ValueError):
        problems.append(f"kurban_ait: {given!r} is not a date")
        return None
    if day.year != year:
        problems.append(f"kurban_ait: {day} is not in {year}")
    return day


def with_decree(data: Mapping[str, Any], decree: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with the decree as the year's official list (and Kurban Ait as announced),
    under a version naming its content; `DecreeRefused` with every problem."""
    if problems := problems_of(decree, data):
        raise DecreeRefused(problems)
    year = str(decree["year"])
    updated: dict[str, Any] = copy.deepcopy(dict(data))
    updated.setdefault("official_years", {})[year] = {
        "source": decree.get("source", f"Decree on days off in {year}"),
        "days_off": sorted(decree["days_off"]),
        "worked_weekend_days": sorted(decree.get("worked_weekend_days", [])),
    }
    if "kurban_ait" in decree:
        first_days = updated.setdefault("kurban_ait", {}).setdefault("first_day", {})
        first_days[year] = {"date": decree["kurban_ait"], "estimate": False}
    if updated == dict(data):
        return updated
    base = str(data.get("version", "kz-calendar")).split("+")[0]
    content = json.dumps(
        [updated.get("official_years"), updated.get("kurban_ait")], sort_keys=True
    ).encode()
    updated["version"] = f"{base}+{hashlib.sha256(content).hexdigest()[:8]}"
    WorkingCalendar(updated)  # its own checks (contiguous years, lists in their year)
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check or add a year's decree of days off.")
    parser.add_argument("action", choices=("check", "add"))
    parser.add_argument("decree", type=Path)
    parser.add_argument("--calendar", type=Path, default=BUNDLED_CALENDAR_PATH)
    args = parser.parse_args(argv)
    data = json.loads(args.calendar.read_text(encoding="utf-8"))
    decree = json.loads(args.decree.read_text(encoding="utf-8"))
    try:
        updated = with_decree(data, decree)
    except DecreeRefused as refused:
        for problem in refused.problems:
            print(f"{args.decree}: {problem}", file=sys.stderr)
        return 1
    if args.action == "check":
        print(f"{args.decree}: the decree for {decree['year']} may be added")
        return 0
    if updated == data:
        print(f"{args.calendar}: already has this decree ({data.get('version')})")
        return 0
    args.calendar.write_text(json.dumps(updated, ensure_ascii=False, indent=2) + "\n")
    print(f"{args.calendar}: {decree['year']} added, version {updated['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
