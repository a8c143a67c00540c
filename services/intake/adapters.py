"""Channel formats → one canonical draft. Pure functions: a channel model in, an
`AppealDraft` or a `Rejection` (a list of FieldErrors) out. Field paths in errors use the
channel's own names, so the channel can find the field it sent.

An adapter raises `Undecodable` only when the message has no usable id of its own (blank or
absurdly long): without it the appeal cannot be named, not even in a rejection, so it is not
the channel's format and goes to the dead-letter topic.

Decisions where the channels' formats are silent (DESIGN §3):
- iKomek 109 serves Astana only; its district is mapped onto the district's KATO code
  (`IKOMEK_DISTRICT_KATO`), its category onto the national classifier
  (`IKOMEK_CATEGORY_MAP`), its location onto address + `GeoPoint`. Every iKomek ticket is a
  report of a problem with a city service that affects the citizen, so its kind is
  `complaint` (APC: a complaint is about a violation of rights or legitimate interests). iKomek
  has no anonymity flag: a ticket whose citizen gave no name and no IIN is anonymous. A
  location out of WGS-84 range is refused; a valid point outside Astana is kept as sent.
- e-Otinish appeals are signed with EDS, so they are never anonymous and the IIN is
  required; `addressed_to` is kept for routing (intake checks only its form, routing owns the
  registry). e-Otinish sends no category: the appeal is `other` and routing decides by the
  addressed body.
- HTTP gateway: the channel is the API key's client (e.g. `reception`); its id is namespaced
  as `<client>:<channel_appeal_id>`, so two gateway clients can never collide.
- Anonymous appeals are not considered, except reports of a crime or of a threat to state or
  public security (categories `police`, `corruption`), which are registered as urgent.
- Anonymous as the channels really send it: a 1414 call with no `caller` at all (or null),
  an iKomek ticket with no `citizen`, a gateway appeal with no `applicant` — each is an
  anonymous appeal for the rule above (a refusal with its reason, or urgent registration),
  never a message that is "not the format" for the dead-letter topic. A 1414 caller that is
  there but nameless on a call not flagged anonymous is a validation error naming
  `caller.last_name`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from contracts import (
    CALL1414_KIND_MAP,
    IKOMEK_CATEGORY_MAP,
    IKOMEK_DISTRICT_KATO,
    AppealKind,
    Applicant,
    Call1414Appeal,
    Call1414Caller,
    Category,
    Channel,
    ContestedAnswer,
    EOtinishAppeal,
    FieldError,
    GeoPoint,
    HttpApplicant,
    HttpGatewayAppeal,
    IKomek109Appeal,
    IKomekCitizen,
    Language,
)
from reference.calendar import DEFAULT_TIME_ZONE
from services.common.messaging import Undecodable
from services.intake.open311.documents import Open311Post
from services.intake.validation import ADDRESS_MAX_CHARS, SUBJECT_MAX_CHARS, Problems

# Anonymous appeals are not considered (APC RK), except reports of a crime or of a threat to
# state or public security, which go to the competent body at once.
URGENT_ANONYMOUS_CATEGORIES = frozenset({Category.POLICE, Category.CORRUPTION})

# Every iKomek category is a problem with a city service: a complaint.
IKOMEK_KIND = AppealKind.COMPLAINT

# The zone an Open311 form's day is counted in unless the service says (TYNDAU_TIME_ZONE).
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIME_ZONE)

# A channel's own id becomes part of ids, keys and numbers; beyond this it is not an id.
CHANNEL_ID_MAX_CHARS = 128


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
    # A repeat complaint against a body's answer (feedback.py), routed to its supervisor.
    contests: ContestedAnswer | None = None

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
    # What could be read despite the errors, for metrics by kind and region only.
    kind: AppealKind | None = None
    region_kato: str | None = None


def channel_id(raw: str, field: str) -> str:
    """The channel's own id of the appeal, or Undecodable when it cannot be one."""
    value = raw.strip()
    if not value or len(value) > CHANNEL_ID_MAX_CHARS or not value.isprintable():
        raise Undecodable(
            f"{field}: the channel's id must be 1-{CHANNEL_ID_MAX_CHARS} printable characters"
        )
    return value


