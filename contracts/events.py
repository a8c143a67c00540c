"""Lifecycle events of an appeal, as published between Tyndau services (DESIGN §4).

Owns: every event's shape, its `event_type` discriminator, and the unions consumers of the
shared topics (`agency.actions.v1`, `sla.events.v1`) decode with. Does not own: how the
values are computed (deadlines, routing rules, templates) — the producing service does.

Topics: `AppealRegistered` → appeals.registered.v1, `AppealRejected` → appeals.rejected.v1,
`AppealRouted` → appeals.routed.v1, `AppealTriaged` → appeals.triage.v1, `TriageDecided` →
appeals.triage.decisions.v1, `AgencyAssignment`
→ agency.<code>.inbox.v1, `AgencyAction` → agency.actions.v1, `SlaEvent` → sla.events.v1,
`NotificationOutcome` → notifications.outcomes.v1, `AppealOutcome` (court, disciplinary,
repeat-complaint decisions) → appeals.outcomes.v1, `DeadLetter` → appeals.dlq.v1.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, model_validator

from contracts.categories import Category
from contracts.common import (
    AgencyCode,
    AppealKind,
    Applicant,
    Channel,
    Documented,
    Event,
    FieldError,
    GeoPoint,
    KatoCode,
    Language,
    NonEmptyStr,
    deterministic_id,
    documented,
)

# One appeal followed through the examples: a heating complaint from iKomek 109, Almaty
# district of Astana, registered Thu 2026-03-05 (answer due 15 working days later, forwarding
# due 3 working days later; 9 Mar and 23–25 Mar are days off).
_APPEAL_ID = "73e9ab84-0fb5-5c1e-9d48-43149bbd7ce1"
_REG_NO = "ZH-20260305-000123"
_REGISTERED_EVENT_ID = "0c5f3f47-5a4e-5d0c-8a37-1f4f6f3e2b10"
_ROUTED_EVENT_ID = "5b2d7e0a-93c1-5f4e-b8a2-6e0d9c4f1a27"
_ACCEPTED_EVENT_ID = "9a41c6e2-07d8-5b3f-a1c5-2e8b7d6f4c93"
_RECEIVED_AT = "2026-03-05T10:02:45+05:00"
_REGISTERED_AT = "2026-03-05T10:02:47+05:00"
_FORWARD_DUE_AT = "2026-03-11T18:00:00+05:00"
_ANSWER_DUE_AT = "2026-04-01T18:00:00+05:00"
_AGENCY = "astana-energy"
_APPLICANT = {
    "iin": None,
    "name": "Айгүл Нұрланқызы Сейтқали",
    "phone": "+77017654321",
    "email": None,
    "anonymous": False,
}
_TEXT = "В подъезде и квартирах холодные батареи уже третий день."
_ADDRESS = "Астана, Алматы ауданы, Тәуелсіздік даңғылы, 34"


def _envelope(
    event_type: str, event_id: str, occurred_at: str, causation_id: str | None
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "appeal_id": _APPEAL_ID,
        "occurred_at": occurred_at,
        "schema_version": 1,
        "correlation_id": _APPEAL_ID,
        "causation_id": causation_id,
    }


# --- intake -----------------------------------------------------------------------------


class ContestedAnswer(Documented):
    """The answer a repeat complaint contests: the citizen's answer to the answer."""

    model_config = documented(
        {
            "appeal_id": "5c0e2a84-1f6b-5d3e-8a47-6b2c9d0e3f58",
            "registration_number": "ZH-20260305-000123",
            "answered_by": _AGENCY,
            "answered_at": "2026-03-12T17:05:00+05:00",
            "answer_event_id": "8f2d6b04-3c5a-5e19-a7f8-4b0e9d1a6c32",
        },
        frozen=True,
        extra="forbid",
    )

    appeal_id: NonEmptyStr = Field(description="The appeal whose answer is contested.")
    registration_number: NonEmptyStr = Field(description="Its registration number.")
    answered_by: AgencyCode = Field(description="The body that answered it.")
    answered_at: AwareDatetime = Field(description="When it answered.")
    answer_event_id: NonEmptyStr = Field(description="Event id of that answer.")


class AppealRegistered(Event):
    """Intake accepted an appeal and gave it a registration number (Art. 64)."""

    model_config = documented(
        {
            **_envelope("appeal.registered", _REGISTERED_EVENT_ID, _REGISTERED_AT, None),
            "registration_number": _REG_NO,
            "kind": "complaint",
            "language": "ru",
            "category": "utilities.heating",
            "region_kato": "711210000",
            "address": _ADDRESS,
            "location": {"lat": 51.128207, "lon": 71.430411},
            "subject": None,
            "text": _TEXT,
            "applicant": _APPLICANT,
            "channel": "ikomek109",
            "channel_appeal_id": "IK-2026-0305-004512",
            "addressed_to": None,
            "urgent": False,
            "received_at": _RECEIVED_AT,
            "registered_at": _REGISTERED_AT,
            "answer_due_at": _ANSWER_DUE_AT,
            "repeat_of": None,
            "lookup_code": "P3RM-9TQ5",
            "contests": None,
        }
    )

    event_type: Literal["appeal.registered"] = Field(
        default="appeal.registered", description="Discriminator: `appeal.registered`."
    )
    registration_number: NonEmptyStr = Field(
        description="Unique registration number given to the applicant, e.g. `ZH-20260305-000123`."
    )
    kind: AppealKind = Field(description="Kind of appeal.")
    language: Language = Field(description="Language of the appeal; the answer may use it.")
    category: Category = Field(description="National category of the subject.")
    region_kato: KatoCode | None = Field(
        description="9-digit KATO code of the place concerned; null when unknown."
    )
    address: str | None = Field(description="Street address, if given.")
    location: GeoPoint | None = Field(description="Coordinates, if the channel sent them.")
    subject: str | None = Field(description="Subject line, if the channel has one.")
    text: str = Field(description="Text of the appeal.")
    applicant: Applicant = Field(description="Who filed the appeal.")
    channel: Channel = Field(description="Channel the appeal came through.")
    channel_appeal_id: NonEmptyStr = Field(description="The channel's own id of the appeal.")
    addressed_to: str | None = Field(
        description="Agency code the applicant addressed, if they chose one."
    )
    urgent: bool = Field(
        description="True for reports of a crime or a threat to state or public security: "
        "they go to the competent body at once, even when anonymous."
    )
    received_at: AwareDatetime = Field(description="When the channel received the appeal.")
    registered_at: AwareDatetime = Field(
        description="Registration date and time; on the next working day when received "
        "after hours or on a day off."
    )
    answer_due_at: AwareDatetime = Field(
        description="Statutory answer deadline (Art. 76: 15 working days)."
    )
    repeat_of: str | None = Field(
        default=None,
        description="Appeal id of the same applicant's (IIN) most recent earlier appeal on the "
        "same category and KATO code within intake's repeat window (default 90 days); null "
        "when this is not a repeat. Makes the KPI 'repeated complaints' countable.",
    )
    lookup_code: str | None = Field(
        default=None,
        pattern=r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$",
        description="The code that, with the registration number, lets the applicant look up "
        "the status (`GET /v1/appeals/{number}?code=...`); sent to the applicant only, in "
        "the registration notice. Null on appeals registered before codes existed.",
    )
    contests: ContestedAnswer | None = Field(
        default=None,
        description="Set when this appeal is a repeat complaint against a body's answer (the "
        "citizen contested it): routed to that body's supervising body, with its own term.",
    )


