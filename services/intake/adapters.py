"""Channel formats → one canonical draft. Pure functions: a channel model in, an
`AppealDraft` or a list of FieldErrors out. Field paths in errors use the channel's own names,
so the channel can find the field it sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts import (
    CALL1414_KIND_MAP,
    AppealKind,
    Applicant,
    Call1414Appeal,
    Category,
    Channel,
    FieldError,
    GeoPoint,
    Language,
)
from services.intake.validation import Problems

# Anonymous appeals are not considered (APC RK), except reports of a crime or of a threat to
# state or public security, which go to the competent body at once.
URGENT_ANONYMOUS_CATEGORIES = frozenset({Category.POLICE, Category.CORRUPTION})


@dataclass(frozen=True)
class AppealDraft:
    """A validated appeal in canonical terms, before it has a number and a registration time."""

    channel: Channel
    channel_appeal_id: str
    received_at: datetime
    kind: AppealKind
    language: Language
    category: Category
    region_kato: str | None
    address: str | None
    location: GeoPoint | None
    subject: str | None
    text: str
    applicant: Applicant
    addressed_to: str | None

    @property
    def urgent(self) -> bool:
        return self.applicant.anonymous and self.category in URGENT_ANONYMOUS_CATEGORIES


@dataclass(frozen=True)
class Rejection:
    channel: Channel
    channel_appeal_id: str
    reason_code: str
    errors: list[FieldError]
    applicant_contact: Applicant | None


def adapt_1414(call: Call1414Appeal, now: datetime) -> AppealDraft | Rejection:
    problems = Problems()
    received_at = problems.check_timestamp("call_started_at", call.call_started_at, now)
    language = problems.check_language("lang", call.lang)
    category = problems.check_category("topic_code", call.topic_code)
    kato = problems.check_kato("kato_code", call.kato_code)
    problems.check_text("summary", call.summary)
    phone = problems.check_phone("caller.phone", call.caller.phone)
    if not call.is_anonymous:
        problems.check_iin("caller.iin", call.caller.iin)
    name = " ".join(
        part
        for part in (call.caller.last_name, call.caller.first_name, call.caller.middle_name)
        if part
    )
    applicant = Applicant(
        iin=None if call.is_anonymous else call.caller.iin,
        name=None if call.is_anonymous else name or None,
        phone=phone,
        email=None,
        anonymous=call.is_anonymous,
    )
    if problems.errors:
        return Rejection(
            Channel.CALL_1414, call.call_id, "validation_failed", problems.errors, applicant
        )
    assert received_at and language and category  # guaranteed when no errors were recorded
    draft = AppealDraft(
        channel=Channel.CALL_1414,
        channel_appeal_id=call.call_id,
        received_at=received_at,
        kind=CALL1414_KIND_MAP[call.appeal_type],
        language=language,
        category=category,
        region_kato=kato,
        address=call.address,
        location=None,
        subject=None,
        text=call.summary.strip(),
        applicant=applicant,
        addressed_to=None,
    )
    return reject_if_anonymous(draft)


def reject_if_anonymous(draft: AppealDraft) -> AppealDraft | Rejection:
    if not draft.applicant.anonymous or draft.urgent:
        return draft
    return Rejection(
        channel=draft.channel,
        channel_appeal_id=draft.channel_appeal_id,
        reason_code="anonymous_not_considered",
        errors=[
            FieldError(
                field="is_anonymous",
                code="anonymous_not_considered",
                message="anonymous appeals are not considered, except reports of a crime "
                "or of a threat to state or public security",
            )
        ],
        applicant_contact=draft.applicant if draft.applicant.phone else None,
    )