def adapt_1414(
    call: Call1414Appeal, now: datetime, earliest: datetime | None = None
) -> AppealDraft | Rejection:
    call_id = channel_id(call.call_id, "call_id")
    problems = Problems()
    received_at = problems.check_timestamp("call_started_at", call.call_started_at, now, earliest)
    language = problems.check_language("lang", call.lang)
    category = problems.check_category("topic_code", call.topic_code)
    kato = problems.check_kato("kato_code", call.kato_code)
    address = problems.check_optional_text("address", call.address, ADDRESS_MAX_CHARS)
    problems.check_text("summary", call.summary)
    caller = call.caller or Call1414Caller()
    phone = problems.check_phone("caller.phone", caller.phone)
    # A call with no caller data at all is anonymous, flag or not (1414 sends it so).
    anonymous = call.is_anonymous or call.caller is None
    name = None
    if not anonymous:
        problems.check_iin("caller.iin", caller.iin)
        parts = (caller.last_name, caller.first_name, caller.middle_name)
        name = problems.check_name(
            "caller.last_name", " ".join(part for part in parts if part), required=True
        )
    applicant = Applicant(
        iin=None if anonymous else caller.iin,
        name=name,
        phone=phone,
        email=None,
        anonymous=anonymous,
    )
    kind = CALL1414_KIND_MAP[call.appeal_type]
    if problems.errors:
        return _invalid(Channel.CALL_1414, call_id, problems, applicant, kind, kato)
    assert received_at and language and category  # guaranteed when no errors were recorded
    return reject_if_anonymous(
        AppealDraft(
            channel=Channel.CALL_1414,
            channel_appeal_id=call_id,
            received_at=received_at,
            kind=kind,
            language=language,
            category=category,
            region_kato=kato,
            address=address,
            location=None,
            subject=None,
            text=call.summary.strip(),
            applicant=applicant,
            addressed_to=None,
        ),
        anonymous_field="is_anonymous",
    )


def adapt_ikomek109(
    ticket: IKomek109Appeal, now: datetime, earliest: datetime | None = None
) -> AppealDraft | Rejection:
    ticket_no = channel_id(ticket.ticket_no, "ticket_no")
    problems = Problems()
    received_at = problems.check_timestamp("created", ticket.created, now, earliest)
    language = problems.check_language("language", ticket.language)
    category = IKOMEK_CATEGORY_MAP.get(ticket.category)
    if category is None:
        problems.add(
            "category",
            "category_unknown",
            "iKomek category must be one of " + ", ".join(IKOMEK_CATEGORY_MAP),
        )
    kato = IKOMEK_DISTRICT_KATO.get(ticket.district)
    if kato is None:
        problems.add(
            "district",
            "district_unknown",
            "district must be one of the Astana districts " + ", ".join(IKOMEK_DISTRICT_KATO),
        )
    point = problems.check_coordinates("location", ticket.location.lat, ticket.location.lon)
    address = problems.check_optional_text(
        "location.address", ticket.location.address, ADDRESS_MAX_CHARS
    )
    problems.check_text("message", ticket.message)
    citizen = ticket.citizen or IKomekCitizen()  # none at all: an anonymous message
    phone = problems.check_phone("citizen.phone", citizen.phone)
    iin = citizen.iin or None  # iKomek sends "" when the citizen gave none
    problems.check_iin("citizen.iin", iin)
    name = problems.check_name("citizen.name", citizen.name, required=False)
    anonymous = name is None and iin is None
    applicant = Applicant(iin=iin, name=name, phone=phone, email=None, anonymous=anonymous)
    if problems.errors:
        return _invalid(Channel.IKOMEK109, ticket_no, problems, applicant, IKOMEK_KIND, kato)
    assert received_at and language and category and point
    return reject_if_anonymous(
        AppealDraft(
            channel=Channel.IKOMEK109,
            channel_appeal_id=ticket_no,
            received_at=received_at,
            kind=IKOMEK_KIND,
            language=language,
            category=category,
            region_kato=kato,
            address=address,
            location=GeoPoint(lat=point[0], lon=point[1]),
            subject=None,
            text=ticket.message.strip(),
            applicant=applicant,
            addressed_to=None,
        ),
        anonymous_field="citizen.name",
    )


