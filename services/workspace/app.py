"""The workspace's composition root: its read model fed by the topics an agency system reads
(every body's inbox, the routing decisions, the bodies' decisions, sla's events), its users
and sessions, and the server-rendered pages (Jinja2; one small script polls the inbox rows).

Pages (Kazakh by default, Russian on a click, remembered in a cookie):
- `/login`, `/logout`;
- `/inbox` — an officer's body's appeals (status filter; answer and forwarding deadlines;
  warned and breached marked), the rows refreshed every few seconds (`/inbox/rows`);
- `/appeals/{id}` — one appeal with its timeline; an officer of the body holding it accepts,
  extends (reasoned; within two months of receipt, checked in the form and by sla), answers
  or redirects it: each decision published as the body's own on `agency.<code>.actions.v1`,
  the path an agency system uses, and audited. Another body's appeal is 403.
- `/find?number=` — an appeal by its registration number.

Security: passwords Argon2id; sessions server-side, cookie HttpOnly + SameSite=Strict (+
Secure); every form carries the session's CSRF token (login: a double-submit cookie);
decisions carry a nonce, so a double click is one decision.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from faststream.kafka.message import KafkaMessage
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from contracts import (
    CATEGORY_TITLES,
    AgencyAction,
    AgencyDecision,
    AgencyInboxMessage,
    AnswerOutcome,
    AppealRegistered,
    AppealTriaged,
    Category,
    DismissalReason,
    Event,
    IncidentAnswered,
    IncidentGrew,
    IncidentOpened,
    IncidentResolved,
    RoutingDecision,
    SlaEvent,
    TriageDecided,
    agency_actions,
    agency_inbox,
    deterministic_id,
    topics,
)
from reference.agencies import AgencyRegistry
from reference.calendar import CalendarYearNotCovered
from reference.statute import forwarding_deadline
from services.common.clock import Clock, SystemClock
from services.common.http import build_http_app
from services.common.messaging import publish_event, publish_keyed
from services.common.openapi import Body, DocumentedRoute, Operation, Param, Reply, documented
from services.common.runtime import create_runtime, document_publications
from services.common.settings import ServiceSettings
from services.common.subscribing import subscribe_in_keyed_batches
from services.workspace import decisions, user_forms
from services.workspace.accounts import ROLES, Accounts, Session, User
from services.workspace.body_search import BodySearch, find_bodies, search_choices
from services.workspace.decisions import FormErrors, Officer
from services.workspace.i18n import LANGUAGES, labels_for, language_of
from services.workspace.incidents import IncidentView, IncidentViews
from services.workspace.settings import WorkspaceSettings
from services.workspace.store import AppealViews
from services.workspace.supervision import Period as SupervisionPeriod
from services.workspace.supervision import supervision
from services.workspace.views import (
    FINAL,
    READ_TOPICS_EVENTS,
    AppealView,
    Listing,
    working_days_left,
)

log = logging.getLogger("tyndau.workspace")
TEMPLATES = Path(__file__).with_name("templates")
SESSION_COOKIE, LOGIN_COOKIE, LANG_COOKIE = "tyndau_session", "tyndau_login", "lang"
Loaded = TypeVar("Loaded")
"""What a page is about (an appeal, an incident, a user), for the one guard of them all."""
STATUSES = ("routed", "accepted", "extended", "redirected", "answered", "dismissed")
OPEN, ALL = "", "all"
"""The inbox's filters besides one status: not answered or dismissed (the default), all."""
TAG = "workspace"


def html_reply(status: int, what: str) -> Reply:
    """A documented answer that is a page (the pages' routes answer HTML, not JSON)."""
    return Reply(status, what, str, ("text/html",))


PAGE = html_reply(200, "The page.")


def form_of(model: type[BaseModel]) -> Body:
    """A documented request body that is a submitted form."""
    return Body(model, "application/x-www-form-urlencoded")


SEE_OTHER = Reply(303, "Go on to the next page (Location).")


class LoginForm(BaseModel):
    username: str
    password: str
    csrf: str


class IncidentForm(BaseModel):
    csrf: str
    nonce: str
    outcome: AnswerOutcome
    summary: str
    how_to_obtain: str


class TriageForm(BaseModel):
    csrf: str
    nonce: str
    agency_code: str
    note: str


def start_page(role: str) -> str:
    return {"operator": "/triage", "admin": "/admin/users"}.get(role, "/inbox")


class UserForm(BaseModel):
    csrf: str
    username: str
    role: str
    agency_code: str | None = None
    password: str


