"""An officer's forms made into the body's decisions (pure): the same events an agency's own
system publishes on `agency.<code>.actions.v1`, which routing checks and passes on; and a
triage operator's form made into `triage.decided` (a body, or a dismissal with its ground).

Every form carries a nonce (made with the page): the decision's event id and action id come
from the appeal, the kind of decision and that nonce — a double click or a resubmitted form
is the same decision (routing keeps its first verdict under that id), never a second one.

Validation here is the form's (which field, why, in the officer's language); the services
check again (sla refuses an extension beyond two months from receipt; routing refuses a
decision of a body that does not hold the appeal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from contracts import (
    AnswerOutcome,
    AppealAccepted,
    AppealAnswered,
    AppealRedirected,
    DeadlineExtended,
    DismissalReason,
    TriageDecided,
    deterministic_id,
)
from reference.agencies import AgencyRegistry
from reference.calendar import WorkingCalendar
from reference.statute import extension_cap
from services.workspace.views import AppealView

Decision = AppealAccepted | DeadlineExtended | AppealAnswered | AppealRedirected
MAX_TEXT = 5000


@dataclass(frozen=True)
class Officer:
    username: str
    agency_code: str


class FormErrors(Exception):
    """Field → (label key, values for it): shown beside the field in the officer's language."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, str]]]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors

    def worded(self, labels: dict[str, str]) -> dict[str, str]:
        """Field → the reason, in the language of `labels`."""
        return {field: labels[key].format(**values) for field, (key, values) in self.errors.items()}


def _envelope(view: AppealView, officer: Officer, kind: str, nonce: str, now: datetime) -> dict:
    return {
        "event_id": deterministic_id("workspace", view.appeal_id, kind, nonce),
        "appeal_id": view.appeal_id,
        "occurred_at": now,
        "correlation_id": view.appeal_id,
        "causation_id": None,
        "action_id": f"{officer.agency_code}/workspace/{kind}/{nonce}",
        "agency_code": officer.agency_code,
        "officer": officer.username,
    }


def _text(form: dict[str, str], name: str, errors: dict) -> str:
    value = (form.get(name) or "").strip()
    if not value or len(value) > MAX_TEXT:
        errors[name] = ("field_required", {})
    return value


def accept(view: AppealView, officer: Officer, nonce: str, now: datetime) -> AppealAccepted:
    return AppealAccepted(**_envelope(view, officer, "accepted", nonce, now))


def extend(
    view: AppealView,
    officer: Officer,
    form: dict[str, str],
    nonce: str,
    now: datetime,
    calendar: WorkingCalendar,
) -> DeadlineExtended:
    """A new answer date, at the end of work that day; within two calendar months of
    receipt (Art. 76 (2)) and later than the deadline in force."""
    errors: dict[str, tuple[str, dict[str, str]]] = {}
    reason = _text(form, "reason", errors)
    try:
        day = date.fromisoformat((form.get("new_due") or "").strip())
    except ValueError:
        errors["new_due"] = ("date_invalid", {})
        raise FormErrors(errors) from None
    assert view.received_at is not None
    cap = extension_cap(calendar, datetime.fromisoformat(view.received_at))
    due = view.state()["answer_due_at"]
    if day > cap:
        errors["new_due"] = ("beyond_cap", {"cap": cap.strftime("%d.%m.%Y")})
    elif due and day <= datetime.fromisoformat(due).astimezone(calendar.tz).date():
        shown = datetime.fromisoformat(due).astimezone(calendar.tz).strftime("%d.%m.%Y")
        errors["new_due"] = ("not_later", {"due": shown})
    if errors:
        raise FormErrors(errors)
    new_due = datetime.combine(day, calendar.work_end, tzinfo=calendar.tz)
    return DeadlineExtended(
        **_envelope(view, officer, "extended", nonce, now),
        new_due_at=new_due,
        reason=reason,
        decision_ref=f"{officer.agency_code}/{view.registration_number}/{nonce[:8]}",
    )


def answer_fields(form: dict[str, str]) -> tuple[AnswerOutcome, str, str]:
    """(outcome, summary, how to obtain) of an answer form — one appeal's or an incident's."""
    errors: dict[str, tuple[str, dict[str, str]]] = {}
    summary = _text(form, "summary", errors)
    how = _text(form, "how_to_obtain", errors)
    try:
        outcome = AnswerOutcome(form.get("outcome") or "")
    except ValueError:
        errors["outcome"] = ("field_required", {})
    if errors:
        raise FormErrors(errors)
    return outcome, summary, how


def answer(
    view: AppealView, officer: Officer, form: dict[str, str], nonce: str, now: datetime
) -> AppealAnswered:
    outcome, summary, how = answer_fields(form)
    return AppealAnswered(
        **_envelope(view, officer, "answered", nonce, now),
        outcome=outcome,
        summary=summary,
        how_to_obtain=how,
    )


def redirect(
    view: AppealView,
    officer: Officer,
    form: dict[str, str],
    nonce: str,
    now: datetime,
    registry: AgencyRegistry,
) -> AppealRedirected:
    errors: dict[str, tuple[str, dict[str, str]]] = {}
    reason = _text(form, "reason", errors)
    target = (form.get("to_body") or "").strip()
    if target not in registry.by_code or target == officer.agency_code:
        errors["to_body"] = ("unknown_body", {})
    if errors:
        raise FormErrors(errors)
    return AppealRedirected(
        **_envelope(view, officer, "redirected", nonce, now),
        reason=reason,
        suggested_agency_code=target,
    )


def triage(
    view: AppealView,
    triage_event_id: str,
    operator: str,
    form: dict[str, str],
    nonce: str,
    now: datetime,
    registry: AgencyRegistry,
) -> TriageDecided:
    """The operator's decision: `choice` `route` names a body of the registry
    (`agency_code`), `dismiss` a ground (`dismissal`); the note is required either way —
    it is routing's reason, or what the citizen is told."""
    errors: dict[str, tuple[str, dict[str, str]]] = {}
    note = _text(form, "note", errors)
    choice = form.get("choice") or "route"
    body: str | None = None
    dismissal: DismissalReason | None = None
    if choice == "dismiss":
        try:
            dismissal = DismissalReason(form.get("dismissal") or "")
        except ValueError:
            errors["dismissal"] = ("dismissal_required", {})
    elif choice == "route":
        body = (form.get("agency_code") or "").strip()
        if body not in registry.by_code:
            errors["agency_code"] = ("unknown_body", {})
    else:
        errors["choice"] = ("field_required", {})
    if errors:
        raise FormErrors(errors)
    return TriageDecided(
        event_id=deterministic_id("workspace.triage", view.appeal_id, nonce),
        appeal_id=view.appeal_id,
        occurred_at=now,
        correlation_id=view.appeal_id,
        causation_id=triage_event_id,
        triage_event_id=triage_event_id,
        decision_id=f"workspace/{nonce}",
        operator=operator,
        agency_code=body,
        dismissal=dismissal,
        category=None,
        note=note,
    )
