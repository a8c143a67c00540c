"""A year's decree of days off (reference/decree.py): checked on load — every problem
named, nothing added — and added to the calendar's data once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from reference.calendar import WorkingCalendar, load_bundled_calendar_data
from reference.decree import DecreeRefused, main, problems_of, with_decree

# 2027 as a decree might have it: the law's weekdays off, plus Fri 8 Jan off (between
# Christmas on Thursday and the weekend), worked on Saturday 16 Jan. Kurban Ait on Sunday.
DECREE_2027 = {
    "year": 2027,
    "source": "Decree on the transfer of days off in 2027 (test)",
    "days_off": [
        "2027-01-01", "2027-01-04", "2027-01-07", "2027-01-08",
        "2027-03-08", "2027-03-15", "2027-03-22", "2027-03-23", "2027-03-24",
        "2027-05-03", "2027-05-07", "2027-05-10",
        "2027-07-06", "2027-10-25", "2027-12-16",
    ],
    "worked_weekend_days": ["2027-01-16"],
    "kurban_ait": "2027-05-16",
}  # fmt: skip


def test_a_complete_decree_makes_its_year_official_once() -> None:
    data = load_bundled_calendar_data()
    assert WorkingCalendar(data).is_provisional(2027)
    updated = with_decree(data, DECREE_2027)
    calendar = WorkingCalendar(updated)
    assert not calendar.is_provisional(2027)
    assert not calendar.is_working_day(date(2027, 1, 8))
    assert calendar.is_working_day(date(2027, 1, 16))  # a Saturday, worked
    assert updated["version"] != data["version"]
    assert updated["kurban_ait"]["first_day"]["2027"] == {"date": "2027-05-16", "estimate": False}
    assert with_decree(updated, DECREE_2027) == updated  # the same decree again: no change


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"worked_weekend_days": ["2027-01-08"]}, "2027-01-08 is both a day off and a worked day"),
        ({"worked_weekend_days": ["2027-01-12"]}, "2027-01-12 is a weekday, not a weekend day"),
        ({"days_off": [*DECREE_2027["days_off"], "2027-01-09"]}, "2027-01-09 is a weekend day"),
        (
            {"days_off": [d for d in DECREE_2027["days_off"] if d != "2027-03-15"]},
            "incomplete: 2027-03-15 is a day off by law",
        ),
        ({"days_off": [*DECREE_2027["days_off"], "2028-01-03"]}, "2028-01-03 is not in 2027"),
        ({"days_off": [*DECREE_2027["days_off"], "8 Jan"]}, "'8 Jan' is not a date"),
        ({"kurban_ait": None}, "2027's first day is not announced in the data"),
        ({"year": "2027"}, "year: a whole number"),
    ],
)
def test_a_wrong_decree_is_refused_naming_the_problem(change: dict, problem: str) -> None:
    decree = {k: v for k, v in {**DECREE_2027, **change}.items() if v is not None}
    data = load_bundled_calendar_data()
    assert any(problem in found for found in problems_of(decree, data)), problems_of(decree, data)
    with pytest.raises(DecreeRefused):
        with_decree(data, decree)


def test_the_operator_checks_then_adds_the_decree_to_a_calendar_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calendar_file = tmp_path / "calendar.json"
    calendar_file.write_text(json.dumps(load_bundled_calendar_data()))
    decree_file = tmp_path / "decree-2027.json"
    decree_file.write_text(json.dumps(DECREE_2027))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**DECREE_2027, "worked_weekend_days": ["2027-01-08"]}))

    assert main(["check", str(wrong), "--calendar", str(calendar_file)]) == 1
    assert "both a day off and a worked day" in capsys.readouterr().err
    assert main(["check", str(decree_file), "--calendar", str(calendar_file)]) == 0
    assert WorkingCalendar(json.loads(calendar_file.read_text())).is_provisional(2027)
    assert main(["add", str(decree_file), "--calendar", str(calendar_file)]) == 0
    added = calendar_file.read_text()
    assert not WorkingCalendar(json.loads(added)).is_provisional(2027)
    assert main(["add", str(decree_file), "--calendar", str(calendar_file)]) == 0
    assert calendar_file.read_text() == added
    assert "already has this decree" in capsys.readouterr().out
