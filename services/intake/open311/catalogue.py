"""The Open311 service catalogue and request documents, from the national classifier and an
appeal's public status. Pure: no I/O.

- A service is a category of the national classifier (`service_code` = `Category` value,
  `roads`, `utilities.heating`); its `group` is the part before the dot (`utilities`), its
  name and description in the asked locale (kk, ru or en; `locale_of`).
- Every service has metadata: its definition asks for the appeal's kind under the
  Administrative Procedural Code (`attribute[kind]`, required — the law treats a complaint
  and a proposal differently) and offers the applicant's IIN (`attribute[iin]`, optional; an
  Open311 client has no field of its own for it).
- A request document is the public view of an appeal (lookup.public_view): status `closed`
  once the body answered or the appeal was left without consideration, else `open`;
  `status_notes` the status in words (never the answer's text: bodies write it in their own
  words); `agency_responsible` the current
  body's name; `expected_datetime` the statutory answer deadline; `address` the district or
  region, no finer.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from typing import Any

from contracts import CATEGORY_TITLES, REGION_KATO, AppealKind, Category, Language
from reference.agencies import AgencyRegistry
from services.intake.open311.documents import (
    Attribute,
    AttributeValue,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from services.intake.timeline import FINAL_STATUSES

DEFAULT_LOCALE = Language.KK

KIND_TITLES: dict[AppealKind, dict[str, str]] = {
    AppealKind.APPLICATION: {"kk": "Өтініш", "ru": "Заявление", "en": "Application"},
    AppealKind.COMPLAINT: {"kk": "Шағым", "ru": "Жалоба", "en": "Complaint"},
    AppealKind.PROPOSAL: {"kk": "Ұсыныс", "ru": "Предложение", "en": "Proposal"},
    AppealKind.REQUEST: {"kk": "Сұрау салу", "ru": "Запрос", "en": "Request"},
    AppealKind.RESPONSE: {"kk": "Пікір", "ru": "Отклик", "en": "Response"},
    AppealKind.REPORT: {"kk": "Хабарлама", "ru": "Сообщение", "en": "Report"},
}

_TEXT: dict[str, dict[str, str]] = {
    "description": {
        "kk": "Өтініш санаты: {name}. Тіркеледі және құзыретті органға жіберіледі.",
        "ru": "Категория обращения: {name}. Регистрируется и направляется в компетентный орган.",
        "en": "Appeals about: {name}. Registered and sent to the competent body.",
    },
    "kind": {
        "kk": "Әкімшілік рәсімдік-процестік кодекс бойынша өтініш түрі",
        "ru": "Вид обращения по Административному процедурно-процессуальному кодексу",
        "en": "Kind of appeal under the Administrative Procedural Code",
    },
    "iin": {
        "kk": "Өтініш берушінің ЖСН-і (12 цифр), белгілі болса",
        "ru": "ИИН заявителя (12 цифр), если известен",
        "en": "The applicant's IIN (12 digits), if known",
    },
    "notice": {
        "kk": "Тіркелді: {number}. Мәртебесін тексеру коды: {code}. Жауап мерзімі: {due}.",
        "ru": "Зарегистрировано: {number}. Код проверки статуса: {code}. Срок ответа: {due}.",
        "en": "Registered: {number}. Status lookup code: {code}. Answer due: {due}.",
    },
}

STATUS_NOTES: dict[str, dict[str, str]] = {
    "registered": {"kk": "Тіркелді", "ru": "Зарегистрировано", "en": "Registered"},
    "routed": {
        "kk": "Құзыретті органға жіберілді",
        "ru": "Направлено в компетентный орган",
        "en": "Sent to the competent body",
    },
    "forwarded": {
        "kk": "Құзыретті органға қайта жіберілді",
        "ru": "Перенаправлено в компетентный орган",
        "en": "Forwarded to the competent body",
    },
    "in_triage": {
        "kk": "Құзыретті орган анықталуда",
        "ru": "Определяется компетентный орган",
        "en": "The competent body is being determined",
    },
    "accepted": {"kk": "Қаралуда", "ru": "На рассмотрении", "en": "Under consideration"},
    "extended": {
        "kk": "Қарау мерзімі ұзартылды",
        "ru": "Срок рассмотрения продлён",
        "en": "Consideration period extended",
    },
    "overdue": {"kk": "Мерзімі өтті", "ru": "Срок нарушен", "en": "Deadline passed"},
    "answered": {"kk": "Жауап берілді", "ru": "Дан ответ", "en": "Answered"},
    "dismissed": {
        "kk": "Қараусыз қалдырылды",
        "ru": "Оставлено без рассмотрения",
        "en": "Left without consideration",
    },
}


def locale_of(requested: str | None, accept_language: str | None) -> Language:
    """`locale` (kk, ru, en, or a tag such as `ru-KZ`) if given, else the first of kk, ru, en
    in Accept-Language (by quality), else Kazakh, the state language."""
    for candidate in [requested or "", *_by_quality(accept_language or "")]:
        base = candidate.strip().lower().replace("_", "-").split("-")[0]
        if base in Language._value2member_map_:
            return Language(base)
    return DEFAULT_LOCALE


def _by_quality(header: str) -> list[str]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def service_of(category: Category, locale: Language) -> Service:
    name = CATEGORY_TITLES[category][locale.value]
    group = category.value.split(".")[0]
    return Service(
        service_code=category.value,
        service_name=name,
        description=_TEXT["description"][locale.value].format(name=name),
        metadata=True,
        keywords=", ".join(dict.fromkeys([name, *CATEGORY_TITLES[category].values()])),
        group=group,
    )


@functools.cache
def services(locale: Language) -> tuple[Service, ...]:
    """The whole catalogue in one locale (made once: it is a function of the classifier)."""
    return tuple(service_of(category, locale) for category in Category)


@functools.cache
def definition_of(category: Category, locale: Language) -> ServiceDefinition:
    lang = locale.value
    return ServiceDefinition(
        service_code=category.value,
        attributes=[
            Attribute(
                code="kind",
                datatype="singlevaluelist",
                required=True,
                order=1,
                description=_TEXT["kind"][lang],
                values=[
                    AttributeValue(key=kind.value, name=KIND_TITLES[kind][lang])
                    for kind in AppealKind
                ],
            ),
            Attribute(
                code="iin",
                datatype="string",
                required=False,
                datatype_description="12 digits",
                order=2,
                description=_TEXT["iin"][lang],
            ),
        ],
    )


def service_notice(number: str, lookup_code: str, due: str, locale: Language) -> str:
    return _TEXT["notice"][locale.value].format(number=number, code=lookup_code, due=due)


def request_of(
    status: dict[str, Any], registry: AgencyRegistry, locale: Language, tz: tzinfo
) -> ServiceRequest:
    """An appeal's public status (`lookup.public_view`) as an Open311 request. Times in `tz`
    (the services' time zone) to the second; `updated_datetime` is the latest lifecycle
    event, or the receipt — not the statutory registration time, which Art. 64 may put on
    the next working day, after the events that followed it."""
    lang = locale.value
    category = Category(status["category"])
    body = registry.get(status["current_body"])
    events = status["timeline"][1:]  # the first entry is the registration itself
    district = status.get("district_kato")

    def local(moment: str) -> str:
        return datetime.fromisoformat(moment).astimezone(tz).isoformat(timespec="seconds")

    return ServiceRequest(
        service_request_id=status["registration_number"],
        status="closed" if status["status"] in FINAL_STATUSES else "open",
        status_notes=STATUS_NOTES.get(status["status"], {}).get(lang, status["status"]),
        service_name=CATEGORY_TITLES[category][lang],
        service_code=category.value,
        agency_responsible=body.names.get(lang) if body else None,
        requested_datetime=local(status["received_at"]),
        updated_datetime=local(
            max(
                (e["occurred_at"] for e in events),
                key=datetime.fromisoformat,
                default=status["received_at"],
            )
        ),
        expected_datetime=local(status["answer_due_at"]),
        address=_place_name(district, lang),
        address_id=district,
    )


def _place_name(kato: str | None, lang: str) -> str | None:
    if not kato:
        return None
    region = REGION_KATO.get(kato[:2])
    return region[lang] if region else None