def adapt_eotinish(
    appeal: EOtinishAppeal, now: datetime, earliest: datetime | None = None
) -> AppealDraft | Rejection:
    otinish_id = channel_id(appeal.otinish_id, "otinish_id")
    problems = Problems()
    received_at = problems.check_timestamp("submitted_at", appeal.submitted_at, now, earliest)
    language = problems.check_language("language", appeal.language)
    kind = problems.check_kind("kind", appeal.kind)
    kato = problems.check_kato("region_kato", appeal.region_kato)
    addressed_to = problems.check_agency_code("addressed_to", appeal.addressed_to, required=True)
    subject = problems.check_optional_text("subject", appeal.subject, SUBJECT_MAX_CHARS)
    problems.check_text("body", appeal.body)
    # The IIN comes from the EDS signature: e-Otinish appeals always name their applicant.
    if appeal.applicant_iin:
        problems.check_iin("applicant_iin", appeal.applicant_iin)
    else:
        problems.add("applicant_iin", "required", "the signer's IIN is required")
    name = problems.check_name("applicant_name", appeal.applicant_name, required=True)
    phone = problems.check_phone("contacts.phone", appeal.contacts.phone)
    email = problems.check_email("contacts.email", appeal.contacts.email)
    applicant = Applicant(
        iin=appeal.applicant_iin or None, name=name, phone=phone, email=email, anonymous=False
    )
    if problems.errors:
        return _invalid(Channel.EOTINISH, otinish_id, problems, applicant, kind, kato)
    assert received_at and language and kind
    return AppealDraft(
        channel=Channel.EOTINISH,
        channel_appeal_id=otinish_id,
        received_at=received_at,
        kind=kind,
        language=language,
        category=Category.OTHER,
        region_kato=kato,
        address=None,
        location=None,
        subject=subject,
        text=appeal.body.strip(),
        applicant=applicant,
        addressed_to=addressed_to,
    )


def adapt_http(
    appeal: HttpGatewayAppeal, client: str, now: datetime, earliest: datetime | None = None
) -> AppealDraft | Rejection:
    """`client` is the gateway channel the API key belongs to (e.g. `reception`)."""
    appeal_id = f"{client}:{channel_id(appeal.channel_appeal_id, 'channel_appeal_id')}"
    problems = Problems()
    received_at = problems.check_timestamp("submitted_at", appeal.submitted_at, now, earliest)
    kind = problems.check_kind("kind", appeal.kind)
    language = problems.check_language("language", appeal.language)
    category = problems.check_category("category", appeal.category)
    kato = problems.check_kato("region_kato", appeal.region_kato)
    address = problems.check_optional_text("address", appeal.address, ADDRESS_MAX_CHARS)
    subject = problems.check_optional_text("subject", appeal.subject, SUBJECT_MAX_CHARS)
    addressed_to = problems.check_agency_code("addressed_to", appeal.addressed_to)
    problems.check_text("text", appeal.text)
    # No applicant at all is an anonymous appeal, flag or not.
    person = appeal.applicant or HttpApplicant(anonymous=True)
    anonymous = person.anonymous
    phone = problems.check_phone("applicant.phone", person.phone)
    email = problems.check_email("applicant.email", person.email)
    name = None
    if not anonymous:
        problems.check_iin("applicant.iin", person.iin or None)
        name = problems.check_name("applicant.name", person.name, required=True)
    applicant = Applicant(
        iin=None if anonymous else (person.iin or None),
        name=name,
        phone=phone,
        email=email,
        anonymous=anonymous,
    )
    if problems.errors:
        return _invalid(Channel.HTTP, appeal_id, problems, applicant, kind, kato)
    assert received_at and kind and language and category
    return reject_if_anonymous(
        AppealDraft(
            channel=Channel.HTTP,
            channel_appeal_id=appeal_id,
            received_at=received_at,
            kind=kind,
            language=language,
            category=category,
            region_kato=kato,
            address=address,
            location=None,
            subject=subject,
            text=appeal.text.strip(),
            applicant=applicant,
            addressed_to=addressed_to,
        ),
        anonymous_field="applicant.anonymous",
    )


