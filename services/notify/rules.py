"""Who is told what: the rule table (event type → recipient role → template) as data, and
the plain functions that turn one event into the notices it calls for.

Decisions where the law and the issue are silent:
- The officer's "new assignment" comes from `appeals.routed.v1` (it names the body and is
  one topic, whereas inboxes are one topic per body); every routing decision, including a
  re-routing after a redirection, tells the receiving body's desk.
- The citizen's forwarding notice (Art. 65) is sent for a routing decision with
  `forwarded = true`, naming the receiving body; it is mandatory.
- `appeal.dismissed` (the triage desk left the appeal without consideration) tells the
  citizen the ground in words, the operator's note, and that the decision can be appealed;
  mandatory.
- `agency.accepted` tells the citizen that the body took the appeal up. The law does not
  require it, so it is the one citizen notice an opt-out suppresses.
- SLA warnings go to the responsible body's desk; breaches to the head of each body in
  `escalate_to` (the body's own head when the list is empty) and are urgent: they ignore
  quiet hours.
- Silence (Art. 91): when the *answer* deadline passes with no decision the citizen is told
  too — that the deadline passed, that the law counts it as a refusal, and where to
  complain: the supervising body (the body's parent in the registry) or the court. A
  mandatory notice, not urgent (quiet hours apply). A forwarding breach is the bodies'
  failure within the procedure and the answer term still runs: the citizen is not told.
- A calendar change that moves the answer deadline (`sla.started` with `previous_due_at`,
  sla re-planning after a decree on days off) tells the citizen the new date and why;
  mandatory (the date the law holds the body to changed). A moved forwarding deadline is
  the bodies' business: not told.
- A citizen's notice is urgent when the appeal is (crime / security reports).
- Language: the appeal's, Kazakh (the state language) when unknown — a rejection carries no
  language, so the non-consideration notice is in Kazakh. Staff get their directory
  language, else the appeal's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from contracts import (
    AppealAccepted,
    AppealAnswered,
    AppealDismissed,
    AppealRegistered,
    AppealRejected,
    AppealRouted,
    DeadlineExtended,
    DeadlineKind,
    Event,
    Language,
    RecipientRole,
    SlaBreached,
    SlaTimerStarted,
    SlaWarning,
)
from services.notify.templates import (
    DEADLINE_WORDS,
    DISMISSAL_WORDS,
    OUTCOME_WORDS,
    complain_to,
    feedback_sentence,
    local_time,
    lookup_sentence,
    moved_sentence,
)

CITIZEN, OFFICER, SUPERVISOR = (
    RecipientRole.CITIZEN,
    RecipientRole.OFFICER,
    RecipientRole.SUPERVISOR,
)


@dataclass(frozen=True)
class Rule:
    event_type: str
    role: RecipientRole
    template: str
    when: str = "always"
    """Name of a predicate in CONDITIONS that the event must satisfy."""
    mandatory: bool = True
    """A legal notice: never suppressed by an opt-out."""
    urgent: bool = False
    """Sent at once, quiet hours or not."""
    needs_appeal: bool = True
    """Needs notify's projection of the registered appeal (contacts, number, language)."""


RULES: tuple[Rule, ...] = (
    Rule("appeal.registered", CITIZEN, "appeal_registered"),
    Rule(
        "appeal.rejected",
        CITIZEN,
        "anonymous_not_considered",
        when="anonymous_not_considered",
        needs_appeal=False,
    ),
    Rule("appeal.routed", CITIZEN, "appeal_forwarded", when="forwarded"),
    Rule("appeal.routed", OFFICER, "new_assignment", needs_appeal=False),
    Rule("appeal.dismissed", CITIZEN, "appeal_dismissed"),
    Rule("agency.accepted", CITIZEN, "appeal_accepted", mandatory=False),
    Rule("agency.extended", CITIZEN, "deadline_extended"),
    Rule("agency.answered", CITIZEN, "appeal_answered"),
    Rule("sla.warning", OFFICER, "sla_warning"),
    Rule("sla.breached", SUPERVISOR, "sla_breached", urgent=True),
    Rule("sla.breached", CITIZEN, "answer_deadline_passed", when="answer_deadline"),
    Rule("sla.started", CITIZEN, "answer_date_moved", when="answer_date_moved"),
)

CONDITIONS: dict[str, Callable[[Any], bool]] = {
    "always": lambda event: True,
    "forwarded": lambda event: bool(event.forwarded),
    "answer_deadline": lambda event: event.deadline_kind is DeadlineKind.ANSWER,
    "answer_date_moved": lambda event: answer_date_moved(event),  # defined below
    "anonymous_not_considered": lambda event: (
        event.reason_code == "anonymous_not_considered" and event.applicant_contact is not None
    ),
}


def answer_date_moved(event: Event) -> bool:
    """An `sla.started` of a re-planned answer deadline (the calendar moved it)."""
    return (
        isinstance(event, SlaTimerStarted)
        and event.previous_due_at is not None
        and event.deadline_kind is DeadlineKind.ANSWER
    )


def rules_for(event: Event) -> list[Rule]:
    """The rules the event triggers, in table order."""
    return [r for r in RULES if r.event_type == event.event_type and CONDITIONS[r.when](event)]


