"""Native formats of the channels that feed intake (DESIGN §3).

Owns: the shape of what each channel publishes, with field names exactly as the channel
sends them. These models check STRUCTURE only — required keys present, JSON types right,
unknown keys ignored. Business rules (IIN check digit, phone form, KATO code, language,
category codes, timestamps) are deliberately plain `str`: intake checks them itself and
reports each violation as a `FieldError`, so a well-formed message with a bad IIN becomes an
`AppealRejected`, while bytes that fail these models are not the format at all and go to the
dead-letter topic. Nullable fields may also be omitted; a missing key reads as null.
Only the 1414 `appeal_type` and the iKomek `source` are enums: an unknown value there means
the producer is not speaking the format.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, Strict

from contracts.common import AppealKind, Documented, documented

JsonBool = Annotated[bool, Strict()]
JsonNumber = Annotated[float, Strict()]

_STRUCTURE_ONLY = {"frozen": True, "extra": "ignore"}


# --- Call centre 1414 -------------------------------------------------------------------


class Call1414AppealType(StrEnum):
    """1414's code for the kind of appeal (transliterated Russian names)."""

    ZAYAVLENIE = "ZAYAVLENIE"
    ZHALOBA = "ZHALOBA"
    PREDLOZHENIE = "PREDLOZHENIE"
    ZAPROS = "ZAPROS"
    OTKLIK = "OTKLIK"
    SOOBSHCHENIE = "SOOBSHCHENIE"


CALL1414_KIND_MAP: dict[Call1414AppealType, AppealKind] = {
    Call1414AppealType.ZAYAVLENIE: AppealKind.APPLICATION,
    Call1414AppealType.ZHALOBA: AppealKind.COMPLAINT,
    Call1414AppealType.PREDLOZHENIE: AppealKind.PROPOSAL,
    Call1414AppealType.ZAPROS: AppealKind.REQUEST,
    Call1414AppealType.OTKLIK: AppealKind.RESPONSE,
    Call1414AppealType.SOOBSHCHENIE: AppealKind.REPORT,
}


class Call1414Caller(Documented):
    """The caller as recorded by the 1414 operator."""

    model_config = documented(
        {
            "iin": "900101300017",
            "last_name": "Ахметов",
            "first_name": "Ерлан",
            "middle_name": "Серікұлы",
            "phone": "+77011234567",
        },
        **_STRUCTURE_ONLY,
    )

    iin: str | None = Field(default=None, description="Caller's IIN (12 digits), if given.")
    last_name: str | None = Field(
        default=None, description="Caller's last name (required unless the call is anonymous)."
    )
    first_name: str | None = Field(default=None, description="Caller's first name.")
    middle_name: str | None = Field(default=None, description="Caller's patronymic, if any.")
    phone: str | None = Field(
        default=None,
        description="Caller's phone number, expected as `+7` and 10 digits; absent when withheld.",
    )


class Call1414Appeal(Documented):
    """An appeal taken by phone at the 1414 call centre (topic `channel.1414.appeals.v1`)."""

    model_config = documented(
        {
            "call_id": "1414-20260305-0931-0457",
            "call_started_at": "2026-03-05T09:31:12+05:00",
            "operator_login": "op.zhanar.k",
            "caller": {
                "iin": "900101300017",
                "last_name": "Ахметов",
                "first_name": "Ерлан",
                "middle_name": "Серікұлы",
                "phone": "+77011234567",
            },
            "is_anonymous": False,
            "lang": "kk",
            "appeal_type": "ZHALOBA",
            "topic_code": "utilities.heating",
            "kato_code": "711210000",
            "address": "Астана, Алматы ауданы, Бауыржан Момышұлы даңғылы, 12, 45-пәтер",
            "summary": "Үш күннен бері пәтерде жылу жоқ, бөлме температурасы 14 градус.",
        },
        **_STRUCTURE_ONLY,
    )

    call_id: str = Field(description="1414's id of the call; the Kafka key of the message.")
    call_started_at: str = Field(description="Start of the call, ISO-8601 with an offset.")
    operator_login: str = Field(description="Login of the operator who took the call.")
    caller: Call1414Caller | None = Field(
        default=None,
        description="The caller; absent or null when an anonymous caller gave nothing.",
    )
    is_anonymous: JsonBool = Field(description="True when the caller declined to be identified.")
    lang: str = Field(description="Language of the call: `kk`, `ru` or `en`.")
    appeal_type: Call1414AppealType = Field(description="Kind of appeal, 1414 code.")
    topic_code: str = Field(
        description="National category code (a `Category` value), e.g. `utilities.heating`."
    )
    kato_code: str = Field(description="9-digit KATO code of the place the appeal concerns.")
    address: str | None = Field(default=None, description="Street address, if any.")
    summary: str = Field(description="Operator's summary of the appeal.")


