"""SLA's composition root: the timer store, the service core, the two subscribers (routing
decisions, agency actions), the firing loop and its shard ownership, wired in one place.

Everything time- or policy-dependent is injectable: `create_app(settings, clock=...,
policy=..., firing=...)`; the defaults come from the settings (`SlaSettings`, `SLA_*`).
"""

from __future__ import annotations

from faststream.kafka.message import KafkaMessage
from starlette.applications import Starlette

from contracts import (
    AgencyAction,
    AnswerRated,
    AppealDismissed,
    AppealOutcome,
    AppealRegistered,
    DeadLetter,
    Event,
    RoutingDecision,
    SlaEvent,
    SlaTimerEvent,
    topics,
)
from reference.agencies import AgencyRegistry
from reference.calendar import WorkingCalendar
from services.common.auth.guard import guard_for
from services.common.batching import CONCURRENCY_WITH_STORE_BATCHER
from services.common.clock import Clock, SystemClock
from services.common.http import build_http_app
from services.common.messaging import publish_event
from services.common.runtime import create_runtime, document_publications
from services.common.settings import ServiceSettings
from services.common.subscribing import subscribe, subscribe_in_keyed_batches
from services.sla.assessment import Assessments
from services.sla.assessment.outcomes import MongoOutcomeLog, OutcomeRecorder
from services.sla.assessment.routes import assessment_routes
from services.sla.assessment.store import MongoTallyStore
from services.sla.calendar_routes import calendar_routes
from services.sla.firing import FiringLoop, FiringSettings, ShardOwnership
from services.sla.metrics import SlaMetrics
from services.sla.schedule import SlaPolicy
from services.sla.service import TimerService
from services.sla.settings import SlaSettings
from services.sla.store import MongoTimerStore
from services.sla.tallies import Tallies


def create_app(
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    policy: SlaPolicy | None = None,
    firing: FiringSettings | None = None,
    calendar: WorkingCalendar | None = None,
) -> Starlette:
    settings = SlaSettings.specialise(settings)
    clock = clock or SystemClock()
    calendar = calendar or settings.working_calendar()
    runtime = create_runtime(settings)
    document_publications(
        runtime,
        [
            (topics.SLA_EVENTS, SlaEvent, "Timer started, warning, breached, stopped, refused."),
            (
                topics.APPEAL_OUTCOMES,
                AppealOutcome,
                "Court and disciplinary decisions, verdicts on repeat complaints, as recorded.",
            ),
            (topics.APPEALS_DLQ, DeadLetter, "Messages sla could not read."),
        ],
    )
    metrics = SlaMetrics(runtime.registry)
    store = MongoTimerStore(runtime.db)
    tallies = Tallies(store)

    async def publish(event: SlaTimerEvent) -> None:
        await publish_event(runtime, topics.SLA_EVENTS, event)

    registry = AgencyRegistry.default()
    service = TimerService(
        store,
        publish,
        clock,
        calendar,
        policy or settings.policy(registry),
        metrics,
        tallies=tallies,
    )

    async def recount(shards: frozenset[int]) -> None:
        await tallies.flush()
        counts = await tallies.counts(shards) if shards else {}
        metrics.tracked.clear()
        for (kind, agency, state), n in counts.items():
            if n:
                metrics.tracked.labels(kind, agency, state).set(n)

    loop = FiringLoop(
        store,
        service.fire,
        clock,
        firing or settings.firing(),
        on_gauge=recount,
        on_stop=tallies.flush,
    )
    service.on_armed = loop.wake_if_due_soon
    routed_topic = runtime.topic(topics.APPEALS_ROUTED)

    async def on_appeal_routed(decision: RoutingDecision, message: KafkaMessage) -> None:
        if isinstance(decision, AppealDismissed):
            await service.dismiss(decision)
        else:
            await service.start_timers(decision, shard=message.raw_message.partition)

    async def on_agency_action(action: AgencyAction, _: KafkaMessage) -> None:
        await service.apply_action(action)

    # The hot path: batches, different appeals armed at once, one appeal's routing decisions
    # in order, the batch committed once every timer is stored and its event published.
    subscribe_in_keyed_batches(
        runtime,
        {topics.APPEALS_ROUTED: RoutingDecision},
        group_id=settings.consumer_group,
        handle=on_appeal_routed,
        # Arming reads and inserts go through the store's StoreBatcher: more handlers at once
        # make larger commands, not more writers. (A redirect's compare-and-set is a command
        # of its own, retried when SQLite is busy; redirects are the rare case.)
        concurrency=CONCURRENCY_WITH_STORE_BATCHER,
        # The assignment of this consumer is the firing ownership: shard p = partition p.
        listener=ShardOwnership(routed_topic, loop),
        heartbeat_interval_ms=1000,
        title="sla.appeals_routed",
        description="Routing decisions: arm the answer timer (first routing) and the "
        "receiving body's forwarding timer; the partition is the timer's firing shard. A "
        "dismissal stops the appeal's timers.",
    )
    subscribe(
        runtime,
        {topics.AGENCY_ACTIONS: AgencyAction},
        # Its own group: action consumers may sit on any instance (updates are by timer id),
        # and their rebalances must not disturb the firing ownership above.
        group_id=f"{settings.consumer_group}.actions",
        handle=on_agency_action,
        title="sla.agency_actions",
        description="Agency decisions: accepted/redirected close a forwarding timer, extended "
        "moves the answer deadline (within two months of receipt), answered stops it.",
    )

    outcome_log = MongoOutcomeLog(runtime.db)
    assessments = Assessments(MongoTallyStore(runtime.db), registry, calendar.tz, outcome_log)

    async def publish_outcome(event: AppealOutcome) -> None:
        await publish_event(runtime, topics.APPEAL_OUTCOMES, event)

    recorder = OutcomeRecorder(
        outcome_log, publish_outcome, registry, lambda: clock.now().astimezone(calendar.tz).date()
    )

    async def on_countable(event: Event, message: KafkaMessage) -> None:
        raw = message.raw_message
        await assessments.count(event, source=f"{raw.topic}#{raw.partition}")

    subscribe_in_keyed_batches(
        runtime,
        {
            topics.APPEALS_REGISTERED: AppealRegistered,
            topics.SLA_EVENTS: SlaEvent,
            topics.APPEAL_OUTCOMES: AppealOutcome,
            topics.ANSWER_FEEDBACK: AnswerRated,
        },
        # Its own group: counting must neither wait for nor disturb arming and firing.
        group_id=f"{settings.consumer_group}.assessment",
        handle=on_countable,
        title="sla.assessment",
        description="Registrations, sla's own events, recorded outcomes and citizens' "
        "ratings, counted into the "
        "assessment's per-day tallies (services/sla/assessment/counting.py).",
    )

    # The firing loop stops before the broker: it must not fire after this instance leaves
    # the consumer group (the consumer's close does not call the rebalance listener).
    guard = guard_for(runtime, clock)
    routes = [
        *calendar_routes(service, guard),
        *assessment_routes(assessments, recorder, guard, clock),
    ]
    app = build_http_app(runtime, routes=routes, background=[loop])
    app.state.sla = service
    app.state.firing = loop
    return app