class AppealRejected(Event):
    """Intake could not accept a well-formed channel message; says exactly why."""

    model_config = documented(
        {
            **_envelope(
                "appeal.rejected",
                "e41b8c2a-6f07-5d93-9c1e-7a2b4d8f0e56",
                "2026-03-05T09:31:15+05:00",
                None,
            ),
            "appeal_id": "33d70ed8-1738-59bd-b7e8-4262590f8dd9",
            "correlation_id": "33d70ed8-1738-59bd-b7e8-4262590f8dd9",
            "channel": "1414",
            "channel_appeal_id": "1414-20260305-0931-0457",
            "errors": [
                {
                    "field": "caller.iin",
                    "code": "iin_checksum",
                    "message": "IIN 900101300018 fails the check digit",
                }
            ],
            "reason_code": "validation_failed",
            "applicant_contact": {
                "iin": None,
                "name": "Ахметов Ерлан Серікұлы",
                "phone": "+77011234567",
                "email": None,
                "anonymous": False,
            },
        }
    )

    event_type: Literal["appeal.rejected"] = Field(
        default="appeal.rejected", description="Discriminator: `appeal.rejected`."
    )
    channel: Channel = Field(description="Channel the appeal came through.")
    channel_appeal_id: NonEmptyStr = Field(description="The channel's own id of the appeal.")
    errors: list[FieldError] = Field(
        min_length=1, description="Every business-rule violation found, at least one."
    )
    reason_code: NonEmptyStr = Field(
        description="Overall reason, e.g. `validation_failed`, `anonymous_not_considered`."
    )
    applicant_contact: Applicant | None = Field(
        description="Whatever usable contact data the appeal had, so the citizen can be told; "
        "null when there is none."
    )


# --- routing ----------------------------------------------------------------------------


class AppealRouted(Event):
    """Routing chose the competent body; names the rule that decided."""

    model_config = documented(
        {
            **_envelope(
                "appeal.routed", _ROUTED_EVENT_ID, "2026-03-05T10:02:48+05:00", _REGISTERED_EVENT_ID
            ),
            "registration_number": _REG_NO,
            "agency_code": _AGENCY,
            "inbox_topic": "agency.astana-energy.inbox.v1",
            "rule_id": "astana.city.utilities.heating",
            "rule_version": "2026-03-01",
            "reason": "Heating in Astana (KATO 71) is handled by the city Department of Energy "
            "and Housing Utilities; no district body is competent for utilities.heating.",
            "category": "utilities.heating",
            "region_kato": "711210000",
            "forwarded": False,
            "addressed_to": None,
            "forward_due_at": _FORWARD_DUE_AT,
            "hop": 0,
            "declined_by": [],
            "urgent": False,
            "received_at": _RECEIVED_AT,
            "answer_due_at": _ANSWER_DUE_AT,
        }
    )

    event_type: Literal["appeal.routed"] = Field(
        default="appeal.routed", description="Discriminator: `appeal.routed`."
    )
    registration_number: NonEmptyStr = Field(description="Registration number of the appeal.")
    agency_code: AgencyCode = Field(description="Top-level body the appeal goes to.")
    inbox_topic: NonEmptyStr = Field(
        description="That body's inbox topic, `agency.<code>.inbox.v1`."
    )
    rule_id: NonEmptyStr = Field(description="Id of the routing rule that made the decision.")
    rule_version: NonEmptyStr = Field(
        description="Version of the agency registry / rule set the rule comes from."
    )
    reason: str = Field(description="Human-readable reason: why this body.")
    category: Category = Field(description="National category the decision was made for.")
    region_kato: KatoCode | None = Field(description="KATO code the decision was made for.")
    forwarded: bool = Field(
        description="True when the appeal goes to a body other than the one it was "
        "addressed to or last sent to (forwarding by competence, Art. 65)."
    )
    addressed_to: str | None = Field(description="Agency code the applicant addressed, if any.")
    forward_due_at: AwareDatetime | None = Field(
        description="By when the receiving body must forward the appeal if it is not "
        "competent (Art. 65: 3 working days of receipt); null when no longer applicable."
    )
    hop: int = Field(ge=0, description="0 for the first routing decision, +1 for each redirection.")
    declined_by: list[str] = Field(
        description="Agency codes that already declined the appeal, oldest first."
    )
    urgent: bool = Field(description="True when the appeal must be handled at once.")
    received_at: AwareDatetime = Field(description="When the channel received the appeal.")
    answer_due_at: AwareDatetime = Field(description="Current answer deadline.")


class TriageCandidate(Documented):
    """A body a human triager might send the appeal to."""

    model_config = documented(
        {"agency_code": "astana-almaty-akimat", "confidence": 0.55, "rule_id": None},
        frozen=True,
        extra="forbid",
    )

    agency_code: AgencyCode = Field(description="Candidate body.")
    confidence: float = Field(ge=0, le=1, description="How likely routing thinks it fits, 0..1.")
    rule_id: str | None = Field(description="Rule that proposed it, if any.")


class AppealTriaged(Event):
    """Routing could not decide on its own; a human must pick the body."""

    model_config = documented(
        {
            **_envelope(
                "appeal.triaged",
                "2f6a9d13-c84b-5e70-9b2d-5c1e8f3a7d04",
                "2026-03-05T10:02:48+05:00",
                _REGISTERED_EVENT_ID,
            ),
            "registration_number": _REG_NO,
            "reason": "Category `other` in Astana matches no single competent body.",
            "candidates": [
                {"agency_code": "astana-almaty-akimat", "confidence": 0.55, "rule_id": None},
                {
                    "agency_code": "astana-akimat",
                    "confidence": 0.3,
                    "rule_id": "astana.city.fallback",
                },
            ],
            "declined_by": [],
        }
    )

    event_type: Literal["appeal.triaged"] = Field(
        default="appeal.triaged", description="Discriminator: `appeal.triaged`."
    )
    registration_number: NonEmptyStr = Field(description="Registration number of the appeal.")
    reason: str = Field(description="Why routing could not decide.")
    candidates: list[TriageCandidate] = Field(
        description="Bodies that might be competent, most likely first; may be empty."
    )
    declined_by: list[str] = Field(description="Agency codes that already declined it.")


class DismissalReason(StrEnum):
    """Why an appeal is left without consideration — the grounds the triage desk may use.
    Bounded: a metric label and the key of the citizen's notice."""

    NO_SUBSTANCE = "no_substance"
    """The text states no matter that can be established (nothing to consider)."""
    OFFENSIVE = "offensive"
    """Obscene or insulting language, or threats, instead of a matter to consider."""
    REPEATED_WITHOUT_NEW_ARGUMENTS = "repeated_without_new_arguments"
    """It repeats an appeal already answered and brings no new argument."""
    NOT_AN_APPEAL = "not_an_appeal"
    """Not an appeal at all: advertising, a test message, a wrong number's recording."""
    WITHDRAWN = "withdrawn"
    """The applicant withdrew it before it was considered."""


