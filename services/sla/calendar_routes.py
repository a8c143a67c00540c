"""sla's HTTP routes for the working-day calendar (services/sla/replan.py):

- `GET /v1/calendar` — the calendar every deadline is counted on: its version, the years it
  covers and which of them are provisional (no decree yet). Public: no personal data.
- `GET /v1/calendar/replan` — the open deadlines this calendar moves, nothing written;
- `POST /v1/calendar/replan` — moves them, once; a second call moves nothing.
  Both need `calendar:replan` (role `calendar-operator`) and are audited.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from contracts import DeadlineKind
from services.common.auth.guard import Guard
from services.common.auth.roles import Permission
from services.common.auth.tokens import Caller
from services.common.openapi import DocumentedRoute, Operation, Reply, documented, reply
from services.sla.replan import CalendarReplan, Move
from services.sla.service import TimerService

TAG = "calendar"


class CalendarView(BaseModel):
    version: str
    time_zone: str
    # Wall-clock times where the services are (JSON Schema's "time" would need an offset).
    work_start: str = Field(pattern=r"^\d{2}:\d{2}$", description="Local, e.g. 09:00.")
    work_end: str = Field(pattern=r"^\d{2}:\d{2}$", description="Local, e.g. 18:00.")
    covered_years: list[int]
    provisional_years: list[int] = Field(
        description="Years whose days off are the law's rules only, until the decree."
    )


class MoveView(BaseModel):
    timer_id: str
    appeal_id: str
    deadline_kind: DeadlineKind
    agency_code: str
    previous_due_at: AwareDatetime
    due_at: AwareDatetime

    @classmethod
    def of(cls, move: Move) -> MoveView:
        return cls(
            timer_id=move.timer_id,
            appeal_id=move.appeal_id,
            deadline_kind=move.kind,
            agency_code=move.agency_code,
            previous_due_at=move.previous_due_at,
            due_at=move.due_at,
        )


class ReplanReport(BaseModel):
    calendar_version: str
    applied: bool = Field(description="False: what would move; true: what was moved now.")
    moves: list[MoveView]


CALENDAR = Operation(
    "The working-day calendar deadlines are counted on",
    TAG,
    (Reply(200, "Its version, years, and which are provisional.", CalendarView),),
)
PREVIEW = Operation(
    "The open deadlines this calendar moves (nothing written)",
    TAG,
    (Reply(200, "Each timer whose deadline would move, from and to.", ReplanReport),),
)
APPLY = Operation(
    "Re-plan the open deadlines this calendar moves, once",
    TAG,
    (Reply(200, "What was moved now (a second call: nothing).", ReplanReport),),
    description="Each moved deadline is a new timer generation announced by `sla.started` "
    "with `previous_due_at` and why; the citizen is told when the answer date moved.",
)


def calendar_routes(service: TimerService, guard: Guard) -> list[DocumentedRoute]:
    replanning = CalendarReplan(service)
    calendar = service.calendar

    years = list(calendar.covered_years)
    view = CalendarView(  # the calendar is fixed for the life of the process
        version=calendar.version,
        time_zone=str(calendar.tz),
        work_start=f"{calendar.work_start:%H:%M}",
        work_end=f"{calendar.work_end:%H:%M}",
        covered_years=years,
        provisional_years=[y for y in years if calendar.is_provisional(y)],
    )

    async def show(_: Request) -> JSONResponse:
        return reply(CalendarView, view)

    def report(applied: bool, moves: list[Move]) -> JSONResponse:
        views = [MoveView.of(move) for move in moves]
        return reply(
            ReplanReport,
            ReplanReport(calendar_version=calendar.version, applied=applied, moves=views),
        )

    async def preview(_: Request, __: Caller) -> JSONResponse:
        return report(False, await replanning.moves(apply=False))

    async def apply(_: Request, __: Caller) -> JSONResponse:
        return report(True, await replanning.moves(apply=True))

    return [
        documented("/v1/calendar", show, ["GET"], CALENDAR),
        guard.route(
            "/v1/calendar/replan",
            preview,
            methods=["GET"],
            permission=Permission.CALENDAR_REPLAN,
            operation=PREVIEW,
        ),
        guard.route(
            "/v1/calendar/replan",
            apply,
            methods=["POST"],
            permission=Permission.CALENDAR_REPLAN,
            operation=APPLY,
        ),
    ]
