"""The assessment (services/sla/assessment): counting rules, the tables of a generated
quarter against a count made by hand from the facts, comparison with a year before, CSV and
HTML. In memory; the same quarter runs through the real broker and store in
tests/e2e/test_assessment_on_the_system.py."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from contracts import DeadlineKind, RepeatComplaintDecided, SlaBreached, SlaStopped
from reference.agencies import AgencyRegistry
from services.sla.assessment import Assessments
from services.sla.assessment.counting import Metric, contribution
from services.sla.assessment.outcomes import (
    CourtDecisionForm,
    DisciplinaryDecisionForm,
    MemoryOutcomeLog,
    RepeatComplaintVerdictForm,
    event_of,
    problems,
)
from services.sla.assessment.render import Table, to_csv, to_html
from services.sla.assessment.report import Period, percent
from services.sla.assessment.store import MemoryTallyStore
from tests.support.assessment import (
    COUNT_COLUMNS,
    PERCENT_COLUMNS,
    Window,
    events_of,
    expected_bodies,
    expected_levels,
    expected_regions,
    generate,
    outcome_events_of,
    pct,
)

ALMATY = ZoneInfo("Asia/Almaty")
REGISTRY = AgencyRegistry.default()
FAVOURED = ("10", "11")  # a year before, half of the appeals were about these two regions
QUARTER = Window(date(2025, 10, 1), date(2025, 12, 31))
YEAR_BEFORE = Window(date(2024, 10, 1), date(2024, 12, 31))


def test_a_breach_at_local_midnight_counts_on_the_local_day_not_the_utc_one() -> None:
    breach = SlaBreached.example().model_copy(
        update={
            "breached_at": datetime(2026, 3, 31, 19, 30, tzinfo=ZoneInfo("UTC")),  # 00:30 1 Apr
            "deadline_kind": DeadlineKind.FORWARDING,
        }
    )
    counted = contribution(breach, ALMATY)
    assert counted is not None
    assert counted.day == date(2026, 4, 1)
    assert counted.subject == f"body:{breach.agency_code}"
    assert dict(counted.counts) == {Metric.FORWARDING_BREACHES: 1}


def test_an_answer_counts_on_the_day_it_was_decided_not_when_sla_processed_it() -> None:
    stopped = SlaStopped.example().model_copy(
        update={
            "on_time": False,
            "decided_at": datetime(2026, 3, 12, 23, 50, tzinfo=ALMATY),
            "occurred_at": datetime(2026, 3, 13, 0, 5, tzinfo=ALMATY),
        }
    )
    counted = contribution(stopped, ALMATY)
    assert counted is not None and counted.day == date(2026, 3, 12)
    assert dict(counted.counts) == {Metric.HANDLED: 1}  # late: not on time


def test_an_answer_counts_for_the_body_that_gave_it_not_the_timers_last_known_body() -> None:
    # The answer overtook sla's record of the redirect: the timer still names the old body.
    stopped = SlaStopped.example().model_copy(
        update={"agency_code": "astana-energy", "answered_by": "akimat-astana"}
    )
    counted = contribution(stopped, ALMATY)
    assert counted is not None and counted.subject == "body:akimat-astana"


async def test_one_verdict_published_twice_on_different_days_counts_once_as_first() -> None:
    assessments = Assessments(MemoryTallyStore(), REGISTRY, ALMATY, MemoryOutcomeLog())
    first = RepeatComplaintDecided.example()  # 12 May, substantiated
    later = first.model_copy(update={"decided_on": date(2026, 5, 20), "substantiated": False})
    for event in (first, later, first):
        await assessments.count(event, source="appeals.outcomes.v1#0")

    report = await assessments.report(Period(date(2026, 5, 1), date(2026, 5, 31)))
    [row] = [r for r in report.bodies if r.agency_code == first.agency_code]
    assert (row.repeat_complaints, row.repeat_substantiated) == (1, 1)


def test_a_breach_written_with_another_offset_is_the_same_disciplinary_decision() -> None:
    def form(breached_at: str) -> DisciplinaryDecisionForm:
        return DisciplinaryDecisionForm(
            appeal_id="a-1",
            agency_code="astana-energy",
            decided_on=date(2026, 4, 17),
            deadline_kind=DeadlineKind.ANSWER,
            breached_at=datetime.fromisoformat(breached_at),
            taken=True,
        )

    now = datetime(2026, 4, 20, tzinfo=ALMATY)
    local = event_of(form("2026-04-01T18:00:00+05:00"), "hr", now)
    utc = event_of(form("2026-04-01T13:00:00+00:00"), "hr", now)
    assert local.event_id == utc.event_id


def test_a_forwarding_timer_stopping_is_not_a_handled_appeal() -> None:
    stopped = SlaStopped.example().model_copy(update={"deadline_kind": DeadlineKind.FORWARDING})
    assert contribution(stopped, ALMATY) is None


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(1, 3, 33.3), (2, 3, 66.7), (1, 8, 12.5), (1, 16, 6.3), (-1, 16, -6.3), (0, 5, 0.0)],
)
def test_percentages_round_half_away_from_zero(part: int, whole: int, expected: float) -> None:
    assert percent(part, whole) == expected == pct(part, whole)
    assert percent(part, 0) is None


def test_the_same_days_a_year_before_keep_february_short() -> None:
    assert Period(date(2024, 2, 1), date(2024, 2, 29)).year_before() == Period(
        date(2023, 2, 1), date(2023, 2, 28)
    )


async def counted_quarter(duplicates: bool) -> tuple[Assessments, list, list]:
    """The quarter and a year before it, every event counted (in shuffled order, on several
    partitions; with `duplicates`, a fifth of them delivered twice)."""
    now = generate(seed=15, window=QUARTER, n=3000, registry=REGISTRY)
    before = generate(seed=14, window=YEAR_BEFORE, n=1200, registry=REGISTRY, favoured=FAVOURED)
    events = [
        e
        for appeal in now + before
        for e in [*events_of(appeal), *outcome_events_of(appeal, REGISTRY)]
    ]
    rng = random.Random(7)
    rng.shuffle(events)
    if duplicates:
        events += rng.sample(events, len(events) // 5)
    assessments = Assessments(MemoryTallyStore(), REGISTRY, ALMATY, MemoryOutcomeLog())
    for event in events:
        # Kafka keys by appeal id: every copy of an event comes on its appeal's partition.
        partition = hash(event.appeal_id) % 6
        await assessments.count(event, source=f"topic-{type(event).__name__}#{partition}")
    return assessments, now, before


@pytest.mark.parametrize("duplicates", [False, True])
async def test_the_quarter_equals_the_hand_count_cell_by_cell(duplicates: bool) -> None:
    assessments, appeals, before = await counted_quarter(duplicates)
    report = await assessments.report(
        Period(QUARTER.first, QUARTER.last), compare_previous_year=True
    )

    bodies = expected_bodies(appeals, QUARTER)
    assert sum(cells.get("handled", 0) for cells in bodies.values()) > 1500  # a real quarter
    assert len(report.bodies) == len(REGISTRY.by_code)  # every body, zeros included
    for row in report.bodies:
        cells = bodies.get(row.agency_code, {})
        got = row.model_dump()
        for column in COUNT_COLUMNS:
            assert got[column] == cells.get(column, 0), (row.agency_code, column)
        for column in PERCENT_COLUMNS:
            assert got[column] == cells.get(column), (row.agency_code, column)

    levels = expected_levels(bodies, REGISTRY)
    for group in report.levels:
        for column, value in levels[group.group].items():
            assert getattr(group, column) == value, (group.group, column)

    regions = expected_regions(appeals, QUARTER)
    previous = expected_regions(before, YEAR_BEFORE)
    total, was = sum(regions.values()), sum(previous.values())
    assert report.total_appeals == total and report.previous_total_appeals == was
    assert report.total_change_percent == pct(total - was, was)
    shown = {row.region: row for row in report.regions}
    assert set(shown) >= set(regions) | set(previous)
    for region, row in shown.items():
        n, p = regions.get(region, 0), previous.get(region, 0)
        assert (row.appeals, row.previous_appeals) == (n, p), region
        assert row.share_percent == pct(n, total), region
        assert row.change_percent == (pct(n - p, p) if p else None), region
    # More appeals than a year before, but a year before two regions had half of them: the
    # table shows both signs.
    changes = [row.change_percent for row in report.regions if row.change_percent is not None]
    assert any(c < 0 for c in changes) and any(c > 0 for c in changes)
    assert {r.region for r in report.regions if (r.change_percent or 0) < 0} == set(FAVOURED)


async def test_csv_has_the_json_cells_and_signed_changes() -> None:
    assessments, _, _ = await counted_quarter(duplicates=False)
    report = await assessments.report(
        Period(QUARTER.first, QUARTER.last), compare_previous_year=True
    )
    bodies = list(csv.DictReader(io.StringIO(to_csv(report, Table.BODIES))))
    assert [r["agency_code"] for r in bodies] == [r.agency_code for r in report.bodies]
    for parsed, row in zip(bodies, report.bodies, strict=True):
        assert int(parsed["handled"]) == row.handled
        assert parsed["on_time_percent"] == (
            "" if row.on_time_percent is None else str(row.on_time_percent)
        )
    regions = list(csv.DictReader(io.StringIO(to_csv(report, Table.REGIONS))))
    for parsed, row in zip(regions, report.regions, strict=True):
        assert int(parsed["appeals"]) == row.appeals
        if row.change_percent is not None:
            assert parsed["change_percent"] == f"{row.change_percent:+.1f}"
            assert parsed["change_percent"][0] in "+-"


async def test_the_printable_page_follows_tables_2_and_6_in_either_language() -> None:
    assessments, _, _ = await counted_quarter(duplicates=False)
    period = Period(QUARTER.first, QUARTER.last)
    ru = to_html(await assessments.report(period, compare_previous_year=True))
    kk = to_html(await assessments.report(period, compare_previous_year=True, language="kk"))
    assert "Таблица 2." in ru and "Таблица 6." in ru and "Годом ранее" in ru
    assert "2-кесте." in kk and "6-кесте." in kk and "Бір жыл бұрын" in kk
    assert "Министерство здравоохранения" in ru and "Денсаулық сақтау министрлігі" in kk
    assert "<script" not in ru


def test_a_verdict_must_come_from_the_supervising_body_and_not_from_the_future() -> None:
    body = next(a for a in REGISTRY.by_code.values() if a.parent)
    other = next(code for code in REGISTRY.by_code if code not in (body.parent, body.code))
    verdict = RepeatComplaintVerdictForm(
        appeal_id="r-1",
        original_appeal_id="a-1",
        agency_code=body.code,
        decided_by=other,
        decided_on=date(2026, 3, 6),
        substantiated=True,
    )
    found = problems(verdict, REGISTRY, today=date(2026, 3, 5))
    assert any(p.startswith("decided_by:") and repr(body.parent) in p for p in found)
    assert any(p.startswith("decided_on:") for p in found)
    court = CourtDecisionForm(
        appeal_id="a-1",
        agency_code="no-such-body",
        decided_on=date(2026, 3, 5),
        case_number="1",
        satisfied=False,
    )
    assert problems(court, REGISTRY, today=date(2026, 3, 5)) == [
        "agency_code: no body has the code 'no-such-body'"
    ]


def test_a_dismissal_stopping_the_answer_timer_is_nobodys_handled_appeal() -> None:
    stopped = SlaStopped.example().model_copy(update={"dismissed": True, "answered_by": None})
    assert contribution(stopped, ALMATY) is None