class TriageDecided(Event):
    """A human triage operator decided an appeal routing could not place (topic
    `appeals.triage.decisions.v1`): either the body (`agency_code`; routing routes it with the
    operator as the reason) or that it is left without consideration (`dismissal`; routing
    publishes `appeal.dismissed`). Exactly one of the two.

    It answers one `AppealTriaged` (`triage_event_id`); a decision that answers a triage the
    appeal has since left is stale and has no effect.
    """

    model_config = documented(
        {
            **_envelope(
                "triage.decided",
                "3a7b0e24-d95c-5f81-ac3e-6d2f9a4b8e15",
                "2026-03-05T11:40:00+05:00",
                "2f6a9d13-c84b-5e70-9b2d-5c1e8f3a7d04",
            ),
            "triage_event_id": "2f6a9d13-c84b-5e70-9b2d-5c1e8f3a7d04",
            "decision_id": "triage-desk/2026-000317",
            "operator": "op.madina.s",
            "agency_code": "akimat-astana-almaty",
            "dismissal": None,
            "category": "housing",
            "note": "Дворовая территория ОСИ: вопрос благоустройства двора, компетенция "
            "акимата района.",
        }
    )

    event_type: Literal["triage.decided"] = Field(
        default="triage.decided", description="Discriminator: `triage.decided`."
    )
    triage_event_id: NonEmptyStr = Field(
        description="Event id of the `AppealTriaged` this decision answers."
    )
    decision_id: NonEmptyStr = Field(
        description="The triage desk's own idempotency id; resending the same decision is a no-op."
    )
    operator: NonEmptyStr = Field(description="Login of the operator who decided.")
    agency_code: AgencyCode | None = Field(
        default=None, description="Body the operator chose; null when the appeal is dismissed."
    )
    dismissal: DismissalReason | None = Field(
        default=None,
        description="Set when the operator leaves the appeal without consideration, and why; "
        "null when a body was chosen.",
    )
    category: Category | None = Field(
        default=None,
        description="Category the operator assigned, if they corrected it; null keeps the "
        "category routing worked with.",
    )
    note: str = Field(
        description="The operator's reasoning, recorded as the routing reason (or told to the "
        "citizen with a dismissal)."
    )

    @model_validator(mode="after")
    def _body_or_dismissal(self) -> TriageDecided:
        if (self.agency_code is None) == (self.dismissal is None):
            raise ValueError(
                "a triage decision names either a body (agency_code) or a dismissal, not both "
                "and not neither"
            )
        return self


class AppealDismissed(Event):
    """The appeal is left without consideration (topic `appeals.routed.v1`, routing's
    decisions): published by routing for a triage operator's dismissal. It ends the appeal —
    sla stops its timers (no breach, not counted as handled), the citizen is told why, the
    status is `dismissed` — and nothing routes it afterwards."""

    model_config = documented(
        {
            **_envelope(
                "appeal.dismissed",
                "5c8e2a41-7b3d-5f60-9e1a-2d4c6b8f0a37",
                "2026-03-05T11:40:01+05:00",
                "3a7b0e24-d95c-5f81-ac3e-6d2f9a4b8e15",
            ),
            "registration_number": _REG_NO,
            "reason_code": "no_substance",
            "note": "Текст состоит из одного слова «помогите», контактов для уточнения нет.",
            "decided_by": "op.madina.s",
            "hop": 1,
            "declined_by": [],
        }
    )

    event_type: Literal["appeal.dismissed"] = Field(
        default="appeal.dismissed", description="Discriminator: `appeal.dismissed`."
    )
    registration_number: NonEmptyStr = Field(description="Registration number of the appeal.")
    reason_code: DismissalReason = Field(description="The ground it is dismissed on.")
    note: str = Field(description="The operator's explanation, as told to the citizen.")
    decided_by: NonEmptyStr = Field(description="Login of the operator who decided.")
    hop: int = Field(ge=0, description="Routing's decision number for this appeal.")
    declined_by: list[str] = Field(description="Agency codes that had declined it, if any.")


RoutingDecision = Annotated[AppealRouted | AppealDismissed, Field(discriminator="event_type")]
"""Any message on `appeals.routed.v1`: where the appeal went, or that it goes nowhere."""


class AgencyAssignment(Event):
    """What a body receives in its inbox: everything it needs to handle the appeal."""

    model_config = documented(
        {
            **_envelope(
                "agency.assignment",
                "c3e9f1a7-4d62-5b8e-a0f3-8d7c2b1e6a95",
                "2026-03-05T10:02:48+05:00",
                _ROUTED_EVENT_ID,
            ),
            "registration_number": _REG_NO,
            "agency_code": _AGENCY,
            "sub_unit": "heat-supply",
            "kind": "complaint",
            "category": "utilities.heating",
            "language": "ru",
            "region_kato": "711210000",
            "address": _ADDRESS,
            "location": {"lat": 51.128207, "lon": 71.430411},
            "subject": None,
            "text": _TEXT,
            "applicant": _APPLICANT,
            "received_at": _RECEIVED_AT,
            "registered_at": _REGISTERED_AT,
            "answer_due_at": _ANSWER_DUE_AT,
            "forward_due_at": _FORWARD_DUE_AT,
            "forwarded": False,
            "urgent": False,
            "contests": None,
        }
    )

    event_type: Literal["agency.assignment"] = Field(
        default="agency.assignment", description="Discriminator: `agency.assignment`."
    )
    registration_number: NonEmptyStr = Field(description="Registration number of the appeal.")
    agency_code: AgencyCode = Field(description="Top-level body whose inbox this is.")
    sub_unit: str | None = Field(
        description="Sub-unit of the body that should handle it, if routing knows one."
    )
    kind: AppealKind = Field(description="Kind of appeal.")
    category: Category = Field(description="National category of the subject.")
    language: Language = Field(description="Language of the appeal.")
    region_kato: KatoCode | None = Field(description="KATO code of the place concerned.")
    address: str | None = Field(description="Street address, if given.")
    location: GeoPoint | None = Field(
        default=None, description="Coordinates, if the channel sent them."
    )
    subject: str | None = Field(description="Subject line, if any.")
    text: str = Field(description="Text of the appeal.")
    applicant: Applicant = Field(description="Who filed the appeal.")
    received_at: AwareDatetime = Field(description="When the channel received the appeal.")
    registered_at: AwareDatetime = Field(description="Registration date and time.")
    answer_due_at: AwareDatetime = Field(description="Current answer deadline.")
    forward_due_at: AwareDatetime | None = Field(
        description="By when to forward the appeal if the body is not competent; null when "
        "forwarding no longer applies."
    )
    forwarded: bool = Field(description="True when another body forwarded it here.")
    urgent: bool = Field(description="True when the appeal must be handled at once.")
    contests: ContestedAnswer | None = Field(
        default=None,
        description="Set when the appeal is a repeat complaint against a body's answer: this "
        "body supervises that body and decides whether the complaint is substantiated "
        "(`substantiated` in its answer).",
    )


# --- agencies (agency.actions.v1) -------------------------------------------------------


