"""The assessment on the running sla (real broker, real store): a generated quarter of
registrations, answers and breaches on the topics, its court, disciplinary and repeat
outcomes recorded through the HTTP routes, and the report — JSON and CSV — equal to the
hand count (tests/support/assessment.py) cell by cell, with the year-before comparison;
then a redelivery of part of it changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import sys
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from contracts import Event, topics
from reference.agencies import AgencyRegistry
from tests.support.assessment import (
    COUNT_COLUMNS,
    PERCENT_COLUMNS,
    Window,
    events_of,
    expected_bodies,
    expected_regions,
    generate,
    outcome_forms_of,
    pct,
)
from tests.support.auth import bearer
from tests.support.kafka import wait_until_consumed
from tests.support.system import RunningSystem, running_system

REGISTRY = AgencyRegistry.default()
FAVOURED = ("10", "11")  # a year before, half of the appeals were about these two regions
QUARTER = Window(date(2025, 10, 1), date(2025, 12, 31))
YEAR_BEFORE = Window(date(2024, 10, 1), date(2024, 12, 31))
PERIOD = {"from": "2025-10-01", "to": "2025-12-31", "compare_previous_year": "true"}
COUNTED = [
    topics.APPEALS_REGISTERED,
    topics.SLA_EVENTS,
    topics.APPEAL_OUTCOMES,
    topics.ANSWER_FEEDBACK,
]
TOPIC_OF = {"appeal.registered": topics.APPEALS_REGISTERED, "answer.rated": topics.ANSWER_FEEDBACK}


@pytest.fixture(scope="module")
async def own(infra, run_prefix: str) -> AsyncIterator[RunningSystem]:
    async with running_system(
        infra.kafka_bootstrap_servers, infra.mongodb_url, f"{run_prefix}assess-", services=("sla",)
    ) as system:
        yield system


async def publish_all(system: RunningSystem, events: list[Event]) -> None:
    assert system.producer is not None
    sent = []
    for event in events:
        topic = TOPIC_OF.get(event.event_type, topics.SLA_EVENTS)
        sent.append(
            await system.producer.send(
                system.topic(topic),
                event.model_dump_json().encode(),
                key=event.appeal_id.encode(),
            )
        )
    await asyncio.gather(*sent)


async def caught_up(system: RunningSystem) -> None:
    await wait_until_consumed(
        system.bootstrap,
        f"{system.prefix}tyndau-sla.assessment",
        [system.topic(name) for name in COUNTED],
        timeout=240,
    )


async def report_command(system: RunningSystem, mongodb_url: str, *options: str) -> Any:
    """`python -m services.sla.assessment report` for the period, on the system's store."""
    env = {
        **os.environ,
        "MONGODB_URL": mongodb_url,
        "TYNDAU_DATABASE_PREFIX": system.prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.sla.assessment",
        "report",
        "--from",
        PERIOD["from"],
        "--to",
        PERIOD["to"],
        "--compare-previous-year",
        *options,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    text = out.decode()
    return json.loads(text) if "json" in options else text


async def test_the_fixture_quarter_is_reported_as_counted_by_hand(
    own: RunningSystem, infra
) -> None:
    appeals = generate(seed=2025, window=QUARTER, n=2500, registry=REGISTRY)
    before = generate(seed=2024, window=YEAR_BEFORE, n=1000, registry=REGISTRY, favoured=FAVOURED)
    events = [e for appeal in appeals + before for e in events_of(appeal)]
    await publish_all(own, events)

    registrar = bearer("outcome-registrar", subject="registrar@test")
    forms = [form for appeal in appeals + before for form in outcome_forms_of(appeal, REGISTRY)]
    async with own.http("sla") as http:
        for path, form in forms:
            answer = await http.post(path, json=form, headers=registrar)
            assert answer.status_code == 201, answer.text
        # The same decision again: the stored event, not a second one; a different one: 409.
        path, form = forms[0]
        again = await http.post(path, json=form, headers=registrar)
        assert again.status_code == 200
        flipped = {k: (not v if isinstance(v, bool) else v) for k, v in form.items()}
        conflict = await http.post(path, json=flipped, headers=registrar)
        assert conflict.status_code == 409 and conflict.json()["error"] == "already_recorded"
        await caught_up(own)

        analyst = bearer("assessment-analyst")
        answer = await http.get("/v1/reports/assessment", params=PERIOD, headers=analyst)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        bodies_csv = await http.get(
            "/v1/reports/assessment/bodies.csv", params=PERIOD, headers=analyst
        )
        regions_csv = await http.get(
            "/v1/reports/assessment/regions.csv", params=PERIOD, headers=analyst
        )
        page = await http.get("/v1/reports/assessment.html", params=PERIOD, headers=analyst)
        refused = await http.get(
            "/v1/reports/assessment", params=PERIOD, headers=bearer("call-centre-operator")
        )

    bodies = expected_bodies(appeals, QUARTER)
    assert sum(c.get("court_satisfied", 0) for c in bodies.values()) > 0
    assert sum(c.get("repeat_substantiated", 0) for c in bodies.values()) > 0
    assert sum(c.get("rated_satisfied", 0) for c in bodies.values()) > 0
    csv_bodies = {row["agency_code"]: row for row in csv.DictReader(io.StringIO(bodies_csv.text))}
    assert len(report["bodies"]) == len(csv_bodies) == len(REGISTRY.by_code)
    for row in report["bodies"]:
        cells = bodies.get(row["agency_code"], {})
        in_csv = csv_bodies[row["agency_code"]]
        for column in COUNT_COLUMNS:
            assert row[column] == int(in_csv[column]) == cells.get(column, 0), (row, column)
        for column in PERCENT_COLUMNS:
            want = cells.get(column)
            assert row[column] == want, (row["agency_code"], column)
            assert in_csv[column] == ("" if want is None else str(want))

    regions = expected_regions(appeals, QUARTER)
    previous = expected_regions(before, YEAR_BEFORE)
    total, was = sum(regions.values()), sum(previous.values())
    assert (report["total_appeals"], report["previous_total_appeals"]) == (total, was)
    csv_regions = {row["region"]: row for row in csv.DictReader(io.StringIO(regions_csv.text))}
    for row in report["regions"]:
        n, p = regions.get(row["region"], 0), previous.get(row["region"], 0)
        change = pct(n - p, p) if p else None
        in_csv = csv_regions[row["region"]]
        assert (row["appeals"], row["previous_appeals"]) == (n, p)
        assert int(in_csv["appeals"]) == n and int(in_csv["previous_appeals"]) == p
        assert row["share_percent"] == pct(n, total)
        assert row["change_percent"] == change
        assert in_csv["change_percent"] == ("" if change is None else f"{change:+.1f}")
    # 2,500 appeals against 1,000 a year before, half of those in two regions: those two
    # shrank, the others grew, and the CSV shows the signs.
    shrank = {r["region"] for r in report["regions"] if (r["change_percent"] or 0) < 0}
    grew = {r["region"] for r in report["regions"] if (r["change_percent"] or 0) > 0}
    assert shrank == set(FAVOURED) and len(grew) >= 8
    assert {r for r, row in csv_regions.items() if row["change_percent"].startswith("-")} == shrank

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Таблица 6." in page.text
    assert refused.status_code == 403

    # The command reads the same tallies and prints the same tables.
    assert await report_command(own, infra.mongodb_url, "--format", "json") == report
    command_csv = await report_command(
        own, infra.mongodb_url, "--format", "csv", "--table", "regions"
    )
    assert command_csv == regions_csv.text

    # A redelivery (a fifth of the events again, as after a crash): nothing changes.
    await publish_all(own, random.Random(1).sample(events, len(events) // 5))
    await caught_up(own)
    async with own.http("sla") as http:
        again = await http.get("/v1/reports/assessment", params=PERIOD, headers=analyst)
    assert again.json() == report


async def test_a_bad_period_is_refused_with_the_parameter_and_why(own: RunningSystem) -> None:
    analyst = bearer("assessment-analyst")
    async with own.http("sla") as http:
        backwards = await http.get(
            "/v1/reports/assessment",
            params={"from": "2025-12-31", "to": "2025-10-01"},
            headers=analyst,
        )
        missing = await http.get(
            "/v1/reports/assessment", params={"from": "2025-10-01"}, headers=analyst
        )
        table = await http.get(
            "/v1/reports/assessment/nonsense.csv", params=PERIOD, headers=analyst
        )
    assert backwards.status_code == 400 and backwards.json()["reason"].startswith("to:")
    assert missing.status_code == 400 and missing.json()["reason"].startswith("to: required")
    assert table.status_code == 400 and table.json()["reason"].startswith("table:")
