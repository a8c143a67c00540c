"""Open311 GeoReport v2 on intake: the HTTP edge under `/open311/v2/` (see the package
docstring for what was decided where the spec is silent). Converts only: the catalogue and
the documents are `catalogue.py`'s, places `gazetteer.py`'s, registration IntakeService's.

Every route answers `.json` or `.xml` (anything else: 404); errors are the spec's `errors`
list in the asked format: 400 for a request that is wrong (naming the field and why), 403
for a missing or wrong `api_key`, 404 for an unknown service, request, token or
jurisdiction, 413 for a body over `INTAKE_MAX_BODY_BYTES`, 429 (with Retry-After) for a
client address reading the public feed faster than `INTAKE_OPEN311_READS_PER_MINUTE`.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from contracts import AppealRegistered, Category, Channel, FieldError, Language
from reference.agencies import AgencyRegistry
from reference.calendar import CalendarYearNotCovered
from services.common.http_limits import read_capped
from services.common.openapi import Body, DocumentedRoute, Operation, Param, Reply
from services.common.rate_limit import RateLimiter
from services.intake.adapters import adapt_open311
from services.intake.clients import GatewayClients
from services.intake.open311 import catalogue
from services.intake.open311.documents import (
    Discovery,
    Endpoint,
    Error,
    Open311Form,
    Open311Post,
    PostedRequest,
    Service,
    ServiceDefinition,
    ServiceRequest,
    TokenAnswer,
)
from services.intake.open311.gazetteer import OutsideKazakhstan, place_named_in, place_of
from services.intake.open311.render import JSON_TYPE, XML_TYPE, as_data, to_xml
from services.intake.service import IntakeService

BASE = "/open311/v2"
FORMATS = ("json", "xml")
# GeoReport v2: a date range may not span more than 90 days; without one, the last 90.
MAX_SPAN = timedelta(days=90)
# The listing reads the range's index entries (small), filters them by service and place,
# newest first, and reads the status of the page only — of every filtered request when it
# filters by status. Beyond these, the caller is asked to narrow the range.
MAX_SCANNED = 5000
MAX_LISTED = 500
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# When this version of the endpoint's behaviour was settled (discovery's `changeset`).
CHANGESET = "2026-12-04T00:00:00+05:00"

Handler = Callable[[Request, str], Awaitable[Response]]


class Refused(Exception):
    """A request the spec answers with `errors`: the HTTP status and each description."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(status, descriptions)
        self.status = status
        self.descriptions = descriptions


def answer(
    document: BaseModel | Sequence[BaseModel],
    fmt: str,
    root: str,
    item: str | None = None,
    status: int = 200,
) -> Response:
    if fmt == "xml":
        return Response(to_xml(document, root, item), status, media_type=XML_TYPE)
    body = json.dumps(as_data(document), ensure_ascii=False).encode()
    return Response(body, status, media_type=JSON_TYPE)


def refusal(refused: Refused, fmt: str) -> Response:
    errors = [Error(code=refused.status, description=d) for d in refused.descriptions]
    return answer(errors, fmt if fmt in FORMATS else "json", "errors", "error", refused.status)


