"""Routing's composition root: consumes registrations, agencies' answers and human triage
decisions; serves the agency registry read-only.

Subscribers (each its own consumer group, so one topic's rebalance never pauses another):
- `appeals.registered.v1` → the first decision;
- `agency.<code>.actions.v1` of every body → the decision passed on to `agency.actions.v1`
  when the body holds the appeal (a `redirected` is then re-routed), else refused on the
  body's inbox (`agency.action_refused`);
- `appeals.triage.decisions.v1` → the operator's choice is routed.
Bytes that are not the topic's format go to `appeals.dlq.v1`; an unexpected error leaves the
offset uncommitted (redelivery, never a skip). Registrations, the hot path, are consumed in
batches with different appeals routed concurrently (services.common.batching).

HTTP: `GET /v1/agencies` (the whole registry with its version; `?category=&kato=` lists the
bodies competent there, most specific first) and `GET /v1/agencies/{code}`.
"""

from __future__ import annotations

from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from contracts import (
    AgencyAction,
    AgencyActionRefused,
    AgencyAssignment,
    AgencyDecision,
    AppealRegistered,
    AppealTriaged,
    Category,
    DeadLetter,
    Event,
    Incident,
    IncidentAnswered,
    IncidentEvent,
    IncidentGrew,
    IncidentOpened,
    IncidentResolved,
    IncidentSighted,
    RepeatComplaintDecided,
    RoutingDecision,
    TriageDecided,
    agency_actions,
    topics,
)
from contracts.topics import agency_of_actions_topic
from reference.agencies import Agency, AgencyRegistry, Level
from services.common.batching import CONCURRENCY_WITH_STORE_BATCHER
from services.common.clock import Clock, SystemClock
from services.common.http import build_http_app
from services.common.messaging import publish_event, publish_keyed
from services.common.openapi import (
    DocumentedRoute,
    ErrorBody,
    Operation,
    Param,
    Reply,
    documented,
    reply,
)
from services.common.runtime import create_runtime, document_publications
from services.common.settings import ServiceSettings
from services.common.subscribing import subscribe, subscribe_in_keyed_batches
from services.routing.classifier import TextClassifier
from services.routing.decisions import Rules
from services.routing.incident_service import IncidentService
from services.routing.incident_store import MongoIncidentStore
from services.routing.metrics import RoutingMetrics
from services.routing.policy import RoutingPolicy
from services.routing.ranking import competent_bodies
from services.routing.service import RoutingService
from services.routing.settings import RoutingSettings
from services.routing.store import MongoDecisionStore, ensure_indexes


def create_app(
    settings: ServiceSettings,
    *,
    registry: AgencyRegistry | None = None,
    policy: RoutingPolicy | None = None,
    clock: Clock | None = None,
) -> Starlette:
    settings = RoutingSettings.specialise(settings)
    runtime = create_runtime(settings)
    document_publications(
        runtime,
        [
            (
                topics.APPEALS_ROUTED,
                RoutingDecision,
                "Routing decisions with rule and reason, and dismissals by the triage desk.",
            ),
            (topics.APPEALS_TRIAGE, AppealTriaged, "Appeals a human must route, with candidates."),
            (
                "agency.{code}.inbox.v1",
                AgencyAssignment
                | AgencyActionRefused
                | IncidentOpened
                | IncidentGrew
                | IncidentResolved,
                "One inbox per top-level body: its assignments, its refused decisions, its "
                "incidents (opened, each member that joined, resolved).",
            ),
            (topics.INCIDENTS, Incident, "Mass incidents: opened, grew, resolved."),
            (
                topics.INCIDENT_SIGHTINGS,
                IncidentSighted,
                "Appeals of clustering categories, keyed by cluster key (routing reads it).",
            ),
            (
                topics.AGENCY_ACTIONS,
                AgencyAction,
                "Bodies' decisions, passed on once routing found the body holds the appeal.",
            ),
            (
                topics.APPEAL_OUTCOMES,
                RepeatComplaintDecided,
                "A supervising body's verdict on a repeat complaint, from its answer.",
            ),
            (topics.APPEALS_DLQ, DeadLetter, "Messages routing could not read."),
        ],
    )
    runtime.on_database_ready.append(ensure_indexes)
    rules = Rules(
        registry or AgencyRegistry.default(),
        TextClassifier.default(),
        policy or settings.policy(),
        settings.working_calendar(),
    )

    async def publish(topic_name: str, event: Event | IncidentEvent | IncidentSighted) -> None:
        if isinstance(event, Event):
            await publish_event(runtime, topic_name, event)
        else:  # an incident's events: one key's in order, under its cluster key
            correlation = getattr(event, "incident_id", None) or event.appeal_id
            await publish_keyed(runtime, topic_name, event, event.cluster_key, correlation)

    metrics = RoutingMetrics(runtime.registry)
    clock = clock or SystemClock()
    incidents = IncidentService(
        MongoIncidentStore(runtime.db),
        publish,
        settings.incident_cluster_rules(),
        metrics,
        clock,
    )
    service = RoutingService(
        MongoDecisionStore(runtime.db), publish, rules, metrics, clock, incidents=incidents
    )

    async def on_appeal_registered(appeal: AppealRegistered, _: KafkaMessage) -> None:
        await service.route_registered(appeal)

    async def on_agency_decision(action: AgencyDecision, message: KafkaMessage) -> None:
        public = message.raw_message.topic.removeprefix(settings.topic_prefix)
        acting = agency_of_actions_topic(public)
        assert acting is not None, public  # subscribed to decisions topics only
        if isinstance(action, IncidentAnswered):
            await service.answer_incident(action, acting)
        else:
            await service.check_decision(action, acting)

    async def on_sightings(records: list[tuple[IncidentSighted, KafkaMessage]]) -> None:
        await incidents.on_sightings([sighted for sighted, _ in records])

    async def on_triage_decision(decided: TriageDecided, _: KafkaMessage) -> None:
        await service.handle_triage_decision(decided)

    # The hot path: batches, different appeals routed at once, one appeal's messages in
    # order, the batch committed once every decision is stored and published.
    subscribe_in_keyed_batches(
        runtime,
        {topics.APPEALS_REGISTERED: AppealRegistered},
        group_id=settings.consumer_group,
        handle=on_appeal_registered,
        title="routing.appeals_registered",
        description="Registered appeals to route to the competent body.",
        # Its store operations are coalesced (StoreBatcher): more handlers make larger
        # commands, not more writers.
        concurrency=CONCURRENCY_WITH_STORE_BATCHER,
    )
    # Each its own consumer group, so one topic's rebalance never pauses another.
    subscribe(
        runtime,
        {agency_actions(code): AgencyDecision for code in rules.registry.by_code},
        group_id=f"{settings.consumer_group}.actions",
        handle=on_agency_decision,
        title="routing.agency_decisions",
        description="Each body's decisions, on its own topic: passed on to agency.actions.v1 "
        "when the body holds the appeal (a 'redirected' is then re-routed), else refused "
        "with the reason on the body's inbox; an answer to an incident answers its members.",
    )
    subscribe_in_keyed_batches(
        runtime,
        {topics.INCIDENT_SIGHTINGS: IncidentSighted},
        # Its own group; keyed by cluster key, so one key's sightings are decided in order
        # by one consumer (its state has one writer).
        group_id=f"{settings.consumer_group}.incidents",
        # A key's sightings of a batch at once: its state read and written once for them.
        whole_key=on_sightings,
        title="routing.incident_sightings",
        description="Appeals of clustering categories, by body, category and district: "
        "made into mass incidents (services/routing/incidents.py).",
    )
    subscribe(
        runtime,
        {topics.TRIAGE_DECISIONS: TriageDecided},
        group_id=f"{settings.consumer_group}.triage",
        handle=on_triage_decision,
        title="routing.triage_decisions",
        description="Human triage operators' choices of body, routed with the operator as reason.",
    )

    app = build_http_app(runtime, routes=registry_routes(rules.registry))
    app.state.routing = service
    return app