# --- iKomek 109 (Astana) ----------------------------------------------------------------


class IKomekSource(StrEnum):
    """How the citizen reached iKomek 109."""

    PHONE = "phone"
    TELEGRAM = "telegram"
    APP = "app"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    EMAIL = "email"
    SITE = "site"


class IKomekLocation(Documented):
    """Where the problem is, as iKomek 109 records it."""

    model_config = documented(
        {
            "address": "Астана, Алматы ауданы, Тәуелсіздік даңғылы, 34",
            "lat": 51.128207,
            "lon": 71.430411,
        },
        **_STRUCTURE_ONLY,
    )

    address: str = Field(description="Street address.")
    lat: JsonNumber = Field(description="Latitude, decimal degrees (WGS-84).")
    lon: JsonNumber = Field(description="Longitude, decimal degrees (WGS-84).")


class IKomekCitizen(Documented):
    """The citizen who contacted iKomek 109."""

    model_config = documented(
        {"name": "Айгүл Нұрланқызы Сейтқали", "phone": "+77017654321", "iin": None},
        **_STRUCTURE_ONLY,
    )

    name: str | None = Field(default=None, description="Citizen's name as given, if any.")
    phone: str | None = Field(
        default=None, description="Citizen's phone number, expected as `+7` and 10 digits."
    )
    iin: str | None = Field(default=None, description="Citizen's IIN, if given.")


class IKomek109Appeal(Documented):
    """An appeal received by Astana's iKomek 109 centre (topic `channel.ikomek109.appeals.v1`).

    iKomek 109 serves Astana only; `district` names one of its six districts.
    """

    model_config = documented(
        {
            "ticket_no": "IK-2026-0305-004512",
            "created": "2026-03-05T10:02:45+05:00",
            "source": "telegram",
            "category": "HEATING",
            "district": "ALMATY",
            "location": {
                "address": "Астана, Алматы ауданы, Тәуелсіздік даңғылы, 34",
                "lat": 51.128207,
                "lon": 71.430411,
            },
            "citizen": {"name": "Айгүл Нұрланқызы Сейтқали", "phone": "+77017654321", "iin": None},
            "message": "В подъезде и квартирах холодные батареи уже третий день.",
            "language": "ru",
        },
        **_STRUCTURE_ONLY,
    )

    ticket_no: str = Field(description="iKomek's ticket number; the Kafka key of the message.")
    created: str = Field(description="When the ticket was created, ISO-8601 with an offset.")
    source: IKomekSource = Field(description="How the citizen reached iKomek 109.")
    category: str = Field(
        description="iKomek category code, e.g. `HEATING` (see `IKOMEK_CATEGORY_MAP`)."
    )
    district: str = Field(
        description="Astana district code, e.g. `ALMATY` (see `IKOMEK_DISTRICT_KATO`)."
    )
    location: IKomekLocation = Field(description="Where the problem is.")
    citizen: IKomekCitizen | None = Field(
        default=None,
        description="Who reported it; absent or null for an anonymous message (a Telegram "
        "or app report without contact data).",
    )
    message: str = Field(description="The citizen's message.")
    language: str = Field(description="Language of the message: `kk`, `ru` or `en`.")


# --- e-Otinish / eGov -------------------------------------------------------------------


class EOtinishContacts(Documented):
    """Contact details the applicant left on e-Otinish."""

    model_config = documented(
        {"phone": "+77051112233", "email": "d.zhaksybekova@example.kz"}, **_STRUCTURE_ONLY
    )

    phone: str | None = Field(default=None, description="Phone number, if given.")
    email: str | None = Field(default=None, description="E-mail address, if given.")