class AgencyActionEvent(Event):
    """Fields shared by every decision an agency publishes to `agency.actions.v1`."""

    action_id: NonEmptyStr = Field(
        description="The agency's own idempotency id for this action; resending the same "
        "action with the same id is a no-op."
    )
    agency_code: AgencyCode = Field(description="Top-level body that acted.")
    officer: str | None = Field(description="Login or name of the officer who acted, if known.")


def _action_example(event_type: str, event_id: str, occurred_at: str) -> dict[str, Any]:
    return {
        **_envelope(event_type, event_id, occurred_at, _ROUTED_EVENT_ID),
        "action_id": f"astana-energy/{event_type.split('.')[1]}/2026-000871",
        "agency_code": _AGENCY,
        "officer": "a.temirbekov",
    }


class AppealAccepted(AgencyActionEvent):
    """The body took the appeal into consideration."""

    model_config = documented(
        _action_example("agency.accepted", _ACCEPTED_EVENT_ID, "2026-03-05T11:20:00+05:00")
    )

    event_type: Literal["agency.accepted"] = Field(
        default="agency.accepted", description="Discriminator: `agency.accepted`."
    )


class AppealRedirected(AgencyActionEvent):
    """The body is not competent and hands the appeal back to routing (Art. 65)."""

    model_config = documented(
        {
            **_action_example(
                "agency.redirected",
                "6d8e2f4b-1a95-5c37-8e0b-9f4c3a7d2e18",
                "2026-03-06T15:10:00+05:00",
            ),
            "reason": "The building is served by an autonomous boiler house of the "
            "housing cooperative, not by the city heating network.",
            "suggested_agency_code": "astana-almaty-akimat",
        }
    )

    event_type: Literal["agency.redirected"] = Field(
        default="agency.redirected", description="Discriminator: `agency.redirected`."
    )
    reason: str = Field(description="Why the body is not competent.")
    suggested_agency_code: str | None = Field(
        description="Body the agency believes competent, if it knows one."
    )


class DeadlineExtended(AgencyActionEvent):
    """The head of the body extended the answer deadline by a reasoned decision (Art. 76)."""

    model_config = documented(
        {
            **_action_example(
                "agency.extended",
                "7e1c5a93-2b4f-5d08-b6e7-3a9d8c0f5b21",
                "2026-03-27T16:45:00+05:00",
            ),
            "new_due_at": "2026-04-30T18:00:00+05:00",
            "proposed_due_at": None,
            "moved_from_day_off": None,
            "reason": "An inspection of the building's heating system by the energy "
            "supervision body is required.",
            "decision_ref": "Приказ №118-ө от 27.03.2026",
        }
    )

    event_type: Literal["agency.extended"] = Field(
        default="agency.extended", description="Discriminator: `agency.extended`."
    )
    new_due_at: AwareDatetime = Field(
        description="The new answer deadline; no later than two months from receipt. As the "
        "body proposed it on its own topic; on `agency.actions.v1` as the statute has it: the "
        "end of work on that day, or on the next working day when it is a day off."
    )
    proposed_due_at: AwareDatetime | None = Field(
        default=None,
        description="The deadline the body proposed, where the statute made `new_due_at` "
        "differ from it (set by routing's gate; absent otherwise).",
    )
    moved_from_day_off: date | None = Field(
        default=None,
        description="The proposed day, when it was a day off and the term moved to the next "
        "working day (the general rule on terms).",
    )
    reason: str = Field(description="Reasons for the extension, as told to the applicant.")
    decision_ref: NonEmptyStr = Field(
        description="Reference of the head's decision (number and date)."
    )


class AnswerOutcome(StrEnum):
    """How the body decided on the appeal."""

    SATISFIED = "satisfied"
    PARTIALLY_SATISFIED = "partially_satisfied"
    REJECTED = "rejected"
    EXPLAINED = "explained"


class AppealAnswered(AgencyActionEvent):
    """The body gave its answer; this stops the answer deadline."""

    model_config = documented(
        {
            **_action_example(
                "agency.answered",
                "8f2d6b04-3c5a-5e19-a7f8-4b0e9d1a6c32",
                "2026-03-12T17:05:00+05:00",
            ),
            "outcome": "satisfied",
            "summary": "Воздух из стояков отопления спущен, подача тепла восстановлена "
            "12.03.2026; температура в квартирах 21 °C.",
            "how_to_obtain": "Full answer in the applicant's eGov personal account and by "
            "SMS link.",
            "substantiated": None,
        }
    )

    event_type: Literal["agency.answered"] = Field(
        default="agency.answered", description="Discriminator: `agency.answered`."
    )
    outcome: AnswerOutcome = Field(description="How the body decided.")
    summary: str = Field(description="Short summary of the answer, for the citizen.")
    how_to_obtain: str = Field(description="Where and how the citizen gets the full answer.")
    substantiated: bool | None = Field(
        default=None,
        description="Only in the answer to a repeat complaint (an appeal that `contests` an "
        "answer), and required there: whether the supervising body found it substantiated.",
    )


AgencyAction = Annotated[
    AppealAccepted | AppealRedirected | DeadlineExtended | AppealAnswered,
    Field(discriminator="event_type"),
]
"""Any message on `agency.actions.v1`."""

AGENCY_ACTION_ADAPTER: TypeAdapter[AgencyAction] = TypeAdapter(AgencyAction)


class ActionRefusalReason(StrEnum):
    NOT_ASSIGNED = "not_assigned"
    """The appeal is not (any more) with the body that decided: only its holder acts on it."""
    AGENCY_MISMATCH = "agency_mismatch"
    """The decision names another body than the one whose topic it came on."""
    UNKNOWN_APPEAL = "unknown_appeal"
    """No appeal of that id was ever routed."""
    EVENT_ID_IN_USE = "event_id_in_use"
    """Another decision already came with this event id (an event id names one decision)."""
    VERDICT_REQUIRED = "verdict_required"
    """An answer to a repeat complaint must say whether it was substantiated."""
    VERDICT_NOT_EXPECTED = "verdict_not_expected"
    """`substantiated` belongs to answers to repeat complaints only."""
    UNKNOWN_INCIDENT = "unknown_incident"
    """An answer to an incident that is not the answering body's (or does not exist)."""


class AgencyActionRefused(Event):
    """A decision a body published on its own decisions topic that routing did not pass on:
    told to that body on its inbox, so its system learns why nothing happened. Counted in
    `tyndau_routing_actions_refused_total{agency,reason}`."""

    model_config = documented(
        {
            **_envelope(
                "agency.action_refused",
                "2f6a9c1e-7b3d-5e48-a2c6-8d1f0e9b4a57",
                "2026-03-05T11:20:01+05:00",
                _ACCEPTED_EVENT_ID,
            ),
            "agency_code": "akimat-shymkent",
            "action_event_id": _ACCEPTED_EVENT_ID,
            "action_type": "agency.accepted",
            "claimed_agency_code": "akimat-shymkent",
            "reason_code": "not_assigned",
            "reason": "The appeal is not with akimat-shymkent: only the body that holds an "
            "appeal decides on it.",
        }
    )

    event_type: Literal["agency.action_refused"] = Field(
        default="agency.action_refused", description="Discriminator: `agency.action_refused`."
    )
    agency_code: AgencyCode = Field(
        description="The body whose decisions topic the refused decision came on (who sent it)."
    )
    action_event_id: NonEmptyStr = Field(description="Event id of the refused decision.")
    action_type: NonEmptyStr = Field(description="Its event type, e.g. `agency.answered`.")
    claimed_agency_code: str = Field(description="The body the decision itself named.")
    reason_code: ActionRefusalReason = Field(description="Why it was refused.")
    reason: NonEmptyStr = Field(description="The same in words (no other body is named).")