@dataclass(frozen=True)
class AppealView:
    """What notify remembers of a registered appeal (its own projection)."""

    appeal_id: str
    registration_number: str
    language: Language
    urgent: bool
    answer_due_at: datetime
    phone: str | None = None
    email: str | None = None
    iin: str | None = None
    name: str | None = None

    @classmethod
    def from_registered(cls, event: AppealRegistered) -> AppealView:
        return cls(
            appeal_id=event.appeal_id,
            registration_number=event.registration_number,
            language=event.language or Language.KK,
            urgent=event.urgent,
            answer_due_at=event.answer_due_at,
            phone=event.applicant.phone,
            email=event.applicant.email,
            iin=event.applicant.iin,
            name=event.applicant.name,
        )


def staff_codes(rule: Rule, event: Any) -> list[str]:
    """Agency codes whose officer or supervisor the rule addresses."""
    if rule.role is SUPERVISOR:
        return list(dict.fromkeys(getattr(event, "escalate_to", None) or [event.agency_code]))
    return [event.agency_code]


AgencyName = Callable[[str, Language], str]
SupervisorOf = Callable[[str], str | None]


def template_variables(
    template: str,
    event: Any,
    appeal: AppealView | None,
    language: Language,
    name: AgencyName,
    tz: tzinfo,
    supervisor_of: SupervisorOf = lambda _: None,
) -> dict[str, str]:
    """The values a template needs, from the event and (when needed) the appeal projection;
    moments are shown as local time in `tz` (the service's time zone)."""
    number = appeal.registration_number if appeal else getattr(event, "registration_number", "")
    match template:
        case "appeal_registered":
            assert isinstance(event, AppealRegistered)
            return {
                "registration_number": event.registration_number,
                "registered_at": local_time(event.registered_at, tz),
                "answer_due_at": local_time(event.answer_due_at, tz),
                # Only the applicant gets this notice, so only the applicant gets the code.
                "lookup": lookup_sentence(event.lookup_code, language),
            }
        case "anonymous_not_considered":
            assert isinstance(event, AppealRejected)
            return {"channel_appeal_id": event.channel_appeal_id}
        case "appeal_forwarded":
            assert isinstance(event, AppealRouted)
            return {
                "registration_number": event.registration_number,
                "forwarded_at": local_time(event.occurred_at, tz),
                "agency_name": name(event.agency_code, language),
            }
        case "appeal_dismissed":
            assert isinstance(event, AppealDismissed)
            note = event.note.strip()
            return {
                "registration_number": number,
                "reason": DISMISSAL_WORDS[event.reason_code][language],
                "note": note if note.endswith((".", "!", "?")) or not note else f"{note}.",
            }
        case "new_assignment":
            assert isinstance(event, AppealRouted)
            return {
                "registration_number": event.registration_number,
                "agency_name": name(event.agency_code, language),
                "answer_due_at": local_time(event.answer_due_at, tz),
            }
        case "appeal_accepted":
            assert isinstance(event, AppealAccepted) and appeal is not None
            return {
                "registration_number": number,
                "agency_name": name(event.agency_code, language),
                "answer_due_at": local_time(appeal.answer_due_at, tz),
            }
        case "deadline_extended":
            assert isinstance(event, DeadlineExtended)
            return {
                "registration_number": number,
                "new_due_at": local_time(event.new_due_at, tz),
                "moved": moved_sentence(event.moved_from_day_off, language),
                "reason": event.reason.rstrip("."),
                "decision_ref": event.decision_ref,
            }
        case "appeal_answered":
            assert isinstance(event, AppealAnswered)
            above = supervisor_of(event.agency_code)
            return {
                "registration_number": number,
                "outcome": OUTCOME_WORDS[event.outcome][language],
                "how_to_obtain": event.how_to_obtain,
                "feedback": feedback_sentence(
                    number, name(above, language) if above else None, language
                ),
            }
        case "sla_warning":
            assert isinstance(event, SlaWarning)
            return {
                "registration_number": number,
                "deadline_kind": DEADLINE_WORDS[event.deadline_kind][language],
                "due_at": local_time(event.due_at, tz),
                "working_days_left": str(event.working_days_left),
            }
        case "sla_breached":
            assert isinstance(event, SlaBreached)
            return {
                "registration_number": number,
                "deadline_kind": DEADLINE_WORDS[event.deadline_kind][language],
                "due_at": local_time(event.due_at, tz),
                "agency_name": name(event.agency_code, language),
            }
        case "answer_date_moved":
            assert isinstance(event, SlaTimerStarted) and event.previous_due_at is not None
            return {
                "registration_number": number,
                "previous_due_at": local_time(event.previous_due_at, tz),
                "due_at": local_time(event.due_at, tz),
            }
        case "answer_deadline_passed":
            assert isinstance(event, SlaBreached)
            above = supervisor_of(event.agency_code)
            return {
                "registration_number": number,
                "due_at": local_time(event.due_at, tz),
                "agency_name": name(event.agency_code, language),
                "complain_to": complain_to(name(above, language) if above else None, language),
            }
    raise KeyError(f"no variables known for template {template!r}")