class EOtinishAppeal(Documented):
    """An appeal filed on e-Otinish / eGov and signed with EDS (topic
    `channel.eotinish.appeals.v1`)."""

    model_config = documented(
        {
            "otinish_id": "EO-2026-00417753",
            "submitted_at": "2026-03-05T11:15:03+05:00",
            "applicant_iin": "850712400003",
            "applicant_name": "Жақсыбекова Динара Маратқызы",
            "contacts": {"phone": "+77051112233", "email": "d.zhaksybekova@example.kz"},
            "addressed_to": "astana-education",
            "kind": "request",
            "language": "ru",
            "subject": "Очередь в детский сад",
            "body": "Прошу сообщить текущий номер моего ребёнка в очереди в детский сад "
            "района Есиль.",
            "region_kato": "711610000",
        },
        **_STRUCTURE_ONLY,
    )

    otinish_id: str = Field(description="e-Otinish id of the appeal; the Kafka key.")
    submitted_at: str = Field(description="When it was submitted, ISO-8601 with an offset.")
    applicant_iin: str = Field(description="Applicant's IIN, taken from the EDS signature.")
    applicant_name: str = Field(description="Applicant's full name.")
    contacts: EOtinishContacts = Field(description="How to reach the applicant.")
    addressed_to: str = Field(description="Agency code of the body the applicant chose.")
    kind: str = Field(
        description="Kind of appeal: application, complaint, proposal, request, response or report."
    )
    language: str = Field(description="Language of the appeal: `kk`, `ru` or `en`.")
    subject: str = Field(description="Subject line.")
    body: str = Field(description="Text of the appeal.")
    region_kato: str = Field(description="9-digit KATO code of the place it concerns.")


# --- HTTP gateway (POST /v1/appeals on intake) ------------------------------------------


class HttpApplicant(Documented):
    """The applicant as sent to intake's HTTP gateway."""

    model_config = documented(
        {
            "iin": "780215300007",
            "name": "Серіков Болат Қайратұлы",
            "phone": "+77471234567",
            "email": None,
            "anonymous": False,
        },
        **_STRUCTURE_ONLY,
    )

    iin: str | None = Field(default=None, description="IIN (12 digits), if known.")
    name: str | None = Field(default=None, description="Full name, if known.")
    phone: str | None = Field(default=None, description="Phone, expected as `+7` and 10 digits.")
    email: str | None = Field(default=None, description="E-mail address, if known.")
    anonymous: JsonBool = Field(
        default=False, description="True when the applicant chose not to be identified."
    )


class HttpGatewayAppeal(Documented):
    """Body of `POST /v1/appeals` on intake, for channels that cannot reach Kafka (the
    President's Virtual Reception, e-mail bridges, personal reception desks).

    The channel itself is identified by its API key, not by the body.
    """

    model_config = documented(
        {
            "channel_appeal_id": "VR-2026-031-88412",
            "submitted_at": "2026-03-05T12:40:00+05:00",
            "kind": "complaint",
            "language": "kk",
            "category": "roads",
            "region_kato": "711810000",
            "address": "Астана, Сарыарқа ауданы, Жеңіс даңғылы, 67",
            "subject": "Жолдағы шұңқырлар",
            "text": "Жеңіс даңғылындағы аялдама жанында терең шұңқырлар бар, көліктер зақымдануда.",
            "applicant": {
                "iin": "780215300007",
                "name": "Серіков Болат Қайратұлы",
                "phone": "+77471234567",
                "email": None,
                "anonymous": False,
            },
            "addressed_to": None,
        },
        **_STRUCTURE_ONLY,
    )

    channel_appeal_id: str = Field(
        description="The calling channel's own id of the appeal; unique per channel, used "
        "to make resubmission idempotent."
    )
    submitted_at: str = Field(
        description="When the citizen submitted the appeal, ISO-8601 with an offset."
    )
    kind: str = Field(
        description="Kind of appeal: application, complaint, proposal, request, response or report."
    )
    language: str = Field(description="Language of the appeal: `kk`, `ru` or `en`.")
    category: str = Field(description="National category code (a `Category` value).")
    region_kato: str = Field(description="9-digit KATO code of the place it concerns.")
    address: str | None = Field(default=None, description="Street address, if any.")
    subject: str | None = Field(default=None, description="Subject line, if any.")
    text: str = Field(description="Text of the appeal.")
    applicant: HttpApplicant | None = Field(
        default=None,
        description="Who filed the appeal; absent or null for an anonymous appeal.",
    )
    addressed_to: str | None = Field(
        default=None, description="Agency code the applicant addressed, if they chose one."
    )