# --- SLA timers (sla.events.v1) ---------------------------------------------------------


class DeadlineKind(StrEnum):
    """Which statutory deadline a timer watches."""

    FORWARDING = "forwarding"
    ANSWER = "answer"


class SlaTimerEvent(Event):
    """Fields shared by every event about one statutory deadline timer."""

    timer_id: NonEmptyStr = Field(
        description="Id of the timer: one per appeal, deadline kind and responsible body."
    )
    deadline_kind: DeadlineKind = Field(description="Which deadline the timer watches.")
    agency_code: AgencyCode = Field(description="Body responsible for meeting the deadline.")
    due_at: AwareDatetime = Field(description="The deadline the timer currently watches.")
    generation: int = Field(
        ge=0,
        description="Incremented whenever the deadline changes (e.g. extension); events of an "
        "older generation are stale.",
    )


_TIMER_ID = "a6b3e8d1-5f27-5c94-8d0a-2e7f1c9b4d63"


def _sla_example(
    event_type: str, event_id: str, occurred_at: str, causation_id: str
) -> dict[str, Any]:
    return {
        **_envelope(event_type, event_id, occurred_at, causation_id),
        "timer_id": _TIMER_ID,
        "deadline_kind": "answer",
        "agency_code": _AGENCY,
        "due_at": _ANSWER_DUE_AT,
        "generation": 0,
    }


class SlaTimerStarted(SlaTimerEvent):
    """A deadline timer was armed — first, or again for a new generation: an accepted
    extension, or a calendar change that moved the deadline (`previous_due_at` set)."""

    model_config = documented(
        {
            **_sla_example(
                "sla.started",
                "b7c4f9e2-6a38-5d05-9e1b-3f8a2d0c5e74",
                "2026-03-05T10:02:49+05:00",
                _ROUTED_EVENT_ID,
            ),
            "provisional_calendar": False,
            "previous_due_at": None,
            "moved_because": None,
            "calendar_version": None,
        }
    )

    event_type: Literal["sla.started"] = Field(
        default="sla.started", description="Discriminator: `sla.started`."
    )
    provisional_calendar: bool = Field(
        default=False,
        description="The term reaches a year whose days off are not yet decreed (the "
        "calendar's rules only): the deadline may move when the decree is loaded.",
    )
    previous_due_at: AwareDatetime | None = Field(
        default=None,
        description="Set when a change of the working-day calendar moved the deadline: the "
        "deadline before it.",
    )
    moved_because: str | None = Field(
        default=None, description="Why the deadline moved (the calendar change), in words."
    )
    calendar_version: str | None = Field(
        default=None, description="The working-day calendar the deadline was re-planned on."
    )


class SlaWarning(SlaTimerEvent):
    """A deadline is near."""

    model_config = documented(
        {
            **_sla_example(
                "sla.warning",
                "c8d5a0f3-7b49-5e16-8f2c-4a9b3e1d6f85",
                "2026-03-27T09:00:00+05:00",
                "b7c4f9e2-6a38-5d05-9e1b-3f8a2d0c5e74",
            ),
            "working_days_left": 3,
        }
    )

    event_type: Literal["sla.warning"] = Field(
        default="sla.warning", description="Discriminator: `sla.warning`."
    )
    working_days_left: int = Field(ge=0, description="Working days left before the deadline.")


class SlaBreached(SlaTimerEvent):
    """A deadline passed without a decision — counted as a refusal (Art. 91) and a breach."""

    model_config = documented(
        {
            **_sla_example(
                "sla.breached",
                "d9e6b1a4-8c5a-5f27-9a3d-5b0c4f2e7a96",
                "2026-04-01T18:00:01+05:00",
                "b7c4f9e2-6a38-5d05-9e1b-3f8a2d0c5e74",
            ),
            "escalate_to": ["astana-akimat", "prosecutor-astana"],
            "breached_at": _ANSWER_DUE_AT,
        }
    )

    event_type: Literal["sla.breached"] = Field(
        default="sla.breached", description="Discriminator: `sla.breached`."
    )
    escalate_to: list[str] = Field(
        description="Agency or role codes to escalate to (supervising body, prosecutor)."
    )
    breached_at: AwareDatetime = Field(description="The moment the deadline passed.")


class SlaStopped(SlaTimerEvent):
    """A timer stopped because the awaited decision arrived, or because the appeal was left
    without consideration (`dismissed`)."""

    model_config = documented(
        {
            **_sla_example(
                "sla.stopped",
                "e0f7c2b5-9d6b-5a38-8b4e-6c1d5a3f8b07",
                "2026-03-12T17:05:01+05:00",
                "8f2d6b04-3c5a-5e19-a7f8-4b0e9d1a6c32",
            ),
            "on_time": True,
            "working_days_used": 4,
            "stopped_by_event_id": "8f2d6b04-3c5a-5e19-a7f8-4b0e9d1a6c32",
            "decided_at": "2026-03-12T17:05:00+05:00",
            "answered_by": _AGENCY,
            "dismissed": False,
        }
    )

    event_type: Literal["sla.stopped"] = Field(
        default="sla.stopped", description="Discriminator: `sla.stopped`."
    )
    on_time: bool = Field(description="True when the decision came before the deadline.")
    working_days_used: int = Field(
        ge=0, description="Working days from registration (day 0) to the decision."
    )
    stopped_by_event_id: NonEmptyStr = Field(
        description="Event id of the decision that stopped the timer."
    )
    decided_at: AwareDatetime | None = Field(
        default=None,
        description="When that decision was made (its `occurred_at`): on time or late is "
        "judged by it, and the assessment counts the appeal handled on its day.",
    )
    answered_by: AgencyCode | None = Field(
        default=None,
        description="The body whose decision it was — the one the assessment credits; it can "
        "differ from `agency_code` when the answer overtook sla's record of a redirect.",
    )
    dismissed: bool = Field(
        default=False,
        description="True when the appeal was left without consideration (`appeal.dismissed`, "
        "whose id is `stopped_by_event_id`): no body handled it, and no breach follows.",
    )


class SlaExtensionRefused(SlaTimerEvent):
    """An extension was not applied, e.g. because it went beyond two months from receipt."""

    model_config = documented(
        {
            **_sla_example(
                "sla.extension_refused",
                "f1a8d3c6-0e7c-5b49-9c5f-7d2e6b4a9c18",
                "2026-03-27T16:45:01+05:00",
                "7e1c5a93-2b4f-5d08-b6e7-3a9d8c0f5b21",
            ),
            "requested_due_at": "2026-05-20T18:00:00+05:00",
            "reason": "exceeds_two_months_from_receipt",
        }
    )

    event_type: Literal["sla.extension_refused"] = Field(
        default="sla.extension_refused", description="Discriminator: `sla.extension_refused`."
    )
    requested_due_at: AwareDatetime = Field(description="The deadline the agency asked for.")
    reason: str = Field(description="Why it was refused, e.g. `exceeds_two_months_from_receipt`.")


