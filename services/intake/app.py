"""Intake's composition root: the Kafka edge (channel topics, lifecycle topics) and the HTTP
edge (`POST /v1/appeals`, `GET /v1/appeals/{reg_number}`), wired to IntakeService. Edges
only convert; IntakeService and the pure modules decide.

HTTP gateway (DESIGN §3), decisions where the issue is silent:
- The key travels in the `X-API-Key` header; each key belongs to one gateway client
  (`INTAKE_API_KEYS`, see settings.py). No key → 401, a key no client has → 403; both counted
  in `tyndau_intake_gateway_refused_total`. Keys are compared in constant time (digests of
  equal length) against every configured key, and never logged. No keys configured → the
  gateway refuses everything.
- The body is read in chunks up to `INTAKE_MAX_BODY_BYTES` (a declared Content-Length beyond
  it is refused before reading) → 413.
- Not JSON → 400. JSON that is not the gateway format (missing or mistyped fields) → 422 with
  `reason_code: not_the_format` and `{field, code, message}` per problem; a well-formed
  appeal that breaks the rules → 422 with the same list as `appeals.rejected.v1` carries (it
  is published there too, like a channel's).
- Registered → 201 with the registration number and a Location; the same
  (client, channel_appeal_id) again → 200 with the same number, whatever the body says.

Status lookup, `GET /v1/appeals/{reg_number}` (what is shown and why: lookup.py):
- anonymous callers give the lookup code from the registration notice (`?code=ABCD-EFGH`,
  or the `X-Lookup-Code` header) and are rate-limited per client address (429 with
  Retry-After; INTAKE_LOOKUP_PER_MINUTE / _BURST). No code → 400; an unknown number, a wrong
  code and an appeal the public never sees are one and the same 404;
- a caller with a bearer token holding `appeals:read` (a call-centre operator, a supervisor)
  sees any appeal in full without a code, unlimited, and each lookup is audited; a token
  without that permission is 403, a bad token 401 (services/common/auth).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka.message import KafkaMessage
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts import (
    AgencyAction,
    AnswerRated,
    AnyEvent,
    AppealRegistered,
    AppealRejected,
    DeadLetter,
    Event,
    HttpGatewayAppeal,
    SlaEvent,
    topics,
)
from reference.agencies import AgencyRegistry
from reference.calendar import CalendarYearNotCovered
from services.common.audit import Target
from services.common.auth.guard import Guard, guard_for
from services.common.auth.roles import Permission
from services.common.auth.tokens import Caller
from services.common.batching import CONCURRENCY_WITH_STORE_BATCHER, DeadLetterSink
from services.common.clock import Clock
from services.common.headers import CORRELATION_HEADER
from services.common.http import build_http_app
from services.common.messaging import (
    Undecodable,
    correlation_of,
    dead_letter,
    publish_event,
)
from services.common.openapi import (
    Body,
    DocumentedRoute,
    ErrorBody,
    Operation,
    Param,
    Reply,
    documented,
    reply,
)
from services.common.rate_limit import RateLimiter
from services.common.runtime import ServiceRuntime, create_runtime, document_publications
from services.common.secret_files import lookup_secret
from services.common.settings import ServiceSettings
from services.common.subscribing import subscribe_in_keyed_batches
from services.intake.adapters import adapt_http
from services.intake.channels import CHANNEL_FORMATS
from services.intake.clients import GatewayClients, gateway_request
from services.intake.feedback_routes import feedback_routes
from services.intake.lookup import LookupCodes
from services.intake.metrics import IntakeMetrics
from services.intake.open311.routes import open311_routes
from services.intake.service import IntakeService
from services.intake.settings import IntakeSettings
from services.intake.store import MongoIntakeStore, ensure_indexes
from services.intake.timeline import is_timeline_event
from services.intake.views import (
    AppealStatus,
    GatewayRefusal,
    GatewayRegistration,
    PublicAppealStatus,
)

LOOKUP_CODE_HEADER = "x-lookup-code"
CORRELATION_MAX_CHARS = 128

# Lifecycle topics feeding the status timeline, and the contract each carries (the routed
# and triage topics are read as any event: the timeline shows whatever lifecycle event
# arrives there).
LIFECYCLE_TOPICS: dict[str, Any] = {
    topics.APPEALS_ROUTED: AnyEvent,
    topics.APPEALS_TRIAGE: AnyEvent,
    topics.AGENCY_ACTIONS: AgencyAction,
    topics.SLA_EVENTS: SlaEvent,
}


def create_app(settings: ServiceSettings, *, clock: Clock | None = None) -> Starlette:
    settings = IntakeSettings.specialise(settings)
    runtime = create_runtime(settings)
    document_publications(
        runtime,
        [
            (topics.APPEALS_REGISTERED, AppealRegistered, "Registered appeals (Art. 64)."),
            (topics.APPEALS_REJECTED, AppealRejected, "Appeals refused, with every reason."),
            (topics.ANSWER_FEEDBACK, AnswerRated, "Citizens' ratings of answers."),
            (topics.APPEALS_DLQ, DeadLetter, "Channel messages that were not the format at all."),
        ],
    )
    runtime.on_database_ready.append(ensure_indexes)

    async def publish(topic_name: str, event: Event) -> None:
        await publish_event(runtime, topic_name, event)

    key = lookup_secret()
    runtime.required_secrets.append(key)
    service = IntakeService(
        MongoIntakeStore(runtime.db),
        publish,
        settings.working_calendar(),
        settings,
        IntakeMetrics(runtime.registry),
        LookupCodes(key),
        clock,
    )
    register_channel_subscribers(runtime, service)
    register_timeline_subscriber(runtime, service)
    clients = GatewayClients(settings.gateway_keys())
    routes = [
        *gateway_routes(service, clients),
        *feedback_routes(service, clients),
        status_route(service, guard_for(runtime, service.clock)),
        *open311_routes(service, clients, AgencyRegistry.default()),
    ]
    # The gateway's own limit (INTAKE_MAX_BODY_BYTES) may exceed the shared one.
    limit = max(settings.max_body_bytes, settings.http_max_body_bytes)
    return build_http_app(runtime, routes=routes, max_body_bytes=limit)


def counted_dead_letters(runtime: ServiceRuntime, service: IntakeService) -> DeadLetterSink:
    """The dead-letter topic, counted by intake per source topic as well."""

    async def to_dead_letters(message: KafkaMessage, error: Exception) -> None:
        topic = message.raw_message.topic.removeprefix(runtime.settings.topic_prefix)
        service.metrics.dead_letters.labels(topic).inc()
        await dead_letter(runtime, message, error)

    return to_dead_letters


def register_channel_subscribers(runtime: ServiceRuntime, service: IntakeService) -> None:
    formats = {fmt.topic: fmt for fmt in CHANNEL_FORMATS}
    to_dead_letters = counted_dead_letters(runtime, service)

    async def on_channel_appeal(appeal: Any, message: KafkaMessage) -> None:
        fmt = formats[message.raw_message.topic.removeprefix(runtime.settings.topic_prefix)]
        with service.metrics.processing.labels(fmt.channel.value).time():
            try:
                outcome = fmt.adapt(appeal, service.clock.now(), service.earliest_received_at)
                await service.accept(outcome, correlation_of(message))
            except (Undecodable, CalendarYearNotCovered) as exc:
                # No usable channel id, or a date the working-day calendar has no data for
                # yet: kept whole on the dead-letter topic, to be replayed once fixed.
                await to_dead_letters(message, exc)

    # Batches of channel messages, different appeals concurrently, one appeal's messages in
    # order; the batch is committed only after every appeal in it is stored and its event
    # acknowledged by Kafka, and an unexpected error redelivers it (services.common.batching).
    # One subscriber per channel, so each channel's AsyncAPI entry shows its own format; all
    # in intake's one consumer group, sharing one bound on handlers running at once (their
    # store operations are coalesced by a StoreBatcher: more handlers make larger commands,
    # not more writers).
    concurrency = asyncio.Semaphore(CONCURRENCY_WITH_STORE_BATCHER)
    for fmt in CHANNEL_FORMATS:
        subscribe_in_keyed_batches(
            runtime,
            {fmt.topic: fmt.model},
            group_id=runtime.settings.consumer_group,
            handle=on_channel_appeal,
            dead_letter_to=to_dead_letters,
            title=f"intake.channel.{fmt.channel.value}",
            description=f"Appeals in the native format of channel {fmt.channel.value}.",
            concurrency=concurrency,
        )


def register_timeline_subscriber(runtime: ServiceRuntime, service: IntakeService) -> None:
    to_dead_letters = counted_dead_letters(runtime, service)

    async def on_lifecycle_event(event: Event, _: KafkaMessage) -> None:
        if is_timeline_event(event):
            await service.record_lifecycle_event(event)

    # Batches of lifecycle events, different appeals concurrently, one appeal's events in
    # order (keyed by appeal id); the batch is committed only after every event in it is
    # stored or dead-lettered, and an unexpected error redelivers it (a redelivered entry is
    # a duplicate key: nothing added). Entries of concurrent handlers share one insert_many.
    subscribe_in_keyed_batches(
        runtime,
        LIFECYCLE_TOPICS,
        # Its own group: a slow timeline never holds back registrations, and vice versa.
        group_id=f"{runtime.settings.consumer_group}-timeline",
        handle=on_lifecycle_event,
        dead_letter_to=to_dead_letters,
        title="intake.timeline",
        description="Lifecycle events (routed, triaged, agency actions, SLA) for the status "
        "timeline of GET /v1/appeals/{reg_number}.",
        concurrency=CONCURRENCY_WITH_STORE_BATCHER,
    )


# --- HTTP ---------------------------------------------------------------------------------

APPEALS = "appeals"
REGISTERED = {"Location": "The appeal's status: /v1/appeals/{registration_number}."}
POST_APPEAL = Operation(
    "Register an appeal from a channel that cannot reach Kafka",
    APPEALS,
    (
        Reply(
            201,
            "Registered (Art. 64): the number, the deadline, the lookup code.",
            GatewayRegistration,
            headers=REGISTERED,
        ),
        Reply(
            200,
            "The same appeal was registered before: the same answer.",
            GatewayRegistration,
            headers=REGISTERED,
        ),
        Reply(400, "The body is not JSON.", ErrorBody),
        Reply(
            401,
            "No X-Api-Key.",
            ErrorBody,
            headers={"WWW-Authenticate": "The scheme to use: ApiKey."},
        ),
        Reply(403, "The X-Api-Key is not a channel's key.", ErrorBody),
        Reply(422, "Not the format, or against the rules: every field and why.", GatewayRefusal),
        Reply(503, "The working-day calendar lacks the year (data to load).", ErrorBody),
    ),
    description="The channel is the key's client. The same channel_appeal_id from the same "
    "client is the same appeal (idempotent).",
    params=(Param(CORRELATION_HEADER, "header", "Carried on every event of the appeal (≤ 128)."),),
    body=Body(HttpGatewayAppeal, description="The appeal in the gateway's format."),
    security=("gatewayKey",),
)
APPEAL_STATUS = Operation(
    "An appeal's status and timeline",
    APPEALS,
    (
        Reply(
            200,
            "The status: in full for a bearer of appeals:read, else the public view.",
            AppealStatus | PublicAppealStatus,
        ),
        Reply(400, "No bearer token and no lookup code.", ErrorBody),
        Reply(
            404,
            "No such appeal, a wrong code, or one the public never sees (one answer).",
            ErrorBody,
        ),
        Reply(
            429,
            "Too many lookups from this address.",
            ErrorBody,
            headers={"Retry-After": "Seconds to wait."},
        ),
    ),
    description="An operator with a bearer token sees every appeal in full; anyone else "
    "needs the lookup code from the registration notice (`code` or X-Lookup-Code).",
    params=(
        Param("registration_number", "path", "The registration number, e.g. ZH-20260305-000123."),
        Param("code", "query", "The lookup code, e.g. ABCD-EFGH (without a bearer token)."),
        Param(LOOKUP_CODE_HEADER, "header", "The lookup code, instead of `code`."),
    ),
    optional_security=True,
)


def gateway_routes(service: IntakeService, clients: GatewayClients) -> list[DocumentedRoute]:
    limit = service.settings.max_body_bytes
    refused = service.metrics.gateway_refused

    async def post_appeal(request: Request) -> Response:
        checked = await gateway_request(request, clients, limit, refused=refused)
        if isinstance(checked, Response):
            return checked
        client, body = checked
        with service.metrics.processing.labels("http").time():
            return await _register_from_gateway(service, client, body, request)

    return [documented("/v1/appeals", post_appeal, ["POST"], POST_APPEAL)]


def status_route(service: IntakeService, guard: Guard) -> DocumentedRoute:
    settings = service.settings
    limiter = RateLimiter(settings.lookup_per_minute, settings.lookup_burst, service.clock)
    lookups = service.metrics.status_lookups

    async def for_operator(request: Request, _: Caller) -> JSONResponse:
        lookups.labels("operator").inc()
        status = await service.status_of(request.path_params["registration_number"])
        if status is None:
            return _not_found()
        return reply(AppealStatus, status, exclude_unset=True)

    async def for_applicant(request: Request) -> JSONResponse:
        address = request.client.host if request.client else "unknown"
        verdict = limiter.check(address)
        if not verdict.allowed:
            lookups.labels("rate_limited").inc()
            return _error(
                429,
                "rate_limited",
                f"too many lookups from this address; try again in {verdict.retry_after_seconds} s",
                headers={"Retry-After": str(verdict.retry_after_seconds)},
            )
        code = request.query_params.get("code") or request.headers.get(LOOKUP_CODE_HEADER)
        if not code:
            lookups.labels("code_missing").inc()
            return _error(
                400,
                "lookup_code_required",
                "give the lookup code from your registration notice: ?code=ABCD-EFGH",
            )
        status = await service.public_status_of(request.path_params["registration_number"], code)
        if status is None:
            lookups.labels("not_found").inc()
            return _not_found()
        lookups.labels("shown").inc()
        return reply(PublicAppealStatus, status, exclude_unset=True)

    return guard.route(
        "/v1/appeals/{registration_number}",
        for_operator,
        methods=["GET"],
        permission=Permission.APPEALS_READ,
        operation=APPEAL_STATUS,
        target=lambda request: Target("appeal", request.path_params["registration_number"]),
        anonymous=for_applicant,
    )


def _not_found() -> JSONResponse:
    # One answer for an unknown number, a wrong code and an appeal the public never sees.
    return _error(404, "not_found", "no appeal with this registration number and code")


async def _register_from_gateway(
    service: IntakeService, client: str, body: bytes, request: Request
) -> Response:
    refused = service.metrics.gateway_refused
    try:
        appeal = HttpGatewayAppeal.model_validate_json(body)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            refused.labels("invalid_json").inc()
            return _error(400, "invalid_json", "the body is not JSON")
        refused.labels("not_the_format").inc()
        return _unprocessable("not_the_format", _format_errors(exc))
    try:
        outcome = adapt_http(appeal, client, service.clock.now(), service.earliest_received_at)
    except Undecodable as exc:
        refused.labels("not_the_format").inc()
        error = {"field": "channel_appeal_id", "code": "channel_id_invalid", "message": str(exc)}
        return _unprocessable("not_the_format", [error])
    correlation = request.headers.get(CORRELATION_HEADER, "")[:CORRELATION_MAX_CHARS] or None
    try:
        accepted = await service.accept(outcome, correlation)
    except CalendarYearNotCovered:
        return _error(503, "calendar_not_covered", "the working-day calendar lacks that year")
    event = accepted.event
    if not isinstance(event, AppealRegistered):
        errors = [error.model_dump() for error in event.errors]
        return _unprocessable(event.reason_code, errors, appeal_id=event.appeal_id)
    return reply(
        GatewayRegistration,
        GatewayRegistration(
            registration_number=event.registration_number,
            appeal_id=event.appeal_id,
            channel_appeal_id=event.channel_appeal_id,
            status="registered",
            received_at=event.received_at,
            registered_at=event.registered_at,
            answer_due_at=event.answer_due_at,
            urgent=event.urgent,
            repeat_of=event.repeat_of,
            lookup_code=event.lookup_code,
        ),
        201 if accepted.created else 200,
        headers={"Location": f"/v1/appeals/{event.registration_number}"},
    )


def _format_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        code = "required" if err["type"] == "missing" else "wrong_type"
        field = ".".join(str(part) for part in err["loc"])
        errors.append({"field": field, "code": code, "message": err["msg"]})
    return errors


def _error(
    status: int, code: str, message: str = "", headers: dict[str, str] | None = None
) -> JSONResponse:
    return reply(ErrorBody, ErrorBody(error=code, reason=message), status, headers=headers)


def _unprocessable(reason_code: str, errors: list[dict[str, str]], **extra: str) -> JSONResponse:
    refusal = {"reason_code": reason_code, "errors": errors, **extra}
    return reply(GatewayRefusal, refusal, 422)