class UserChangeForm(BaseModel):
    """One of a user's page's forms (which fields: the action's)."""

    csrf: str
    action: str
    role: str | None = None
    agency_code: str | None = None
    password: str | None = None


class DecisionForm(BaseModel):
    """One of the appeal page's forms (which fields: the decision's)."""

    csrf: str
    nonce: str
    new_due: str | None = None
    reason: str | None = None
    outcome: AnswerOutcome | None = None
    summary: str | None = None
    how_to_obtain: str | None = None
    to_body: str | None = None


def _write_private(path: Path, line: str) -> None:
    path.touch(mode=0o600)
    path.write_text(line + "\n", encoding="utf-8")


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def create_app(settings: ServiceSettings, *, clock: Clock | None = None) -> Starlette:
    settings = WorkspaceSettings.specialise(settings)
    clock = clock or SystemClock()
    calendar = settings.working_calendar()
    registry = AgencyRegistry.default()
    runtime = create_runtime(settings)
    document_publications(
        runtime,
        [
            (
                "agency.{code}.actions.v1",
                AgencyDecision,
                "Officers' decisions (one appeal, or one incident), as their body's own.",
            ),
            (topics.TRIAGE_DECISIONS, TriageDecided, "Triage operators' choices of body."),
        ],
    )
    views = AppealViews(runtime.db)
    incidents = IncidentViews(runtime.db)
    accounts = Accounts(runtime.db, settings.session_lifetime)

    async def first_admin(_: AsyncDatabase) -> None:
        password = await accounts.first_admin()
        if not password:
            return
        line = (
            f"workspace, first start: log in as admin with password {password} "
            "(shown once; only its hash is stored)"
        )
        if settings.first_admin_file:  # make run shows it, then deletes the file
            await asyncio.to_thread(_write_private, Path(settings.first_admin_file), line)
        else:
            print(line, file=sys.stderr, flush=True)

    runtime.on_database_ready.append(first_admin)

    async def list_existing(_: AsyncDatabase) -> None:
        listed = await views.list_existing()
        if listed:
            log.info("listed %d appeals of a database made before the lists", listed)

    runtime.on_database_ready.append(list_existing)

    async def on_event(event: Any, _: KafkaMessage) -> None:
        if isinstance(event, IncidentOpened | IncidentGrew | IncidentResolved):
            await incidents.apply(event)
        elif isinstance(event, Event) and isinstance(event, READ_TOPICS_EVENTS):
            await views.apply(event)

    subscribe_in_keyed_batches(
        runtime,
        {
            topics.APPEALS_REGISTERED: AppealRegistered,
            topics.APPEALS_TRIAGE: AppealTriaged,
            **{agency_inbox(code): AgencyInboxMessage for code in registry.by_code},
            topics.APPEALS_ROUTED: RoutingDecision,
            topics.AGENCY_ACTIONS: AgencyAction,
            topics.SLA_EVENTS: SlaEvent,
        },
        group_id=settings.consumer_group,
        handle=on_event,
        title="workspace.read_model",
        description="What officers see: assignments, routing decisions, the bodies' "
        "decisions and sla's deadlines, folded per appeal (services/workspace/views.py).",
    )

    pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())

    def days_left(iso: str | None) -> int | None | str:
        """Working days left before a deadline (views.working_days_left); '' without one."""
        if not iso:
            return ""
        try:
            return working_days_left(calendar, clock.now(), datetime.fromisoformat(iso))
        except CalendarYearNotCovered:
            return ""  # a year the calendar cannot count: the date alone is shown

    pages.globals["days_left"] = days_left
    pages.globals["category_title"] = lambda code, lang: (
        CATEGORY_TITLES[Category(code)][lang] if code in Category._value2member_map_ else code
    )
    pages.filters["local"] = lambda iso: (
        datetime.fromisoformat(iso).astimezone(calendar.tz).strftime("%d.%m.%Y %H:%M")
        if iso
        else "—"
    )

    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        lang = language_of(request.cookies.get(LANG_COOKIE))
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = pages.get_template(name).render(lang=lang, t=labels_for(lang), here=here, **values)
        return HTMLResponse(html, status)

    def refusal(request: Request, session: Session, status: int, key: str) -> HTMLResponse:
        """The page that says no (which label: `key`), in the user's language."""
        message = labels_for(language_of(request.cookies.get(LANG_COOKIE)))[key]
        return render(
            request, "message.html", status, user=session.user, csrf=session.csrf, message=message
        )

    def cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
            path="/",
        )

    async def session_of(request: Request) -> Session | None:
        return await accounts.session(request.cookies.get(SESSION_COOKIE), clock.now())

    def to_login() -> Response:
        return RedirectResponse("/login", 303)

    async def audit(session: Session, what: str, on: str, ref: str) -> None:
        """Who did what, when, to what (`on`: an appeal id or a user name; `ref`: the event
        published, if any)."""
        await runtime.db["audit"].insert_one(
            {
                "at": clock.now().isoformat(),
                "who": session.user.username,
                "body": session.user.agency_code,
                "what": what,
                "on": on,
                "ref": ref,
            }
        )

    # --- login ---------------------------------------------------------------------------

    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", user=None, csrf=token, failed=False)
        cookie(response, LOGIN_COOKIE, token, max_age=3600)
        return response

    async def login(request: Request) -> Response:
        form = _form(await request.body())
        expected = request.cookies.get(LOGIN_COOKIE)
        if not expected or not secrets.compare_digest(expected, form.get("csrf", "")):
            return await login_page(request)
        user = await accounts.check(form.get("username", ""), form.get("password", ""))
        if user is None:
            token = secrets.token_urlsafe(24)
            response = render(request, "login.html", 401, user=None, csrf=token, failed=True)
            cookie(response, LOGIN_COOKIE, token, max_age=3600)
            return response
        response = RedirectResponse(start_page(user.role), 303)
        cookie(response, SESSION_COOKIE, await accounts.open_session(user, clock.now()))
        response.delete_cookie(LOGIN_COOKIE, path="/")
        log.info("workspace login: %s", user.username)
        return response

    async def logout(request: Request) -> Response:
        session = await session_of(request)
        form = _form(await request.body())
        if session and secrets.compare_digest(session.csrf, form.get("csrf", "")):
            await accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def switch_language(request: Request) -> Response:
        lang = request.path_params["lang"]
        target = request.query_params.get("next", "/inbox")
        if urlsplit(target).netloc or not target.startswith("/"):
            target = "/inbox"  # never off-site
        response = RedirectResponse(target, 303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict")
        return response

    async def home(request: Request) -> Response:
        session = await session_of(request)
        return RedirectResponse(start_page(session.user.role) if session else "/login", 303)

    # --- the inbox -----------------------------------------------------------------------

    def visible_bodies(session: Session) -> set[str]:
        user = session.user
        if user.agency_code is None:
            return set()
        if user.role == "supervisor":
            under = {c for c, a in registry.by_code.items() if a.parent == user.agency_code}
            return {user.agency_code, *under}
        return {user.agency_code}

    async def rows_of(request: Request, session: Session) -> list[Listing]:
        """The inbox: the open appeals by default (`status` empty), every appeal the bodies
        ever had (`all`), or those of one status."""
        wanted = request.query_params.get("status") or OPEN
        bodies = visible_bodies(session)
        if wanted == OPEN or (wanted in STATUSES and wanted not in FINAL):
            found = await views.open_of_bodies(bodies)
        else:
            found = await views.of_bodies(bodies)
        rows = [Listing(v, v.state()) for v in found]
        rows = [r for r in rows if wanted in (OPEN, ALL) or r.state["status"] == wanted]
        return sorted(rows, key=lambda r: (r.state["answer_due_at"] or "", r.view.appeal_id))

    async def inbox(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return to_login()
        body = session.user.agency_code
        return render(
            request,
            "inbox.html",
            user=session.user,
            csrf=session.csrf,
            incidents=await incidents.open_of(body) if body else [],
            rows=await rows_of(request, session),
            statuses=STATUSES,
            chosen=request.query_params.get("status", ""),
        )

    async def inbox_rows(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return Response(status_code=401)
        return render(request, "rows.html", rows=await rows_of(request, session))

    # --- one appeal ----------------------------------------------------------------------

    def may_see(session: Session, view: AppealView) -> bool:
        if session.user.role == "operator":
            return True  # the triage desk reads every appeal to place it
        if session.user.role == "supervisor" and session.user.agency_code in view.escalated_to:
            return True  # a breach of it was escalated to this supervisor's body
        return bool(visible_bodies(session) & set(view.bodies))

    def may_act(session: Session, view: AppealView) -> bool:
        state = view.state()
        user = session.user
        return (
            user.role == "officer"
            and state["holder"] == user.agency_code
            and state["status"] not in ("answered", "redirected")
        )

    def appeal_page(
        request: Request,
        session: Session,
        view: AppealView,
        status: int = 200,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        lang = language_of(request.cookies.get(LANG_COOKIE))
        search = BodySearch.of(dict(request.query_params))
        bodies = find_bodies(registry, search, lang, leave_out=session.user.agency_code)
        return render(
            request,
            "appeal.html",
            status,
            user=session.user,
            csrf=session.csrf,
            view=view,
            state=view.state(),
            timeline=view.timeline,
            actionable=may_act(session, view),
            sent=request.query_params.get("sent") == "1",
            nonces={
                k: secrets.token_urlsafe(12) for k in ("accept", "extend", "answer", "redirect")
            },
            outcomes=[o.value for o in AnswerOutcome],
            bodies=bodies,
            search=search,
            choices=search_choices(lang),
            errors=errors or {},
            form=form or {},
        )

    async def loaded(
        request: Request,
        load: Callable[[Request], Awaitable[Loaded | None]],
        may: Callable[[Session, Loaded], bool],
        missing: str = "not_found",
    ) -> tuple[Session | None, Loaded | None, Response | None]:
        """The session and the thing a page is about, or the page that says no instead: the
        login page without a session, 404 (label `missing`) without the thing, 403 when the
        user may not see it (`may`)."""
        session = await session_of(request)
        if session is None:
            return None, None, to_login()
        found = await load(request)
        if found is None:
            return session, None, refusal(request, session, 404, missing)
        if not may(session, found):
            return session, found, refusal(request, session, 403, "forbidden")
        return session, found, None

    async def guarded(
        request: Request,
    ) -> tuple[Session | None, AppealView | None, Response | None]:
        return await loaded(request, lambda r: views.get(r.path_params["appeal_id"]), may_see)

    async def show_appeal(request: Request) -> Response:
        session, view, refused = await guarded(request)
        if refused is not None:
            return refused
        assert session is not None and view is not None
        return appeal_page(request, session, view)

    async def decide(request: Request) -> Response:
        session, view, refused = await guarded(request)
        if refused is not None:
            return refused
        assert session is not None and view is not None
        form = _form(await request.body())
        t = labels_for(language_of(request.cookies.get(LANG_COOKIE)))
        if not secrets.compare_digest(session.csrf, form.get("csrf", "")):
            return appeal_page(request, session, view, 403, {"csrf": t["csrf"]})
        if not may_act(session, view):
            return refusal(request, session, 403, "forbidden")
        assert session.user.agency_code is not None
        officer = Officer(session.user.username, session.user.agency_code)
        nonce, now, action = (
            form.get("nonce") or secrets.token_urlsafe(12),
            clock.now(),
            request.path_params["action"],
        )
        try:
            match action:
                case "accept":
                    event = decisions.accept(view, officer, nonce, now)
                case "extend":
                    event = decisions.extend(view, officer, form, nonce, now, calendar)
                case "answer":
                    event = decisions.answer(view, officer, form, nonce, now)
                case "redirect":
                    event = decisions.redirect(view, officer, form, nonce, now, registry)
                case _:
                    return Response(status_code=404)
        except FormErrors as exc:
            return appeal_page(request, session, view, 422, exc.worded(t), form)
        await publish_event(runtime, agency_actions(officer.agency_code), event)
        await audit(session, event.event_type, view.appeal_id, event.event_id)
        return RedirectResponse(f"/appeals/{view.appeal_id}?sent=1", 303)

    async def find(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return to_login()
        view = await views.by_number(request.query_params.get("number", "").strip().upper())
        if view is None or not may_see(session, view):
            return refusal(request, session, 404, "not_found")
        return RedirectResponse(f"/appeals/{view.appeal_id}", 303)

    # --- the triage desk -------------------------------------------------------------------

    def forward_due(view: AppealView) -> str | None:
        """Art. 65's 3 working days, from registration: the desk's time to place it."""
        registered = next(
            (e["registered_at"] for e in view.entries if e["event_type"] == "appeal.registered"),
            None,
        )
        if registered is None:
            return None
        try:
            return forwarding_deadline(calendar, datetime.fromisoformat(registered)).isoformat()
        except CalendarYearNotCovered:
            return None

    async def queue_rows() -> list[dict[str, Any]]:
        now = clock.now().isoformat()
        rows = []
        for view in await views.in_triage():
            due = forward_due(view)
            triaged = view.state()["triaged"] or {}
            rows.append(
                {
                    "view": view,
                    "forward_due": due,
                    "overdue": bool(due and due < now),
                    "reason": triaged.get("reason", ""),
                }
            )
        return sorted(rows, key=lambda r: (r["view"].received_at or "", r["view"].appeal_id))

    async def operator_session(request: Request) -> tuple[Session | None, Response | None]:
        session = await session_of(request)
        if session is None:
            return None, to_login()
        if session.user.role != "operator":
            page = refusal(request, session, 403, "forbidden")
            return session, page
        return session, None

    async def triage_queue(request: Request) -> Response:
        session, refused = await operator_session(request)
        if refused is not None:
            return refused
        assert session is not None
        return render(
            request, "triage.html", user=session.user, csrf=session.csrf, rows=await queue_rows()
        )

    async def triage_rows(request: Request) -> Response:
        session, refused = await operator_session(request)
        if refused is not None:
            return Response(status_code=refused.status_code)
        return render(request, "triage_rows.html", rows=await queue_rows())

    def triage_page(
        request: Request,
        session: Session,
        view: AppealView,
        status: int = 200,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        lang = language_of(request.cookies.get(LANG_COOKIE))
        state = view.state()
        triaged = state["triaged"] or {"reason": "", "candidates": []}
        proposed = [c["agency_code"] for c in triaged.get("candidates", [])]
        search = BodySearch.of(dict(request.query_params))
        return render(
            request,
            "triage_decide.html",
            status,
            user=session.user,
            csrf=session.csrf,
            view=view,
            triaged=triaged,
            forward_due=forward_due(view),
            open=state["status"] == "in_triage",
            nonce=secrets.token_urlsafe(12),
            bodies=find_bodies(registry, search, lang, proposed),
            search=search,
            choices=search_choices(lang),
            dismissal_grounds=[g.value for g in DismissalReason],
            errors=errors or {},
            form=form or {},
        )

    async def triage_one(request: Request) -> Response:
        session, refused = await operator_session(request)
        if refused is not None:
            return refused
        assert session is not None
        view = await views.get(request.path_params["appeal_id"])
        if view is None:
            return refusal(request, session, 404, "not_found")
        return triage_page(request, session, view)

    async def triage_decide(request: Request) -> Response:
        session, refused = await operator_session(request)
        if refused is not None:
            return refused
        assert session is not None
        view = await views.get(request.path_params["appeal_id"])
        t = labels_for(language_of(request.cookies.get(LANG_COOKIE)))
        if view is None:
            return refusal(request, session, 404, "not_found")
        form = _form(await request.body())
        if not secrets.compare_digest(session.csrf, form.get("csrf", "")):
            return triage_page(request, session, view, 403, {"note": t["csrf"]}, form)
        state = view.state()
        if state["status"] != "in_triage" or state["triaged"] is None:
            return triage_page(request, session, view, 409)
        nonce = form.get("nonce") or secrets.token_urlsafe(12)
        try:
            decided = decisions.triage(
                view,
                state["triaged"]["event_id"],
                session.user.username,
                form,
                nonce,
                clock.now(),
                registry,
            )
        except decisions.FormErrors as invalid:
            return triage_page(request, session, view, 422, invalid.worded(t), form)
        await publish_event(runtime, topics.TRIAGE_DECISIONS, decided)
        await audit(session, decided.event_type, view.appeal_id, decided.event_id)
        return RedirectResponse("/triage", 303)

    # --- an incident: one answer for every member -------------------------------------------

    async def incident_page(
        request: Request,
        session: Session,
        incident: IncidentView,
        status: int = 200,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        members = await views.many(list(incident.members))
        user = session.user
        return render(
            request,
            "incident.html",
            status,
            user=user,
            csrf=session.csrf,
            incident=incident,
            members=members,
            may_answer=user.role == "officer" and user.agency_code == incident.agency_code,
            sent=request.query_params.get("sent") == "1",
            nonce=secrets.token_urlsafe(12),
            outcomes=[o.value for o in AnswerOutcome],
            errors=errors or {},
            form=form or {},
        )

    async def incident_of(
        request: Request,
    ) -> tuple[Session | None, IncidentView | None, Response | None]:
        return await loaded(
            request,
            lambda r: incidents.get(r.path_params["incident_id"]),
            lambda session, incident: incident.agency_code in visible_bodies(session),
        )

    async def show_incident(request: Request) -> Response:
        session, incident, refused = await incident_of(request)
        if refused is not None:
            return refused
        assert session is not None and incident is not None
        return await incident_page(request, session, incident)

    async def answer_incident(request: Request) -> Response:
        session, incident, refused = await incident_of(request)
        if refused is not None:
            return refused
        assert session is not None and incident is not None
        form = _form(await request.body())
        t = labels_for(language_of(request.cookies.get(LANG_COOKIE)))
        user = session.user
        if not secrets.compare_digest(session.csrf, form.get("csrf", "")):
            return await incident_page(request, session, incident, 403, {"summary": t["csrf"]})
        if user.role != "officer" or user.agency_code != incident.agency_code or incident.resolved:
            return refusal(request, session, 403, "forbidden")
        try:
            outcome, summary, how = decisions.answer_fields(form)
        except FormErrors as exc:
            return await incident_page(request, session, incident, 422, exc.worded(t), form)
        nonce = form.get("nonce") or secrets.token_urlsafe(12)
        answer = IncidentAnswered(
            event_id=deterministic_id("workspace.incident", incident.incident_id, nonce),
            occurred_at=clock.now(),
            incident_id=incident.incident_id,
            agency_code=incident.agency_code,
            action_id=f"{incident.agency_code}/workspace/incident/{nonce}",
            outcome=outcome,
            summary=summary,
            how_to_obtain=how,
        )
        topic = agency_actions(incident.agency_code)
        await publish_keyed(runtime, topic, answer, incident.incident_id, incident.incident_id)
        await audit(session, answer.event_type, incident.incident_id, answer.event_id)
        return RedirectResponse(f"/incidents/{incident.incident_id}?sent=1", 303)

    # --- the admin: users ---------------------------------------------------------------------

    async def users_page(
        request: Request,
        session: Session,
        status: int = 200,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        created: str | None = None,
    ) -> HTMLResponse:
        lang = language_of(request.cookies.get(LANG_COOKIE))
        bodies = sorted((c, a.names.get(lang, c)) for c, a in registry.by_code.items())
        return render(
            request,
            "users.html",
            status,
            user=session.user,
            csrf=session.csrf,
            users=await accounts.all_users(),
            roles=ROLES,
            bodies=bodies,
            errors=errors or {},
            form=form or {"role": "officer"},
            created=created,
        )

    async def list_users(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return to_login()
        if session.user.role != "admin":
            return refusal(request, session, 403, "forbidden")
        return await users_page(request, session, created=request.query_params.get("created"))

    async def create_user(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return to_login()
        if session.user.role != "admin":
            return refusal(request, session, 403, "forbidden")
        form = _form(await request.body())
        t = labels_for(language_of(request.cookies.get(LANG_COOKIE)))
        if not secrets.compare_digest(session.csrf, form.get("csrf", "")):
            return await users_page(request, session, 403, {"username": t["csrf"]}, form)
        form_without_password = {k: v for k, v in form.items() if k != "password"}
        try:
            new = user_forms.new_user(form, registry)
        except FormErrors as invalid:
            return await users_page(request, session, 422, invalid.worded(t), form_without_password)
        if not await accounts.add_user(new.username, new.password, new.role, new.agency_code):
            errors = {"username": t["username_taken"]}
            return await users_page(request, session, 422, errors, form_without_password)
        await audit(session, f"user.created:{new.role}", new.username, "")
        return RedirectResponse(f"/admin/users?created={new.username}", 303)

    async def user_page(
        request: Request,
        session: Session,
        target: User,
        status: int = 200,
        errors: dict[str, str] | None = None,
    ) -> HTMLResponse:
        lang = language_of(request.cookies.get(LANG_COOKIE))
        bodies = sorted((c, a.names.get(lang, c)) for c, a in registry.by_code.items())
        return render(
            request,
            "user.html",
            status,
            user=session.user,
            csrf=session.csrf,
            target=target,
            roles=ROLES,
            bodies=bodies,
            errors=errors or {},
            changed=request.query_params.get("changed") == "1",
        )

    async def admin_and_user(
        request: Request,
    ) -> tuple[Session | None, User | None, Response | None]:
        session, target, refused = await loaded(
            request,
            lambda r: accounts.user(r.path_params["username"]),
            lambda session, _: session.user.role == "admin",
            missing="no_such_user",
        )
        # Only an admin learns whether a user exists: anyone else is refused either way.
        if session is not None and target is None and session.user.role != "admin":
            return session, None, refusal(request, session, 403, "forbidden")
        return session, target, refused

    async def show_user(request: Request) -> Response:
        session, target, refused = await admin_and_user(request)
        if refused is not None:
            return refused
        assert session is not None and target is not None
        return await user_page(request, session, target)

    async def change_user(request: Request) -> Response:
        session, target, refused = await admin_and_user(request)
        if refused is not None:
            return refused
        assert session is not None and target is not None
        form = _form(await request.body())
        t = labels_for(language_of(request.cookies.get(LANG_COOKIE)))
        if not secrets.compare_digest(session.csrf, form.get("csrf", "")):
            return await user_page(request, session, target, 403, {"action": t["csrf"]})
        try:
            change = user_forms.user_change(form, registry, target, session.user)
        except FormErrors as invalid:
            return await user_page(request, session, target, 422, invalid.worded(t))
        match change:
            case user_forms.RoleChange(role, body):
                await accounts.set_role(target.username, role, body)
                what = f"user.role:{role}:{body or ''}"
            case user_forms.PasswordChange(password):
                await accounts.set_password(target.username, password)
                what = "user.password_set"
            case user_forms.AccessChange(disabled):
                await accounts.set_disabled(target.username, disabled)
                what = "user.disabled" if disabled else "user.enabled"
        await audit(session, what, target.username, "")
        return RedirectResponse(f"/admin/users/{target.username}?changed=1", 303)

    # --- the supervisor ---------------------------------------------------------------------

    async def supervision_page(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return to_login()
        if session.user.role != "supervisor":
            return refusal(request, session, 403, "forbidden")
        today = clock.now().astimezone(calendar.tz).date()
        try:
            last = date.fromisoformat(request.query_params.get("to") or today.isoformat())
            first = date.fromisoformat(
                request.query_params.get("from") or (last - timedelta(days=29)).isoformat()
            )
        except ValueError:
            return refusal(request, session, 400, "date_invalid")
        if last < first or (last - first).days > 366:
            return refusal(request, session, 400, "date_invalid")
        bodies = visible_bodies(session)
        report = supervision(
            await views.of_bodies(bodies),
            bodies,
            SupervisionPeriod(first, last),
            calendar.tz,
            escalated=await views.escalated_to(session.user.agency_code or ""),
            supervisor_body=session.user.agency_code,
        )
        return render(
            request,
            "supervision.html",
            user=session.user,
            csrf=session.csrf,
            report=report,
            first=first.isoformat(),
            last=last.isoformat(),
        )

    appeal_param = Param("appeal_id", "path", "The appeal's id.")
    form_body = form_of(DecisionForm)
    incident_param = Param("incident_id", "path", "The incident's id.")
    username_param = Param("username", "path", "The user's name.")
    routes: list[DocumentedRoute] = [
        documented(
            "/incidents/{incident_id}",
            show_incident,
            ["GET"],
            Operation(
                "A mass incident of the body: its appeals, and one answer for all",
                TAG,
                (
                    PAGE,
                    SEE_OTHER,
                    html_reply(403, "Another body's incident."),
                    html_reply(404, "No such incident."),
                ),
                params=(incident_param,),
            ),
        ),
        documented(
            "/incidents/{incident_id}",
            answer_incident,
            ["POST"],
            Operation(
                "Answer the incident: routing answers each of its appeals",
                TAG,
                (
                    SEE_OTHER,
                    html_reply(403, "Not this officer's, answered already, or a stale form."),
                    html_reply(404, "No such incident."),
                    html_reply(422, "A field is wrong: the page with the reason."),
                ),
                params=(incident_param,),
                body=form_of(IncidentForm),
            ),
        ),
        documented(
            "/admin/users",
            list_users,
            ["GET"],
            Operation(
                "The users (admin)",
                TAG,
                (PAGE, SEE_OTHER, html_reply(403, "Not an admin.")),
                params=(Param("created", "query", "The user just created (shown)."),),
            ),
        ),
        documented(
            "/admin/users",
            create_user,
            ["POST"],
            Operation(
                "Add a user (admin): name, role, body, initial password",
                TAG,
                (
                    SEE_OTHER,
                    html_reply(403, "Not an admin, or a stale form."),
                    html_reply(422, "A field is wrong: the page with the reason."),
                ),
                body=form_of(UserForm),
            ),
        ),
        documented(
            "/admin/users/{username}",
            show_user,
            ["GET"],
            Operation(
                "One user (admin): role and body, a new password, disable or enable",
                TAG,
                (
                    PAGE,
                    SEE_OTHER,
                    html_reply(403, "Not an admin."),
                    html_reply(404, "No such user."),
                ),
                params=(
                    username_param,
                    Param("changed", "query", "1 after a change was saved (shown)."),
                ),
            ),
        ),
        documented(
            "/admin/users/{username}",
            change_user,
            ["POST"],
            Operation(
                "Change a user (admin): `action` role, password, disable or enable",
                TAG,
                (
                    SEE_OTHER,
                    html_reply(403, "Not an admin, or a stale form."),
                    html_reply(404, "No such user."),
                    html_reply(422, "A field is wrong: the page with the reason."),
                ),
                params=(username_param,),
                body=form_of(UserChangeForm),
            ),
        ),
        documented(
            "/supervision",
            supervision_page,
            ["GET"],
            Operation(
                "A supervisor's body and the bodies under it: what to act on, KPIs, daily flow",
                TAG,
                (
                    PAGE,
                    SEE_OTHER,
                    html_reply(400, "A wrong period."),
                    html_reply(403, "Not a supervisor."),
                ),
                params=(
                    Param("from", "query", "First day (default: 30 days to `to`)."),
                    Param("to", "query", "Last day (default: today)."),
                ),
            ),
        ),
        documented(
            "/triage",
            triage_queue,
            ["GET"],
            Operation(
                "The triage queue, oldest first",
                TAG,
                (PAGE, SEE_OTHER, html_reply(403, "Not an operator.")),
            ),
        ),
        documented(
            "/triage/rows",
            triage_rows,
            ["GET"],
            Operation(
                "The queue's rows (polled)",
                TAG,
                (PAGE, Reply(303, "No session."), Reply(403, "Not an operator.")),
            ),
        ),
        documented(
            "/triage/{appeal_id}",
            triage_one,
            ["GET"],
            Operation(
                "An appeal to place: text, reason, candidates",
                TAG,
                (
                    PAGE,
                    SEE_OTHER,
                    html_reply(403, "Not an operator."),
                    html_reply(404, "No such appeal."),
                ),
                params=(Param("appeal_id", "path", "The appeal's id."),),
            ),
        ),
        documented(
            "/triage/{appeal_id}",
            triage_decide,
            ["POST"],
            Operation(
                "Send the appeal to a body (the triage decision)",
                TAG,
                (
                    SEE_OTHER,
                    html_reply(403, "Not an operator, or a stale form."),
                    html_reply(404, "No such appeal."),
                    html_reply(409, "Not waiting for a human any more."),
                    html_reply(422, "A field is wrong: the page with the reason."),
                ),
                params=(Param("appeal_id", "path", "The appeal's id."),),
                body=form_of(TriageForm),
            ),
        ),
        documented("/", home, ["GET"], Operation("Start", TAG, (SEE_OTHER,))),
        documented("/login", login_page, ["GET"], Operation("The login page", TAG, (PAGE,))),
        documented(
            "/login",
            login,
            ["POST"],
            Operation(
                "Log in",
                TAG,
                (
                    SEE_OTHER,
                    PAGE,
                    html_reply(401, "Wrong name or password: the page again."),
                ),
                body=form_of(LoginForm),
            ),
        ),
        documented("/logout", logout, ["POST"], Operation("Log out", TAG, (SEE_OTHER,))),
        documented(
            "/lang/{lang}",
            switch_language,
            ["GET"],
            Operation(
                "Switch the interface's language (kk, ru)",
                TAG,
                (SEE_OTHER,),
                params=(
                    Param("lang", "path", "kk or ru."),
                    Param("next", "query", "Where to go back to."),
                ),
            ),
        ),
        documented(
            "/inbox",
            inbox,
            ["GET"],
            Operation(
                "The body's appeals",
                TAG,
                (PAGE, SEE_OTHER),
                params=(Param("status", "query", "Only this status."),),
            ),
        ),
        documented(
            "/inbox/rows",
            inbox_rows,
            ["GET"],
            Operation(
                "The inbox rows (polled for live updates)",
                TAG,
                (PAGE, Reply(401, "No session.")),
                params=(Param("status", "query", "Only this status."),),
            ),
        ),
        documented(
            "/find",
            find,
            ["GET"],
            Operation(
                "An appeal by its registration number",
                TAG,
                (SEE_OTHER, html_reply(404, "None the user may see.")),
                params=(Param("number", "query", "The registration number."),),
            ),
        ),
        documented(
            "/appeals/{appeal_id}",
            show_appeal,
            ["GET"],
            Operation(
                "One appeal, its timeline and (for its body's officer) the decisions",
                TAG,
                (
                    PAGE,
                    SEE_OTHER,
                    html_reply(403, "Another body's appeal."),
                    html_reply(404, "No such appeal."),
                ),
                params=(appeal_param,),
            ),
        ),
        documented(
            "/appeals/{appeal_id}/{action}",
            decide,
            ["POST"],
            Operation(
                "Accept, extend, answer or redirect, as the officer's body",
                TAG,
                (
                    SEE_OTHER,
                    html_reply(403, "Not this officer's to decide, or a stale form."),
                    html_reply(404, "No such appeal or decision."),
                    html_reply(422, "A field is wrong: the page with the reason beside it."),
                ),
                params=(
                    appeal_param,
                    Param("action", "path", "accept, extend, answer or redirect."),
                ),
                body=form_body,
            ),
        ),
    ]
    app = build_http_app(runtime, routes=routes)
    app.state.accounts = accounts
    app.state.views = views
    app.state.incidents = incidents
    return app