SlaEvent = Annotated[
    SlaTimerStarted | SlaWarning | SlaBreached | SlaStopped | SlaExtensionRefused,
    Field(discriminator="event_type"),
]
"""Any message on `sla.events.v1`."""

SLA_EVENT_ADAPTER: TypeAdapter[SlaEvent] = TypeAdapter(SlaEvent)


# --- mass incidents (incidents.v1; routing's sightings on incidents.sightings.v1) --------

_INCIDENT_ID = "4b1c6e95-0f7d-5a8b-9c6e-8d0f2a4b6c57"
_CLUSTER_KEY = "astana-energy|utilities.heating|7112"
_RULE = (
    "utilities.heating: 5 appeals within 120 min, one body, one district, within 500 m "
    "where located"
)


class IncidentMember(Documented):
    """One appeal of an incident."""

    model_config = documented(
        {
            "appeal_id": _APPEAL_ID,
            "registration_number": _REG_NO,
            "received_at": _RECEIVED_AT,
        },
        frozen=True,
        extra="forbid",
    )

    appeal_id: NonEmptyStr = Field(description="The appeal.")
    registration_number: NonEmptyStr = Field(description="Its registration number.")
    received_at: AwareDatetime = Field(description="When its channel received it.")


class IncidentSighted(Documented):
    """Routing sent an appeal of a category that clusters to a body: one sighting under its
    cluster key (body|category|district), the Kafka key, so one consumer sees a key's
    sightings in order (services/routing/incidents.py)."""

    model_config = documented(
        {
            "event_id": "5c2d7fa6-1a8e-5b9c-8d7f-9e1a3b5c7d68",
            "event_type": "incident.sighted",
            "occurred_at": "2026-03-05T10:02:48+05:00",
            "cluster_key": _CLUSTER_KEY,
            "agency_code": _AGENCY,
            "category": "utilities.heating",
            "district_kato": "7112",
            "appeal_id": _APPEAL_ID,
            "registration_number": _REG_NO,
            "received_at": _RECEIVED_AT,
            "location": {"lat": 51.128207, "lon": 71.430411},
        },
        frozen=True,
        extra="forbid",
    )

    event_id: NonEmptyStr = Field(
        description="Deterministic id of this event: a replay yields the same id."
    )
    event_type: Literal["incident.sighted"] = Field(
        default="incident.sighted", description="Discriminator: `incident.sighted`."
    )
    occurred_at: AwareDatetime = Field(description="When it happened, ISO-8601 with an offset.")
    cluster_key: NonEmptyStr = Field(description="`<body>|<category>|<district KATO>`.")
    agency_code: AgencyCode = Field(description="The body concerned.")
    category: Category = Field(description="National category of the appeals.")
    district_kato: str = Field(pattern=r"^\d{4}$", description="KATO's first four digits.")
    appeal_id: NonEmptyStr = Field(description="The appeal sighted.")
    registration_number: NonEmptyStr = Field(description="Its registration number.")
    received_at: AwareDatetime = Field(description="When its channel received it.")
    location: GeoPoint | None = Field(description="Its coordinates, if the channel sent them.")


