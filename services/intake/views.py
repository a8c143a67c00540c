"""What intake's own HTTP routes answer, as the models the handlers serialise through (and
the OpenAPI document describes): the gateway's registration and refusal, and an appeal's
status — in full for an operator, the public view (lookup.py) for a holder of the code.

Times are ISO-8601 with their offset. A timeline entry carries the fields its event type
shows (timeline.py `_SHOWN`), nothing else: the models forbid extra fields, so a field
added there and not here fails the answer (a 500 the status tests and schemathesis see).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import AnswerOutcome, DeadlineKind, DismissalReason, FieldError, Language, Rating


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GatewayRegistration(_View):
    """The gateway's answer to an appeal it registered (201), or had already (200)."""

    registration_number: str
    appeal_id: str
    channel_appeal_id: str
    status: Literal["registered"]
    received_at: AwareDatetime
    registered_at: AwareDatetime
    answer_due_at: AwareDatetime
    urgent: bool
    repeat_of: str | None
    lookup_code: str | None = Field(
        description="For the applicant: with the number, it opens the status lookup."
    )


class GatewayRefusal(_View):
    """An appeal that is not the format, or breaks the rules: every reason at once (422)."""

    reason_code: str
    errors: list[FieldError]
    appeal_id: str | None = None


class PublicTimelineEntry(_View):
    """One step of an appeal, as anyone holding its code may see it."""

    event_id: str
    event_type: str
    occurred_at: AwareDatetime
    agency_code: str | None = None
    rule_id: str | None = None
    forwarded: bool | None = None
    hop: int | None = None
    forward_due_at: AwareDatetime | None = None
    answer_due_at: AwareDatetime | None = None
    suggested_agency_code: str | None = None
    new_due_at: AwareDatetime | None = None
    proposed_due_at: AwareDatetime | None = Field(
        default=None, description="An extension's deadline as the body proposed it."
    )
    moved_from_day_off: date | None = Field(
        default=None, description="The proposed day, a day off: the term ends on the next."
    )
    outcome: AnswerOutcome | None = None
    deadline_kind: DeadlineKind | None = None
    due_at: AwareDatetime | None = None
    working_days_left: int | None = None
    breached_at: AwareDatetime | None = None
    on_time: bool | None = None
    requested_due_at: AwareDatetime | None = None
    provisional_calendar: bool | None = None
    previous_due_at: AwareDatetime | None = Field(
        default=None, description="The deadline before a calendar change moved it."
    )
    moved_because: str | None = None
    answer_event_id: str | None = None
    rating: Rating | None = Field(default=None, description="The citizen's rating of the answer.")
    via: str | None = None
    contest_appeal_id: str | None = Field(
        default=None, description="The repeat complaint contesting the answer, if any."
    )
    reason_code: DismissalReason | None = Field(
        default=None, description="Why the appeal was left without consideration."
    )


class TimelineEntry(PublicTimelineEntry):
    """One step, as an operator sees it: with the bodies' and operators' own words."""

    reason: str | None = None
    summary: str | None = None
    how_to_obtain: str | None = None
    note: str | None = Field(
        default=None, description="The triage operator's explanation of a dismissal."
    )


Status = Literal[
    "registered",
    "routed",
    "forwarded",
    "in_triage",
    "accepted",
    "redirected",
    "extended",
    "answered",
    "dismissed",
    "overdue",
]


class _StatusView(_View):
    registration_number: str
    status: Status
    current_body: str | None = Field(description="The code of the body that has it now.")
    answer_due_at: AwareDatetime
    forward_due_at: AwareDatetime | None
    deadline_breached: bool
    kind: str
    category: str
    language: str
    channel: str
    received_at: AwareDatetime
    registered_at: AwareDatetime
    deadline_provisional: bool = Field(
        description="The answer deadline reaches a year whose days off are not decreed yet: "
        "it may move when the decree is loaded (the citizen is told if it does)."
    )


class AppealStatus(_StatusView):
    """The full status, for an operator with `appeals:read`."""

    region_kato: str | None
    urgent: bool
    repeat_of: str | None
    timeline: list[TimelineEntry]


class PublicAppealStatus(_StatusView):
    """What a caller holding the lookup code sees (services/intake/lookup.py)."""

    district_kato: str | None = Field(description="The place, no finer than its district.")
    timeline: list[PublicTimelineEntry]


class ContestRequest(_View):
    """The citizen's complaint about the answer: registered as a repeat complaint to the
    body that supervises the one that answered."""

    text: str = Field(min_length=1, max_length=5000, description="What is wrong with the answer.")
    language: Language | None = Field(
        default=None, description="The complaint's language (default: the appeal's)."
    )


class FeedbackRequest(_View):
    """What the gateway sends for a citizen who rates (and may contest) an answer."""

    lookup_code: str = Field(
        pattern=r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$",
        description="The code from the registration notice: the citizen's proof.",
    )
    rating: Rating
    contest: ContestRequest | None = None


class SmsReply(_View):
    """A reply to a notice, as the SMS operator forwards it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sender: str = Field(alias="from", description="The phone that replied, +7XXXXXXXXXX.")
    text: str = Field(max_length=5100, description="`<number> 1`, `<number> 2 [complaint]`.")


class ContestReceipt(_View):
    registration_number: str
    appeal_id: str
    lookup_code: str | None
    answer_due_at: AwareDatetime
    supervising_body: str = Field(description="The body that decides the complaint.")


class FeedbackReceipt(_View):
    """The rating as recorded (201 now, 200 before), and the repeat complaint if any."""

    registration_number: str
    rating: Rating
    via: str
    rated_at: AwareDatetime
    answered_by: str
    contest: ContestReceipt | None