class AgencyView(BaseModel):
    """A body of the registry as the HTTP routes show it (with its inbox topic)."""

    code: str
    names: dict[str, str] = Field(description="Names in kk, ru and en.")
    level: Level
    jurisdiction: list[str] = Field(description="KATO prefixes; '' is the whole country.")
    competences: list[Category] = Field(description="Sorted.")
    parent: str | None = Field(description="The supervising body's code.")
    inbox_topic: str

    @classmethod
    def of(cls, agency: Agency) -> AgencyView:
        return cls(
            code=agency.code,
            names=agency.names,
            level=agency.level,
            jurisdiction=list(agency.jurisdiction),
            competences=sorted(agency.competences),
            parent=agency.parent,
            inbox_topic=agency.inbox_topic,
        )


class AgencyList(BaseModel):
    version: str = Field(description="The registry's version.")
    fallback: str | None = Field(description="The national body of last resort.")
    agencies: list[AgencyView]


REGISTRY = "registry"
LIST_AGENCIES = Operation(
    "The bodies of the registry, or those competent for a category at a place",
    REGISTRY,
    (
        Reply(200, "The bodies; with `category`, the competent ones, best first.", AgencyList),
        Reply(400, "`category` is not in the national classifier.", ErrorBody),
    ),
    params=(
        Param("category", "query", "A category code of the national classifier."),
        Param("kato", "query", "A KATO code of the place (with `category`)."),
    ),
)
GET_AGENCY = Operation(
    "One body of the registry",
    REGISTRY,
    (
        Reply(200, "The body.", AgencyView),
        Reply(404, "No body has this code.", ErrorBody),
    ),
    params=(Param("code", "path", "The body's code, e.g. astana-energy."),),
)


def registry_routes(registry: AgencyRegistry) -> list[DocumentedRoute]:
    async def list_agencies(request: Request) -> JSONResponse:
        category = request.query_params.get("category")
        kato = request.query_params.get("kato") or None
        if category is None:
            bodies = list(registry.by_code.values())
        else:
            try:
                bodies = competent_bodies(registry, Category(category), kato)
            except ValueError:
                refused = ErrorBody(
                    error="unknown_category",
                    reason=f"category {category!r} is not in the national classifier",
                )
                return reply(ErrorBody, refused, 400)
        agencies = [AgencyView.of(a) for a in bodies]
        listed = AgencyList(version=registry.version, fallback=registry.fallback, agencies=agencies)
        return reply(AgencyList, listed)

    async def get_agency(request: Request) -> JSONResponse:
        code = request.path_params["code"]
        agency = registry.by_code.get(code)
        if agency is None:
            refused = ErrorBody(error="not_found", reason=f"no body has the code {code!r}")
            return reply(ErrorBody, refused, 404)
        return reply(AgencyView, AgencyView.of(agency))

    return [
        documented("/v1/agencies", list_agencies, ["GET"], LIST_AGENCIES),
        documented("/v1/agencies/{code}", get_agency, ["GET"], GET_AGENCY),
    ]