def open311_routes(
    service: IntakeService, clients: GatewayClients, registry: AgencyRegistry
) -> list[DocumentedRoute]:
    settings = service.settings
    jurisdictions = settings.jurisdictions()

    def jurisdiction_of(params: dict[str, str]) -> str:
        """The KATO prefix of the request's jurisdiction (`""`: the whole country)."""
        given = params.get("jurisdiction_id", "").strip()
        if not given:
            if len(jurisdictions) > 1:
                raise Refused(400, "jurisdiction_id: required, one of " + ", ".join(jurisdictions))
            return next(iter(jurisdictions.values()))
        if given not in jurisdictions:
            raise Refused(404, f"jurisdiction_id: {given!r} is not served here")
        return jurisdictions[given]

    def locale_of(request: Request, params: dict[str, str]) -> Language:
        return catalogue.locale_of(params.get("locale"), request.headers.get("accept-language"))

    reads = RateLimiter(
        settings.open311_reads_per_minute, settings.open311_reads_burst, service.clock
    )

    def route(
        path: str,
        handle: Handler,
        operation: Operation,
        methods: tuple[str, ...] = ("GET",),
        limited: bool = False,
    ) -> DocumentedRoute:
        async def endpoint(request: Request) -> Response:
            fmt = request.path_params["fmt"]
            try:
                if fmt not in FORMATS:
                    raise Refused(404, f"format {fmt!r}: the formats are json and xml")
                if limited:
                    verdict = reads.check(request.client.host if request.client else "unknown")
                    if not verdict.allowed:
                        wait = str(verdict.retry_after_seconds)
                        response = refusal(
                            Refused(429, f"too many reads from this address; again in {wait} s"),
                            fmt,
                        )
                        response.headers["Retry-After"] = wait
                        return response
                return await handle(request, fmt)
            except Refused as refused:
                return refusal(refused, fmt)

        replies = [FORMAT_UNKNOWN, *([READS_LIMITED] if limited else [])]
        documented = replace(operation, params=(*operation.params, FORMAT)).with_replies(*replies)
        return DocumentedRoute(f"{BASE}/{path}", endpoint, methods=methods, operation=documented)

    # --- discovery and the catalogue ------------------------------------------------------

    async def discovery(request: Request, fmt: str) -> Response:
        url = str(request.base_url).rstrip("/") + BASE
        return answer(
            Discovery(
                changeset=CHANGESET,
                contact=settings.open311_contact,
                key_service="api_key: a channel key of intake's HTTP gateway (INTAKE_API_KEYS)",
                endpoints=[Endpoint(url=url, changeset=CHANGESET, type="production")],
            ),
            fmt,
            "discovery",
        )

    async def services(request: Request, fmt: str) -> Response:
        params = dict(request.query_params)
        jurisdiction_of(params)
        return answer(catalogue.services(locale_of(request, params)), fmt, "services", "service")

    async def definition(request: Request, fmt: str) -> Response:
        params = dict(request.query_params)
        jurisdiction_of(params)
        category = _category(request.path_params["code"], 404)
        found = catalogue.definition_of(category, locale_of(request, params))
        return answer(found, fmt, "service_definition")

    # --- filing a request -------------------------------------------------------------------

    async def post_request(request: Request, fmt: str) -> Response:
        body = await read_capped(request, settings.max_body_bytes)
        if body is None:
            raise Refused(413, f"the body must be at most {settings.max_body_bytes} bytes")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", ""):
            raise Refused(400, "the body must be application/x-www-form-urlencoded")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client = clients.client_for(form.get("api_key", "").strip())
        if client is None:
            service.metrics.gateway_refused.labels("api_key_wrong").inc()
            raise Refused(403, "api_key: missing, or not a key of this endpoint")
        prefix = jurisdiction_of(form)
        post = Open311Post.from_form(form)
        _category(post.service_code, 400)
        kato = _place(post, prefix)
        locale = locale_of(request, form)
        outcome = adapt_open311(post, client, kato, locale, service.clock.now(), settings.tz)
        try:
            accepted = await service.accept(outcome, None)
        except CalendarYearNotCovered as exc:
            raise Refused(503, "the working-day calendar lacks that year") from exc
        event = accepted.event
        if not isinstance(event, AppealRegistered):
            raise Refused(400, *(_described(error) for error in event.errors))
        await service.note_open311(event)
        due = event.answer_due_at.strftime("%d.%m.%Y")
        posted = PostedRequest(
            service_request_id=event.registration_number,
            token=event.appeal_id,
            service_notice=catalogue.service_notice(
                event.registration_number, event.lookup_code or "", due, locale
            ),
        )
        status = 201 if accepted.created else 200
        return answer([posted], fmt, "service_requests", "request", status)

    async def token(request: Request, fmt: str) -> Response:
        jurisdiction_of(dict(request.query_params))
        given = request.path_params["token"]
        registered = await service.registered_appeal(given)
        if registered is None or registered.channel is not Channel.OPEN311:
            raise Refused(404, "token: no request was filed under this token")
        found = TokenAnswer(service_request_id=registered.registration_number, token=given)
        return answer([found], fmt, "service_requests", "request")

    # --- reading requests -----------------------------------------------------------------

    async def one_request(request: Request, fmt: str) -> Response:
        params = dict(request.query_params)
        prefix = jurisdiction_of(params)
        found = await _requests_of(
            [request.path_params["request_id"]], prefix, locale_of(request, params)
        )
        if not found:
            raise Refused(404, "service_request_id: no such request here")
        return answer(found, fmt, "service_requests", "request")

    async def requests(request: Request, fmt: str) -> Response:
        params = dict(request.query_params)
        prefix = jurisdiction_of(params)
        locale = locale_of(request, params)
        # Every parameter is checked, even those a list of ids overrides: a malformed one is
        # the client's mistake either way.
        codes = {_category(code, 400).value for code in _listed(params.get("service_code"))}
        statuses = set(_listed(params.get("status")))
        if statuses - {"open", "closed"}:
            raise Refused(400, "status: open and/or closed")
        start, end = _range(params, service.clock.now())
        page, size = _paging(params)
        if ids := _listed(params.get("service_request_id")):
            # "This overrides all other arguments" (GeoReport v2).
            if len(ids) > MAX_PAGE_SIZE:
                raise Refused(400, f"service_request_id: at most {MAX_PAGE_SIZE} at once")
            return answer(
                await _requests_of(ids, prefix, locale), fmt, "service_requests", "request"
            )
        entries = await service.open311_entries(start, end, MAX_SCANNED + 1)
        if len(entries) > MAX_SCANNED:
            raise Refused(400, f"more than {MAX_SCANNED} requests in that range: narrow it")
        numbers = [  # newest first
            e.registration_number
            for e in reversed(entries)
            if (not codes or e.category in codes) and (e.region_kato or "").startswith(prefix)
        ]
        if not statuses:  # a status is read for the page only
            found = await _requests_of(numbers[(page - 1) * size : page * size], prefix, locale)
            return answer(found, fmt, "service_requests", "request")
        if len(numbers) > MAX_LISTED:
            raise Refused(
                400, f"more than {MAX_LISTED} requests to filter by status: narrow the range"
            )
        found = [r for r in await _requests_of(numbers, prefix, locale) if r.status in statuses]
        return answer(found[(page - 1) * size : page * size], fmt, "service_requests", "request")

    async def _requests_of(
        numbers: Sequence[str], prefix: str, locale: Language
    ) -> list[ServiceRequest]:
        statuses = await asyncio.gather(*(service.open311_status_of(n) for n in numbers))
        return [
            catalogue.request_of(status, registry, locale, settings.tz)
            for status in statuses
            if status is not None and (status.get("district_kato") or "").startswith(prefix)
        ]

    return [
        route("discovery.{fmt}", discovery, DISCOVERY),
        route("services.{fmt}", services, SERVICES),
        route("services/{code}.{fmt}", definition, DEFINITION),
        route("requests.{fmt}", post_request, POST_REQUEST, ("POST",)),
        route("requests.{fmt}", requests, LIST_REQUESTS, limited=True),
        route("requests/{request_id}.{fmt}", one_request, ONE_REQUEST, limited=True),
        route("tokens/{token}.{fmt}", token, TOKEN, limited=True),
    ]