def adapt_open311(
    post: Open311Post,
    client: str,
    region_kato: str,
    language: Language,
    now: datetime,
    tz: tzinfo = DEFAULT_ZONE,
) -> AppealDraft | Rejection:
    """An Open311 `POST requests` of gateway client `client`, its place already resolved to
    `region_kato` (open311/gazetteer.py) and its language from the request's locale.

    Open311 carries no id of the client's own, so the appeal's channel id is a digest of
    the client, every field it sent and the day (in `tz`, the services' zone): the same form
    posted again that day (a client retrying after a timeout) is the same appeal and answers
    the same number; the same complaint a month later is a new appeal. It carries no submission
    time either: the appeal is received when it arrives. `first_name` + `last_name` are the
    applicant's name; none at all makes the appeal anonymous (refused, except reports of a
    crime or a threat to security). `media_url` is not kept: the backbone stores no media."""
    digest = hashlib.sha256(
        json.dumps(
            [client, post.model_dump(), now.astimezone(tz).date().isoformat()],
            sort_keys=True,
            ensure_ascii=False,
        ).encode()
    ).hexdigest()[:32]
    appeal_id = f"{client}:{digest}"
    problems = Problems()
    kind = problems.check_kind("attribute[kind]", post.attributes.get("kind", ""))
    category = problems.check_category("service_code", post.service_code)
    kato = problems.check_kato("address_id", region_kato)
    address = problems.check_optional_text("address_string", post.address_string, ADDRESS_MAX_CHARS)
    problems.check_text("description", post.description or "")
    phone = problems.check_phone("phone", post.phone)
    email = problems.check_email("email", post.email)
    full_name = " ".join(p for p in (post.first_name, post.last_name) if p) or None
    anonymous = full_name is None
    iin = post.attributes.get("iin") or None
    name = None
    if not anonymous:
        problems.check_iin("attribute[iin]", iin)
        name = problems.check_name("last_name", full_name, required=True)
    applicant = Applicant(
        iin=None if anonymous else iin, name=name, phone=phone, email=email, anonymous=anonymous
    )
    location = None
    if post.lat is not None and post.long is not None:
        try:
            point = problems.check_coordinates("lat", float(post.lat), float(post.long))
        except ValueError:
            problems.add("lat", "coordinates_format", "lat and long are decimal degrees")
            point = None
        location = GeoPoint(lat=point[0], lon=point[1]) if point else None
    if problems.errors:
        return _invalid(Channel.OPEN311, appeal_id, problems, applicant, kind, kato)
    assert kind and category
    return reject_if_anonymous(
        AppealDraft(
            channel=Channel.OPEN311,
            channel_appeal_id=appeal_id,
            received_at=now,
            kind=kind,
            language=language,
            category=category,
            region_kato=kato,
            address=address,
            location=location,
            subject=None,
            text=(post.description or "").strip(),
            applicant=applicant,
            addressed_to=None,
        ),
        anonymous_field="last_name",
    )


def _invalid(
    channel: Channel,
    appeal_id: str,
    problems: Problems,
    applicant: Applicant,
    kind: AppealKind | None,
    kato: str | None,
) -> Rejection:
    return Rejection(
        channel=channel,
        channel_appeal_id=appeal_id,
        reason_code="validation_failed",
        errors=problems.errors,
        applicant_contact=applicant,
        kind=kind,
        region_kato=kato,
    )


def reject_if_anonymous(
    draft: AppealDraft, anonymous_field: str = "is_anonymous"
) -> AppealDraft | Rejection:
    if not draft.applicant.anonymous or draft.urgent:
        return draft
    return Rejection(
        channel=draft.channel,
        channel_appeal_id=draft.channel_appeal_id,
        reason_code="anonymous_not_considered",
        errors=[
            FieldError(
                field=anonymous_field,
                code="anonymous_not_considered",
                message="anonymous appeals are not considered, except reports of a crime "
                "or of a threat to state or public security",
            )
        ],
        applicant_contact=draft.applicant if draft.applicant.phone else None,
        kind=draft.kind,
        region_kato=draft.region_kato,
    )
