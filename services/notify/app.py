"""Notify's composition root: providers from settings, one subscriber for every topic notify
listens to, the delivery loop, and the HTTP routes (preferences, notifications, resend).

Clients (HTTP for the SMS gateway and push webhook) are made in the lifespan; the delivery
loop starts once the broker and store are up and stops before they do.

Every HTTP route reads or changes a person's data, so each needs a bearer token whose roles
hold its permission (services/common/auth: preferences:read/write for the citizen portal and
call-centre operators, notifications:read/resend for the delivery team) and each call is
audited with the citizen as a pseudonym.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import httpx
from faststream.kafka.message import KafkaMessage
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts import (
    AgencyAction,
    AppealRegistered,
    AppealRejected,
    DeadLetter,
    DeliveryChannel,
    Event,
    NotificationOutcome,
    RoutingDecision,
    SlaEvent,
    topics,
)
from services.common.audit import Target
from services.common.auth.guard import guard_for
from services.common.auth.roles import Permission
from services.common.auth.tokens import Caller
from services.common.batching import CONCURRENCY_WITH_STORE_BATCHER
from services.common.clock import Clock, SystemClock
from services.common.http import build_http_app
from services.common.messaging import describe_validation_error, publish_event
from services.common.openapi import Body, ErrorBody, Operation, Param, Reply, reply
from services.common.runtime import create_runtime, document_publications
from services.common.settings import ServiceSettings
from services.common.subscribing import subscribe_in_keyed_batches
from services.notify.delivery import Delivery
from services.notify.delivery_loop import DeliveryLoop, DueWork
from services.notify.directory import StaffDirectory
from services.notify.lifecycle import NotificationStatus
from services.notify.metrics import NotifyMetrics
from services.notify.policy import CitizenPreferences, RetryPolicy
from services.notify.providers import (
    DeliveryProvider,
    Outbox,
    OutboxProvider,
    PushWebhookProvider,
    SmsGatewayProvider,
    SmtpProvider,
)
from services.notify.service import NotifyService
from services.notify.settings import NotifySettings
from services.notify.store import MongoNotifyStore, ensure_indexes
from services.notify.views import NotificationView
from services.notify.workers import HeartbeatLoop, Worker

# What notify listens to, and the contract each topic carries.
SUBSCRIBED: dict[str, Any] = {
    topics.APPEALS_REGISTERED: AppealRegistered,
    topics.APPEALS_REJECTED: AppealRejected,
    topics.APPEALS_ROUTED: RoutingDecision,
    topics.AGENCY_ACTIONS: AgencyAction,
    topics.SLA_EVENTS: SlaEvent,
}


def build_providers(
    settings: NotifySettings, http: httpx.AsyncClient, outbox: Outbox, clock: Clock
) -> dict[DeliveryChannel, DeliveryProvider]:
    providers: dict[DeliveryChannel, DeliveryProvider] = {}
    if settings.sms_gateway_url:
        providers[DeliveryChannel.SMS] = SmsGatewayProvider(
            http, settings.sms_gateway_url, settings.sms_gateway_token, settings.sms_sender
        )
    if settings.smtp_host:
        providers[DeliveryChannel.EMAIL] = SmtpProvider(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=settings.provider_timeout_seconds,
        )
    if settings.push_webhook_url:
        providers[DeliveryChannel.PUSH] = PushWebhookProvider(
            http, settings.push_webhook_url, settings.push_webhook_token
        )
    use_outbox = settings.outbox_enabled if settings.outbox_enabled is not None else not providers
    if use_outbox:
        providers[DeliveryChannel.OUTBOX] = OutboxProvider(outbox, clock)
    return providers


def create_app(
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> Starlette:
    """Notify's app. `settings` may be plain ServiceSettings (notify's own values then come
    from the environment); `clock` and `retry` are injectable for tests."""
    config = NotifySettings.specialise(settings)
    runtime = create_runtime(config)
    document_publications(
        runtime,
        [
            (topics.NOTIFICATION_OUTCOMES, NotificationOutcome, "Every attempt and outcome."),
            (topics.APPEALS_DLQ, DeadLetter, "Messages notify could not read."),
        ],
    )
    runtime.on_database_ready.append(ensure_indexes)
    clock = clock or SystemClock()
    retry = retry or RetryPolicy(
        config.max_attempts, config.retry_base_seconds, config.retry_max_seconds
    )
    metrics = NotifyMetrics(runtime.registry)
    store = MongoNotifyStore(runtime.db)

    async def publish(outcome: NotificationOutcome) -> None:
        await publish_event(runtime, topics.NOTIFICATION_OUTCOMES, outcome)

    # Providers are made in the lifespan (their HTTP client lives there).
    worker = Worker.start(config.instance_id)
    delivery = Delivery(store, {}, publish, config, retry, metrics, clock, worker)
    heartbeat = HeartbeatLoop(store, worker, clock)

    async def first_beat(_: object) -> None:
        # Before the consumer starts: a claim of ours is never taken for an abandoned one.
        await heartbeat.beat()

    runtime.on_database_ready.append(first_beat)
    service = NotifyService(
        store,
        delivery,
        config,
        StaffDirectory.load(config.directory, config.agency_names_file),
        metrics,
        clock,
        retry,
    )
    # Every route below reads or changes a person's data: a token with a role, and audited.
    guard = guard_for(runtime, clock)
    work = DueWork(store, delivery, clock, service.release_parked)
    loop = DeliveryLoop(work, config.scheduler_interval_seconds)

    async def on_lifecycle_event(event: Event, _: KafkaMessage) -> None:
        # Committed only once handled: a crash before an outcome is published redelivers.
        await service.handle(event, redelivered_until_done=True)

    # Batches, different appeals at once, one appeal's events (keyed by appeal id, whatever
    # the topic) in order; committed once every notice of the batch is stored and its
    # outcome published; an unexpected error redelivers the batch (services.common.batching).
    subscribe_in_keyed_batches(
        runtime,
        SUBSCRIBED,
        group_id=config.consumer_group,
        handle=on_lifecycle_event,
        title="notify.lifecycle",
        description="Registrations, rejections, routing decisions, agency actions and SLA "
        "events: whoever must be told is told (rule table in services/notify/rules.py).",
        # Its store operations are coalesced (StoreBatcher): more handlers make larger
        # commands, not more writers.
        concurrency=CONCURRENCY_WITH_STORE_BATCHER,
    )

    async def get_preferences(request: Request, _: Caller) -> JSONResponse:
        key = request.path_params["citizen"]
        return reply(CitizenPreferences, await service.preferences_for(key))

    async def put_preferences(request: Request, _: Caller) -> JSONResponse:
        key = request.path_params["citizen"]
        try:
            preferences = CitizenPreferences.model_validate_json(await request.body())
        except ValidationError as exc:
            return _refuse(422, "invalid_preferences", describe_validation_error(exc))
        await service.set_preferences(key, preferences)
        return reply(CitizenPreferences, preferences)

    async def list_notifications(request: Request, _: Caller) -> JSONResponse:
        appeal_id = request.query_params.get("appeal_id")
        if not appeal_id:
            return _refuse(400, "appeal_id_required", "give the appeal: ?appeal_id=...")
        records = await service.notifications_of(appeal_id)
        views = [NotificationView.of(record) for record in records]
        return reply(list[NotificationView], views, exclude_unset=True)

    async def resend(request: Request, _: Caller) -> Response:
        record = await service.resend(request.path_params["notification_id"])
        if record is None:
            return _refuse(404, "not_found", "no such notification")
        if record.status is not NotificationStatus.PENDING:
            return _refuse(
                409,
                "not_failed",
                f"only failed notifications are resent; this one is {record.status}",
            )
        loop.wake()
        return reply(NotificationView, NotificationView.of(record), 202, exclude_unset=True)

    app = build_http_app(
        runtime,
        [
            guard.route(
                "/v1/preferences/{citizen}",
                get_preferences,
                methods=["GET"],
                permission=Permission.PREFERENCES_READ,
                operation=GET_PREFERENCES,
                target=citizen,
            ),
            guard.route(
                "/v1/preferences/{citizen}",
                put_preferences,
                methods=["PUT"],
                permission=Permission.PREFERENCES_WRITE,
                operation=PUT_PREFERENCES,
                target=citizen,
            ),
            guard.route(
                "/v1/notifications",
                list_notifications,
                methods=["GET"],
                permission=Permission.NOTIFICATIONS_READ,
                operation=LIST_NOTIFICATIONS,
                target=lambda request: Target("appeal", request.query_params.get("appeal_id", "")),
            ),
            guard.route(
                "/v1/notifications/{notification_id}/resend",
                resend,
                methods=["POST"],
                permission=Permission.NOTIFICATIONS_RESEND,
                operation=RESEND,
                target=lambda request: Target(
                    "notification", request.path_params["notification_id"]
                ),
            ),
        ],
        background=[heartbeat, loop],
    )
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Starlette):
        # The providers' HTTP client outlives the runtime (and so the delivery loop).
        async with httpx.AsyncClient(timeout=config.provider_timeout_seconds) as http:
            delivery.providers.update(build_providers(config, http, store, clock))
            async with runtime_lifespan(app_):
                yield

    app.router.lifespan_context = lifespan
    app.state.notify = service
    app.state.delivery = delivery
    app.state.due_work = work
    app.state.delivery_loop = loop
    return app


PREFERENCES, NOTICES = "preferences", "notifications"
CITIZEN = Param("citizen", "path", "The citizen's IIN, phone (+7XXXXXXXXXX) or e-mail.")
GET_PREFERENCES = Operation(
    "A citizen's notice settings (the defaults if none were set)",
    PREFERENCES,
    (Reply(200, "The settings.", CitizenPreferences),),
    params=(CITIZEN,),
)
PUT_PREFERENCES = Operation(
    "Set a citizen's notice settings",
    PREFERENCES,
    (
        Reply(200, "Stored; the settings as stored.", CitizenPreferences),
        Reply(422, "Not valid settings: which field and why.", ErrorBody),
    ),
    params=(CITIZEN,),
    body=Body(CitizenPreferences),
)
LIST_NOTIFICATIONS = Operation(
    "The notices of an appeal (addresses masked)",
    NOTICES,
    (
        Reply(200, "Every notice made for the appeal, to anyone.", list[NotificationView]),
        Reply(400, "No appeal_id.", ErrorBody),
    ),
    params=(
        Param("appeal_id", "query", "The appeal's id.", True, {"type": "string", "minLength": 1}),
    ),
)
RESEND = Operation(
    "Send a failed notice again",
    NOTICES,
    (
        Reply(202, "Queued for delivery now.", NotificationView),
        Reply(404, "No such notice.", ErrorBody),
        Reply(409, "The notice has not failed (only failed notices are resent).", ErrorBody),
    ),
    params=(Param("notification_id", "path", "The notice's id."),),
)


def citizen(request: Request) -> Target:
    """Preferences are keyed by the citizen's IIN: audited as a pseudonym only."""
    return Target("citizen", request.path_params["citizen"], personal=True)


def _refuse(status: int, error: str, reason: str) -> JSONResponse:
    return reply(ErrorBody, ErrorBody(error=error, reason=reason), status)