# --- what each route is, for the OpenAPI document -------------------------------------------

TAG = "open311"
MEDIA = ("application/json", "text/xml")  # the same document in both (render.py)
Errors = list[Error]


def _answers(status: int, description: str, body: object = Errors) -> Reply:
    return Reply(status, description, body, MEDIA)


FORMAT = Param("fmt", "path", "The format of the answer.", schema={"enum": list(FORMATS)})
FORMAT_UNKNOWN = _answers(404, "An unknown format, service, request, token or jurisdiction.")
READS_LIMITED = Reply(
    429,
    "This address reads faster than INTAKE_OPEN311_READS_PER_MINUTE.",
    Errors,
    MEDIA,
    headers={"Retry-After": "Seconds to wait."},
)
JURISDICTION = Param(
    "jurisdiction_id",
    "query",
    "`kz` for the whole country, `kz-<region>` where the deployment serves regions; "
    "required when it serves more than one.",
)
LOCALE = Param("locale", "query", "kk, ru or en (else Accept-Language; else kk).")
ACCEPT_LANGUAGE = Param("accept-language", "header", "kk, ru or en, as browsers send it.")
JURISDICTION_REQUIRED = _answers(400, "jurisdiction_id is missing and more than one is served.")
WRONG = _answers(400, "A parameter is wrong: which, and why.")

