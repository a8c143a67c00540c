"""sla's HTTP routes for the assessment (role `assessment-analyst`, or `supervisor`):

- `GET /v1/reports/assessment?from=YYYY-MM-DD&to=YYYY-MM-DD[&compare_previous_year=true]
  [&lang=ru|kk]` — tables 2 and 6 as JSON;
- `GET /v1/reports/assessment/{table}.csv?...` — one table as CSV (`bodies`, `levels`,
  `body-regions`, `regions`);
- `GET /v1/reports/assessment.html?...` — the printable page.

and for recording outcomes (role `outcome-registrar`), each `POST` answering 201 (recorded
now), 200 (this decision was recorded before: the stored event), 409 (a different decision
is recorded), 422 (which field, why):

- `POST /v1/outcomes/court-decisions`, `POST /v1/outcomes/disciplinary-decisions`,
  `POST /v1/outcomes/repeat-complaint-verdicts`.

A period is at most 3 years (an assessment is a quarter or a year; the bound keeps one
request's reads bounded) and starts on or after 2000-01-01.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from contracts import AppealOutcome
from services.common.auth.guard import Guard
from services.common.auth.roles import Permission
from services.common.auth.tokens import Caller
from services.common.clock import Clock
from services.common.messaging import describe_validation_error
from services.common.openapi import (
    Body,
    DocumentedRoute,
    ErrorBody,
    Operation,
    Param,
    Reply,
    refusal,
    reply,
)
from services.sla.assessment import Assessments
from services.sla.assessment.outcomes import (
    CourtDecisionForm,
    DisciplinaryDecisionForm,
    OutcomeRecorder,
    Refused,
    RepeatComplaintVerdictForm,
)
from services.sla.assessment.render import Table, to_csv, to_html
from services.sla.assessment.report import Assessment, Period

REPORTS, OUTCOMES = "reports", "outcomes"
MAX_PERIOD_DAYS = 3 * 366
EARLIEST = date(2000, 1, 1)
DATE = {"type": "string", "format": "date"}
PERIOD_PARAMS = (
    Param("from", "query", "First day of the period (local), YYYY-MM-DD.", True, DATE),
    Param("to", "query", "Last day of the period (included), YYYY-MM-DD.", True, DATE),
    Param(
        "compare_previous_year",
        "query",
        "Also the same days a year before, and the change (table 6).",
        schema={"type": "string", "enum": ["true", "false"]},
    ),
    Param("lang", "query", "Names in `ru` (default) or `kk`.", schema={"enum": ["ru", "kk"]}),
)
BAD_QUERY = Reply(400, "A parameter is missing or wrong: which, and why.", ErrorBody)
JSON_REPORT = Operation(
    "The assessment tables of a period (seed tables 2 and 6)",
    REPORTS,
    (Reply(200, "By body, by level, by region; appeals by region.", Assessment), BAD_QUERY),
    params=PERIOD_PARAMS,
    description="Counting rules: README, section Assessment.",
)
CSV_REPORT = Operation(
    "One assessment table as CSV",
    REPORTS,
    (Reply(200, "Header row of field names, one row each.", str, ("text/csv",)), BAD_QUERY),
    params=(
        Param("table", "path", "Which table.", schema={"enum": [t.value for t in Table]}),
        *PERIOD_PARAMS,
    ),
)
HTML_REPORT = Operation(
    "The assessment as a printable page",
    REPORTS,
    (Reply(200, "Tables 2 and 6, A4 landscape.", str, ("text/html",)), BAD_QUERY),
    params=PERIOD_PARAMS,
)


def _recording(summary: str, form: type, event: str) -> Operation:
    return Operation(
        summary,
        OUTCOMES,
        (
            Reply(201, f"Recorded and published as `{event}`.", AppealOutcome),
            Reply(200, "Recorded before: the stored event (published again).", AppealOutcome),
            Reply(409, "A different decision is recorded under the same key.", ErrorBody),
            Reply(422, "Not a valid decision: which field, why.", ErrorBody),
        ),
        body=Body(form),
    )


RECORDINGS: tuple[tuple[str, type, str, str], ...] = (
    (
        "/v1/outcomes/court-decisions",
        CourtDecisionForm,
        "Record a court's decision on an appeal",
        "court.decided",
    ),
    (
        "/v1/outcomes/disciplinary-decisions",
        DisciplinaryDecisionForm,
        "Record a disciplinary decision on a breach",
        "disciplinary.decided",
    ),
    (
        "/v1/outcomes/repeat-complaint-verdicts",
        RepeatComplaintVerdictForm,
        "Record a supervising body's verdict on a repeat complaint",
        "repeat_complaint.decided",
    ),
)
"""(path, form, summary, event) of each recording route."""


class QueryError(ValueError):
    pass


def _period(request: Request) -> Period:
    query = request.query_params
    days = {}
    for name in ("from", "to"):
        text = query.get(name)
        if not text:
            raise QueryError(f"{name}: required, a day as YYYY-MM-DD")
        try:
            days[name] = date.fromisoformat(text)
        except ValueError:
            raise QueryError(f"{name}: {text!r} is not a day as YYYY-MM-DD") from None
        if days[name] < EARLIEST:
            raise QueryError(f"{name}: {text} is before {EARLIEST}")
    if days["to"] < days["from"]:
        raise QueryError(f"to: {days['to']} is before from ({days['from']})")
    if (days["to"] - days["from"]).days >= MAX_PERIOD_DAYS:
        raise QueryError(f"to: a period is at most {MAX_PERIOD_DAYS} days")
    return Period(days["from"], days["to"])


def _flag(request: Request) -> bool:
    text = request.query_params.get("compare_previous_year", "false")
    if text not in ("true", "false"):
        raise QueryError(f"compare_previous_year: {text!r} is neither true nor false")
    return text == "true"


def _language(request: Request) -> str:
    text = request.query_params.get("lang", "ru")
    if text not in ("ru", "kk"):
        raise QueryError(f"lang: {text!r} is not one of ru, kk")
    return text


def assessment_routes(
    assessments: Assessments, recorder: OutcomeRecorder, guard: Guard, clock: Clock
) -> list[DocumentedRoute]:
    async def report_of(request: Request) -> Assessment:
        return await assessments.report(
            _period(request),
            compare_previous_year=_flag(request),
            language=_language(request),
        )

    def answering(
        render: Callable[[Request, Assessment], Response],
    ) -> Callable[[Request, Caller], Awaitable[Response]]:
        async def handler(request: Request, _: Caller) -> Response:
            try:
                table = Table(request.path_params.get("table", Table.BODIES))
            except ValueError:
                names = ", ".join(t.value for t in Table)
                return refusal(400, "invalid_query", f"table: one of {names}")
            try:
                report = await report_of(request)
            except QueryError as exc:
                return refusal(400, "invalid_query", str(exc))
            request.state.table = table
            return render(request, report)

        return handler

    def as_json(_: Request, report: Assessment) -> Response:
        return reply(Assessment, report)

    def as_csv(request: Request, report: Assessment) -> Response:
        table: Table = request.state.table
        name = f"assessment-{table}-{report.first_day}-{report.last_day}.csv"
        return Response(
            to_csv(report, table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def as_html(_: Request, report: Assessment) -> Response:
        return Response(to_html(report), media_type="text/html; charset=utf-8")

    def recording(form_type: type) -> Callable[[Request, Caller], Awaitable[Response]]:
        async def handler(request: Request, caller: Caller) -> Response:
            try:
                form = form_type.model_validate_json(await request.body())
            except ValidationError as exc:
                return refusal(422, "invalid_outcome", describe_validation_error(exc))
            try:
                created, event = await recorder.record(form, caller.subject, clock.now())
            except Refused as exc:
                status = 409 if exc.error == "already_recorded" else 422
                return refusal(status, exc.error, exc.reason)
            return reply(AppealOutcome, event, 201 if created else 200)

        return handler

    reading = Permission.REPORTS_READ
    records = Permission.OUTCOMES_RECORD
    return [
        *(
            guard.route(path, answering(render), methods=["GET"], permission=reading, operation=op)
            for path, render, op in (
                ("/v1/reports/assessment", as_json, JSON_REPORT),
                ("/v1/reports/assessment.html", as_html, HTML_REPORT),
                ("/v1/reports/assessment/{table}.csv", as_csv, CSV_REPORT),
            )
        ),
        *(
            guard.route(
                path,
                recording(form),
                methods=["POST"],
                permission=records,
                operation=_recording(summary, form, event_type),
            )
            for path, form, summary, event_type in RECORDINGS
        ),
    ]