class IncidentEvent(Documented):
    """Fields of every event about one incident (topic `incidents.v1`, keyed by cluster key;
    each also goes to the body's inbox)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: NonEmptyStr = Field(description="Deterministic: a replay yields the same id.")
    event_type: str = Field(description="Discriminator naming the concrete event.")
    occurred_at: AwareDatetime = Field(description="When it happened, ISO-8601 with an offset.")
    incident_id: NonEmptyStr = Field(description="From the cluster key and its first member.")
    cluster_key: NonEmptyStr = Field(description="`<body>|<category>|<district KATO>`.")
    agency_code: AgencyCode = Field(description="The body all its members were routed to.")
    category: Category = Field(description="National category of the appeals.")
    district_kato: str = Field(pattern=r"^\d{4}$", description="KATO's first four digits.")
    rule: str = Field(description="The rule that made it an incident, in words.")
    member_count: int = Field(ge=1, description="Members so far.")


def _incident_example(event_type: str, event_id: str, occurred_at: str, count: int) -> dict:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "incident_id": _INCIDENT_ID,
        "cluster_key": _CLUSTER_KEY,
        "agency_code": _AGENCY,
        "category": "utilities.heating",
        "district_kato": "7112",
        "rule": _RULE,
        "member_count": count,
    }


class IncidentOpened(IncidentEvent):
    """Enough appeals about one thing in one place and time: an incident, with every member
    so far. The body answers it once (`agency.incident_answered`)."""

    model_config = documented(
        {
            **_incident_example(
                "incident.opened",
                "6d3e8ab7-2b9f-5cad-9e8a-0f2b4c6d8e79",
                "2026-03-05T10:40:02+05:00",
                1,
            ),
            "members": [IncidentMember.example().model_dump(mode="json")],
            "anchor": {"lat": 51.128207, "lon": 71.430411},
        }
    )

    event_type: Literal["incident.opened"] = Field(
        default="incident.opened", description="Discriminator: `incident.opened`."
    )
    members: list[IncidentMember] = Field(description="Every member so far, oldest first.")
    anchor: GeoPoint | None = Field(description="The first located member's place, if any.")


class IncidentGrew(IncidentEvent):
    """One more appeal joined an open incident."""

    model_config = documented(
        {
            **_incident_example(
                "incident.grew",
                "7e4f9bc8-3ca0-5dbe-8f9b-1a3c5d7e9f80",
                "2026-03-05T10:52:13+05:00",
                6,
            ),
            "member": IncidentMember.example().model_dump(mode="json"),
        }
    )

    event_type: Literal["incident.grew"] = Field(
        default="incident.grew", description="Discriminator: `incident.grew`."
    )
    member: IncidentMember = Field(description="The appeal that joined.")


class IncidentResolved(IncidentEvent):
    """The body answered the incident: every member it still held was answered with it."""

    model_config = documented(
        {
            **_incident_example(
                "incident.resolved",
                "8f5a0cd9-4db1-5ecf-9a0c-2b4d6e8f0a91",
                "2026-03-05T16:20:00+05:00",
                6,
            ),
            "answer_event_id": "9a6b1dea-5ec2-5fd0-8b1d-3c5e7f9a1b02",
            "outcome": "satisfied",
            "opened_at": "2026-03-05T10:40:02+05:00",
            "seconds_to_resolve": 20398.0,
            "answered": [_APPEAL_ID],
        }
    )

    event_type: Literal["incident.resolved"] = Field(
        default="incident.resolved", description="Discriminator: `incident.resolved`."
    )
    answer_event_id: NonEmptyStr = Field(description="The body's answer to the incident.")
    outcome: AnswerOutcome = Field(description="How the body decided.")
    opened_at: AwareDatetime = Field(description="When the incident opened.")
    seconds_to_resolve: float = Field(ge=0, description="From opened to the answer.")
    answered: list[str] = Field(
        description="Members answered with it (those redirected elsewhere are not)."
    )


Incident = Annotated[
    IncidentOpened | IncidentGrew | IncidentResolved, Field(discriminator="event_type")
]
"""Any message on `incidents.v1`."""


class IncidentAnswered(Documented):
    """A body's one answer to an incident, on its own decisions topic
    (`agency.<code>.actions.v1`, keyed by incident id): routing answers each member it still
    holds with it (`agency.answered`, each appeal's own record, deadline and notice)."""

    model_config = documented(
        {
            "event_id": "9a6b1dea-5ec2-5fd0-8b1d-3c5e7f9a1b02",
            "event_type": "agency.incident_answered",
            "occurred_at": "2026-03-05T16:20:00+05:00",
            "incident_id": _INCIDENT_ID,
            "agency_code": _AGENCY,
            "action_id": "astana-energy/incident/2026-03-05/1",
            "outcome": "satisfied",
            "summary": "Авария на теплотрассе устранена, подача тепла восстановлена в 16:00.",
            "how_to_obtain": "Ответ направлен каждому заявителю.",
        },
        frozen=True,
        extra="forbid",
    )

    event_id: NonEmptyStr = Field(
        description="Deterministic id of this event: a replay yields the same id."
    )
    event_type: Literal["agency.incident_answered"] = Field(
        default="agency.incident_answered", description="Discriminator: `agency.incident_answered`."
    )
    occurred_at: AwareDatetime = Field(description="When it happened, ISO-8601 with an offset.")
    incident_id: NonEmptyStr = Field(description="The incident answered.")
    agency_code: AgencyCode = Field(description="The answering body (its own topic).")
    action_id: NonEmptyStr = Field(description="The body's own idempotency id.")
    outcome: AnswerOutcome = Field(description="How the body decided.")
    summary: str = Field(description="Short summary of the answer, for the citizens.")
    how_to_obtain: str = Field(description="Where and how the citizens get the full answer.")


AgencyInboxMessage = Annotated[
    AgencyAssignment | AgencyActionRefused | IncidentOpened | IncidentGrew | IncidentResolved,
    Field(discriminator="event_type"),
]
"""Any message on a body's inbox, `agency.<code>.inbox.v1`."""


AgencyDecision = Annotated[
    AppealAccepted | AppealRedirected | DeadlineExtended | AppealAnswered | IncidentAnswered,
    Field(discriminator="event_type"),
]
"""Any message a body publishes on its own decisions topic, `agency.<code>.actions.v1`."""


# --- the citizen's answer to the answer (appeals.feedback.v1) ----------------------------


class Rating(StrEnum):
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not_satisfied"


class AnswerRated(Event):
    """The citizen rated a body's answer (through the gateway or a reply to the notice);
    one rating per appeal. `contest_appeal_id` names the repeat complaint when the citizen
    also contested the answer."""

    model_config = documented(
        {
            **_envelope(
                "answer.rated",
                "3a0b5d84-9e6f-5c7b-8b4d-5f7e9a1c3d46",
                "2026-03-14T09:30:00+05:00",
                "8f2d6b04-3c5a-5e19-a7f8-4b0e9d1a6c32",
            ),
            "registration_number": _REG_NO,
            "agency_code": _AGENCY,
            "answer_event_id": "8f2d6b04-3c5a-5e19-a7f8-4b0e9d1a6c32",
            "rating": "not_satisfied",
            "via": "gateway",
            "contest_appeal_id": "6d1f3b95-2a7c-5e4f-9b58-7c3d0e1f4a69",
        }
    )

    event_type: Literal["answer.rated"] = Field(
        default="answer.rated", description="Discriminator: `answer.rated`."
    )
    registration_number: NonEmptyStr = Field(description="Of the appeal whose answer is rated.")
    agency_code: AgencyCode = Field(description="The body that answered.")
    answer_event_id: NonEmptyStr = Field(description="Event id of the rated answer.")
    rating: Rating = Field(description="Satisfied or not.")
    via: Literal["gateway", "sms_reply"] = Field(
        description="How the citizen rated: the HTTP gateway (portal, app) or a reply to the "
        "notice of the answer."
    )
    contest_appeal_id: str | None = Field(
        description="The repeat complaint registered when the citizen also contested the answer."
    )


# --- outcomes recorded after the fact (appeals.outcomes.v1) -------------------------------


class OutcomeEvent(Event):
    """Fields shared by the outcomes the assessment counts that happen outside the backbone
    (a court, a body's discipline, a supervising body's verdict) and are recorded into it."""

    agency_code: AgencyCode = Field(description="The body whose handling the outcome judges.")
    decided_on: date = Field(description="Day of the decision (local, Asia/Almaty).")
    recorded_by: NonEmptyStr = Field(description="Who recorded it (the caller's subject).")


class CourtDecisionRecorded(OutcomeEvent):
    """A court decided a claim about how a body handled an appeal (assessment: "appeals
    satisfied by court decision"). One per appeal and case number."""

    model_config = documented(
        {
            **_envelope(
                "court.decided",
                "0d7e2a51-6b3c-5f48-9e1a-2c4b6d8f0a13",
                "2026-06-10T11:20:00+05:00",
                None,
            ),
            "agency_code": _AGENCY,
            "decided_on": "2026-06-09",
            "recorded_by": "legal@astana-energy",
            "case_number": "7194-26-00-2а/1532",
            "satisfied": True,
        }
    )

    event_type: Literal["court.decided"] = Field(
        default="court.decided", description="Discriminator: `court.decided`."
    )
    case_number: NonEmptyStr = Field(description="The court's case number.")
    satisfied: bool = Field(
        description="True when the court found for the applicant (the claim was satisfied)."
    )


class DisciplinaryDecisionRecorded(OutcomeEvent):
    """What the body decided about those responsible for one breach of a deadline
    (assessment: "disciplinary action taken against those responsible for breaches").
    One per breach: the appeal, the deadline kind and the deadline that passed."""

    model_config = documented(
        {
            **_envelope(
                "disciplinary.decided",
                "1e8f3b62-7c4d-5a59-8f2b-3d5c7e9a1b24",
                "2026-04-20T15:00:00+05:00",
                "d9e6b1a4-8c5a-5f27-9a3d-5b0c4f2e7a96",
            ),
            "agency_code": _AGENCY,
            "decided_on": "2026-04-17",
            "recorded_by": "hr@astana-energy",
            "deadline_kind": "answer",
            "breached_at": _ANSWER_DUE_AT,
            "taken": True,
        }
    )

    event_type: Literal["disciplinary.decided"] = Field(
        default="disciplinary.decided", description="Discriminator: `disciplinary.decided`."
    )
    deadline_kind: DeadlineKind = Field(description="Which deadline was breached.")
    breached_at: AwareDatetime = Field(
        description="The deadline that passed (the breach's `breached_at`); the breach's day "
        "puts the decision in a period."
    )
    taken: bool = Field(description="True when disciplinary action was taken.")


class RepeatComplaintDecided(OutcomeEvent):
    """The supervising body's verdict on a repeat complaint: a citizen contested a body's
    answer (assessment: "repeated substantiated complaints"). `appeal_id` is the repeat
    complaint; `agency_code` the body whose answer was contested. One per repeat complaint."""

    model_config = documented(
        {
            **_envelope(
                "repeat_complaint.decided",
                "2f9a4c73-8d5e-5b6a-9a3c-4e6d8f0b2c35",
                "2026-05-12T10:00:00+05:00",
                None,
            ),
            "agency_code": _AGENCY,
            "decided_on": "2026-05-12",
            "recorded_by": "supervisor@astana-akimat",
            "original_appeal_id": "5c0e2a84-1f6b-5d3e-8a47-6b2c9d0e3f58",
            "decided_by": "astana-akimat",
            "substantiated": True,
        }
    )

    event_type: Literal["repeat_complaint.decided"] = Field(
        default="repeat_complaint.decided",
        description="Discriminator: `repeat_complaint.decided`.",
    )
    original_appeal_id: NonEmptyStr = Field(description="The appeal whose answer was contested.")
    decided_by: AgencyCode = Field(description="The supervising body that decided.")
    substantiated: bool = Field(description="True when the complaint was found substantiated.")


def verdict_event_id(repeat_complaint_id: str) -> str:
    """The id of the verdict on a repeat complaint, whoever records it (the supervising
    body's answer through routing, or a registrar through sla): one verdict per complaint."""
    return deterministic_id("repeat_complaint.decided", repeat_complaint_id)


AppealOutcome = Annotated[
    CourtDecisionRecorded | DisciplinaryDecisionRecorded | RepeatComplaintDecided,
    Field(discriminator="event_type"),
]
"""Any message on `appeals.outcomes.v1`."""

APPEAL_OUTCOME_ADAPTER: TypeAdapter[AppealOutcome] = TypeAdapter(AppealOutcome)


# --- notify (notifications.outcomes.v1) -------------------------------------------------


class RecipientRole(StrEnum):
    """Who a notification was for."""

    CITIZEN = "citizen"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"


class DeliveryChannel(StrEnum):
    """How a notification was delivered."""

    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"
    OUTBOX = "outbox"


class DeliveryStatus(StrEnum):
    """What became of a notification."""

    SENT = "sent"
    FAILED = "failed"
    DEFERRED = "deferred"
    SUPPRESSED = "suppressed"


class NotificationOutcome(Event):
    """What happened to one notification notify tried to send."""

    model_config = documented(
        {
            **_envelope(
                "notification.outcome",
                "0a9b4e7d-1f8d-5c5a-8d60-8e3f7c5b0d29",
                "2026-03-05T10:02:50+05:00",
                _REGISTERED_EVENT_ID,
            ),
            "notification_id": "1b0c5f8e-2a9e-5d6b-9e71-9f4a8d6c1e3a",
            "cause_event_id": _REGISTERED_EVENT_ID,
            "recipient_role": "citizen",
            "delivery_channel": "sms",
            "template": "appeal_registered",
            "language": "ru",
            "status": "sent",
            "attempts": 1,
            "reason": None,
            "registration_number": _REG_NO,
        }
    )

    event_type: Literal["notification.outcome"] = Field(
        default="notification.outcome", description="Discriminator: `notification.outcome`."
    )
    notification_id: NonEmptyStr = Field(
        description="Deterministic id of the notification (cause event, recipient, "
        "channel); the same notification is never sent twice."
    )
    cause_event_id: NonEmptyStr = Field(description="Event that triggered the notification.")
    recipient_role: RecipientRole = Field(description="Who the notification was for.")
    delivery_channel: DeliveryChannel = Field(description="How it was delivered.")
    template: NonEmptyStr = Field(description="Name of the message template used.")
    language: Language = Field(description="Language the message was written in.")
    status: DeliveryStatus = Field(description="What became of it.")
    attempts: int = Field(ge=0, description="Delivery attempts made so far.")
    reason: str | None = Field(description="Why it failed, was deferred or suppressed.")
    registration_number: str | None = Field(
        description="Registration number of the appeal, when it has one."
    )


# --- dead letters (appeals.dlq.v1) ------------------------------------------------------


class DeadLetter(Documented):
    """A message a handler could not parse, kept with its original bytes and the error.

    Not an `Event`: the appeal is usually unknown. Bytes are base64 so any payload survives.
    """

    model_config = documented(
        {
            "event_id": "2c1d6a9f-3b0f-5e7c-af82-0a5b9e7d2f4b",
            "occurred_at": "2026-03-05T10:03:02+05:00",
            "schema_version": 1,
            "correlation_id": None,
            "appeal_id": None,
            "source_service": "intake",
            "topic": "channel.ikomek109.appeals.v1",
            "partition": 2,
            "offset": 184467,
            "key_b64": "SUstMjAyNi0wMzA1LTAwNDUxMw==",
            "payload_b64": "eyJ0aWNrZXRfbm8iOiAiSUstMjAyNi0wMzA1LTAwNDUxMyIsICJjcmVhdGVkIjogIj"
            "IwMjYtMDMtMDVUMTA6",
            "headers": {
                "content-type": "YXBwbGljYXRpb24vanNvbg==",
                "producer": "aWtvbWVrLWJyaWRnZS8yLjQ=",
            },
            "error_type": "json_invalid",
            "error": "Invalid JSON: EOF while parsing a string at line 1 column 65",
        },
        frozen=True,
        extra="forbid",
    )

    event_id: NonEmptyStr = Field(
        description="Deterministic id (from topic, partition and offset), so re-dead-lettering "
        "the same message is a no-op."
    )
    occurred_at: AwareDatetime = Field(description="When the message was dead-lettered.")
    schema_version: int = Field(default=1, ge=1, description="Version of this schema.")
    correlation_id: str | None = Field(
        description="Correlation id, if one could be read from the message."
    )
    appeal_id: str | None = Field(description="Appeal id, if one could be read.")
    source_service: NonEmptyStr = Field(description="Service that failed to parse it.")
    topic: NonEmptyStr = Field(description="Topic the message was read from.")
    partition: int = Field(ge=0, description="Partition it was read from.")
    offset: int = Field(ge=0, description="Its offset in that partition.")
    key_b64: str | None = Field(description="Original Kafka key, base64; null when none.")
    payload_b64: str = Field(description="Original message value, base64.")
    headers: dict[str, str] = Field(description="Original Kafka headers; values base64.")
    error_type: NonEmptyStr = Field(
        description="Machine-readable kind of failure, e.g. `json_invalid`, `validation_error`."
    )
    error: str = Field(description="The error, as text.")


AnyEvent = Annotated[
    (
        AppealRegistered
        | AppealRejected
        | AppealRouted
        | AppealTriaged
        | AppealDismissed
        | TriageDecided
        | AgencyAssignment
        | AppealAccepted
        | AppealRedirected
        | DeadlineExtended
        | AppealAnswered
        | AgencyActionRefused
        | SlaTimerStarted
        | SlaWarning
        | SlaBreached
        | SlaStopped
        | SlaExtensionRefused
        | NotificationOutcome
        | AnswerRated
        | CourtDecisionRecorded
        | DisciplinaryDecisionRecorded
        | RepeatComplaintDecided
    ),
    Field(discriminator="event_type"),
]
"""Any lifecycle event, e.g. for intake's status timeline that reads several topics."""

ANY_EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)

EVENT_TYPES: tuple[type[Event], ...] = get_args(get_args(AnyEvent)[0])
"""Every concrete lifecycle event class, in the order of `AnyEvent`."""