DISCOVERY = Operation(
    "Where the endpoint is and what it speaks", TAG, (Reply(200, "Discovery.", Discovery, MEDIA),)
)
SERVICES = Operation(
    "The services: the national category classifier",
    TAG,
    (Reply(200, "Every service.", list[Service], MEDIA), JURISDICTION_REQUIRED),
    params=(JURISDICTION, LOCALE, ACCEPT_LANGUAGE),
)
DEFINITION = Operation(
    "A service's attributes (the appeal's kind, the IIN)",
    TAG,
    (Reply(200, "The definition.", ServiceDefinition, MEDIA), JURISDICTION_REQUIRED),
    params=(Param("code", "path", "A service_code."), JURISDICTION, LOCALE, ACCEPT_LANGUAGE),
)
POST_REQUEST = Operation(
    "File a request: an appeal registered as from any channel (Art. 64)",
    TAG,
    (
        Reply(201, "Registered: its number, and a token for it.", list[PostedRequest], MEDIA),
        Reply(200, "The same form was filed today: the same appeal.", list[PostedRequest], MEDIA),
        _answers(400, "The form is wrong or breaks the rules: each field and why."),
        _answers(403, "api_key is missing, or not a key of this endpoint."),
        _answers(413, "The form is longer than INTAKE_MAX_BODY_BYTES."),
        _answers(503, "The working-day calendar lacks the year."),
    ),
    params=(ACCEPT_LANGUAGE,),
    body=Body(Open311Form, "application/x-www-form-urlencoded", "GeoReport v2's form."),
)
LIST_REQUESTS = Operation(
    "Requests filed through Open311, newest first",
    TAG,
    (Reply(200, "The page of requests.", list[ServiceRequest], MEDIA), WRONG),
    description="By default the last 90 days; a range may span at most 90 days. "
    "`service_request_id` overrides every other filter.",
    params=(
        JURISDICTION,
        Param("service_request_id", "query", f"Comma-separated numbers (≤ {MAX_PAGE_SIZE})."),
        Param("service_code", "query", "Comma-separated service codes."),
        Param("start_date", "query", "W3C date-time with its offset."),
        Param("end_date", "query", "W3C date-time with its offset."),
        Param("status", "query", "open, closed, or both (comma-separated)."),
        Param("page", "query", "From 1.", schema={"type": "integer", "minimum": 1}),
        Param(
            "page_size",
            "query",
            f"1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
            schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        ),
        LOCALE,
        ACCEPT_LANGUAGE,
    ),
)
ONE_REQUEST = Operation(
    "One request: status, the body that has it, the statutory deadline",
    TAG,
    (Reply(200, "The request (a list of one, as the spec has it).", list[ServiceRequest], MEDIA),),
    params=(
        Param("request_id", "path", "Its service_request_id (the registration number)."),
        JURISDICTION,
        LOCALE,
        ACCEPT_LANGUAGE,
    ),
)
TOKEN = Operation(
    "The service_request_id of a token",
    TAG,
    (Reply(200, "The token's request (a list of one).", list[TokenAnswer], MEDIA),),
    params=(Param("token", "path", "The token POST requests answered."), JURISDICTION),
)


def _category(code: str, status: int) -> Category:
    try:
        return Category(code)
    except ValueError:
        raise Refused(status, f"service_code: {code!r} is not a service here") from None


def _place(post: Open311Post, prefix: str) -> str:
    """The KATO code of the request's place: from `lat`/`long` if given (both), else from the
    city or region `address_string` names; within the jurisdiction."""
    if post.lat is not None or post.long is not None:
        try:
            lat, lon = float(post.lat or "nan"), float(post.long or "nan")
        except ValueError:
            raise Refused(400, "lat, long: decimal degrees (WGS-84)") from None
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90):
            raise Refused(400, "lat, long: both required, in decimal degrees (WGS-84)")
        try:
            kato = place_of(lat, lon)
        except OutsideKazakhstan:
            raise Refused(400, f"lat, long: ({lat}, {lon}) is outside Kazakhstan") from None
    elif post.address_string:
        found = place_named_in(post.address_string)
        if found is None:
            raise Refused(
                400,
                "address_string: names no city or region of Kazakhstan; give lat and long, or "
                "begin the address with the city or region",
            )
        kato = found
    else:
        raise Refused(400, "lat and long, or address_string: one is required")
    if not kato.startswith(prefix):
        raise Refused(400, "lat, long / address_string: outside this jurisdiction")
    return kato


def _described(error: FieldError) -> str:
    return f"{error.field}: {error.message}"


def _listed(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _range(params: dict[str, str], now: datetime) -> tuple[datetime, datetime]:
    def parsed(name: str) -> datetime | None:
        # A `+` of an offset left unencoded in the query arrives as a space.
        raw = params.get(name, "").strip().replace(" ", "+")
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise Refused(400, f"{name}: a W3C date-time, e.g. 2026-03-01T00:00:00Z") from None
        if moment.tzinfo is None:
            raise Refused(400, f"{name}: give the offset, e.g. 2026-03-01T00:00:00+05:00")
        return moment

    start, end = parsed("start_date"), parsed("end_date")
    if start is None and end is None:
        end = now + timedelta(seconds=1)
        start = end - MAX_SPAN
    elif start is None:
        assert end is not None
        start = end - MAX_SPAN
    elif end is None:
        end = min(start + MAX_SPAN, now + timedelta(seconds=1))
    if end <= start:
        raise Refused(400, "end_date: after start_date")
    if end - start > MAX_SPAN:
        raise Refused(400, "start_date, end_date: may not span more than 90 days")
    return start, end


def _paging(params: dict[str, str]) -> tuple[int, int]:
    try:
        page = int(params.get("page") or 1)
        size = int(params.get("page_size") or DEFAULT_PAGE_SIZE)
    except ValueError:
        raise Refused(400, "page, page_size: whole numbers") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise Refused(400, f"page: from 1; page_size: 1 to {MAX_PAGE_SIZE}")
    return page, size
