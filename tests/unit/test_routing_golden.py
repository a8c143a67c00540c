"""The golden table: realistic appeals from the three channels, in their native shapes,
converted to `AppealRegistered` the way intake does, and the body and rule routing must pick.

Pure and fast: no broker, no store. e-Otinish has no category field, so its appeals arrive
as `other` and are classified from subject and body (routing's side of the contract).
A change of routing behaviour shows up here as a changed row, on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from contracts import (
    CALL1414_KIND_MAP,
    IKOMEK_CATEGORY_MAP,
    IKOMEK_DISTRICT_KATO,
    AppealKind,
    AppealRegistered,
    Applicant,
    Call1414Appeal,
    Category,
    Channel,
    EOtinishAppeal,
    IKomek109Appeal,
    deterministic_id,
)
from services.routing.decisions import Routed, Rules, Triaged, decide_route

REGISTERED_AT = datetime.fromisoformat("2026-03-05T10:00:00+05:00")
ANSWER_DUE_AT = datetime.fromisoformat("2026-04-01T18:00:00+05:00")
URGENT_ANONYMOUS = {Category.POLICE, Category.CORRUPTION}  # as intake marks `urgent`


# --- channel shapes → AppealRegistered (what intake does, minus validation) -------------------


def _registered(channel: Channel, channel_id: str, **fields: Any) -> AppealRegistered:
    appeal_id = deterministic_id("appeal", channel.value, channel_id)
    return AppealRegistered(
        event_id=deterministic_id("appeal.registered", appeal_id),
        appeal_id=appeal_id,
        occurred_at=REGISTERED_AT,
        correlation_id=appeal_id,
        registration_number=f"ZH-20260305-{channel_id[-6:].upper()}",
        channel=channel,
        channel_appeal_id=channel_id,
        received_at=REGISTERED_AT,
        registered_at=REGISTERED_AT,
        answer_due_at=ANSWER_DUE_AT,
        address=None,
        location=None,
        subject=None,
        addressed_to=None,
        **fields,
    )


def from_1414(call: Call1414Appeal) -> AppealRegistered:
    category = Category(call.topic_code)
    return _registered(
        Channel.CALL_1414,
        call.call_id,
        kind=CALL1414_KIND_MAP[call.appeal_type],
        language=call.lang,
        category=category,
        region_kato=call.kato_code,
        text=call.summary,
        applicant=Applicant(
            name=None if call.is_anonymous else call.caller.first_name,
            phone=call.caller.phone,
            anonymous=call.is_anonymous,
        ),
        urgent=call.is_anonymous and category in URGENT_ANONYMOUS,
    )


def from_ikomek(ticket: IKomek109Appeal) -> AppealRegistered:
    return _registered(
        Channel.IKOMEK109,
        ticket.ticket_no,
        kind=AppealKind.COMPLAINT,
        language=ticket.language,
        category=IKOMEK_CATEGORY_MAP[ticket.category],
        region_kato=IKOMEK_DISTRICT_KATO[ticket.district],
        text=ticket.message,
        applicant=Applicant(name=ticket.citizen.name, phone=ticket.citizen.phone, anonymous=False),
        urgent=False,
    )


def from_eotinish(appeal: EOtinishAppeal) -> AppealRegistered:
    registered = _registered(
        Channel.EOTINISH,
        appeal.otinish_id,
        kind=AppealKind(appeal.kind),
        language=appeal.language,
        category=Category.OTHER,
        region_kato=appeal.region_kato,
        text=appeal.body,
        applicant=Applicant(iin=appeal.applicant_iin, name=appeal.applicant_name, anonymous=False),
        urgent=False,
    )
    return registered.model_copy(
        update={"subject": appeal.subject, "addressed_to": appeal.addressed_to}
    )


_n = 0


def _next_id() -> str:
    global _n
    _n += 1
    return f"{_n:06d}"


def call(
    topic: str, kato: str, summary: str, lang: str = "ru", anonymous: bool = False
) -> AppealRegistered:
    data = Call1414Appeal.example().model_dump(mode="json")
    data.update(
        call_id=f"1414-20260305-{_next_id()}",
        topic_code=topic,
        kato_code=kato,
        summary=summary,
        lang=lang,
        is_anonymous=anonymous,
    )
    return from_1414(Call1414Appeal.model_validate(data))


def ikomek(category: str, district: str, message: str, lang: str = "ru") -> AppealRegistered:
    data = IKomek109Appeal.example().model_dump(mode="json")
    data.update(
        ticket_no=f"IK-2026-0305-{_next_id()}",
        category=category,
        district=district,
        message=message,
        language=lang,
    )
    return from_ikomek(IKomek109Appeal.model_validate(data))


def eotinish(
    addressed_to: str, kato: str, subject: str, body: str, lang: str = "ru"
) -> AppealRegistered:
    data = EOtinishAppeal.example().model_dump(mode="json")
    data.update(
        otinish_id=f"EO-2026-{_next_id()}",
        addressed_to=addressed_to,
        region_kato=kato,
        subject=subject,
        body=body,
        language=lang,
    )
    return from_eotinish(EOtinishAppeal.model_validate(data))


@dataclass(frozen=True)
class Row:
    name: str
    appeal: AppealRegistered
    body: str | None  # None: triage
    rule: str  # rule id, or the triage reason code


MOST = "most-specific-competent-body"
TEXT = "text-classified-competent-body"
URGENT = "urgent-anonymous-internal-affairs"
ADDRESSED = "addressed-body-competent"
FORWARDED = "addressed-body-not-competent-forwarded"
UNCLASSIFIED = "addressed-body-unclassified"

GOLDEN = [
    # --- iKomek 109: Astana, categories and districts -----------------------------------------
    Row(
        "ik heating almaty",
        ikomek("HEATING", "ALMATY", "В подъезде холодные батареи третий день."),
        "astana-energy",
        MOST,
    ),
    Row(
        "ik heating nura kk",
        ikomek("HEATING", "NURA", "Пәтерде үш күннен бері жылу жоқ.", "kk"),
        "astana-energy",
        MOST,
    ),
    Row(
        "ik healthcare yesil",
        ikomek("HEALTHCARE", "YESIL", "Не могу записаться к терапевту в поликлинике №4."),
        "astana-health",
        MOST,
    ),
    Row(
        "ik healthcare saraishyk kk",
        ikomek("HEALTHCARE", "SARAISHYK", "Емханада педиатр жоқ, кезек өте үлкен.", "kk"),
        "astana-health",
        MOST,
    ),
    Row(
        "ik transport saryarka",
        ikomek("PUBLIC_TRANSPORT", "SARYARKA", "Автобус №12 не приходит по 40 минут."),
        "astana-transport",
        MOST,
    ),
    Row(
        "ik transport almaty kk",
        ikomek("PUBLIC_TRANSPORT", "ALMATY", "Аялдамада автобус тоқтамай өтіп кетеді.", "kk"),
        "astana-transport",
        MOST,
    ),
    Row(
        "ik education nura",
        ikomek("EDUCATION", "NURA", "В школе №85 полгода нет учителя математики."),
        "astana-education",
        MOST,
    ),
    Row(
        "ik education baikonyr",
        ikomek("EDUCATION", "BAIKONYR", "Очередь в детский сад не двигается два года."),
        "astana-education",
        MOST,
    ),
    Row(
        "ik electricity baikonyr",
        ikomek("ELECTRICITY", "BAIKONYR", "Нет света во всём доме с утра."),
        "astana-energy",
        MOST,
    ),
    Row(
        "ik utility bill saraishyk",
        ikomek("UTILITY_BILL", "SARAISHYK", "В квитанции дважды начислили за отопление."),
        "astana-energy",
        MOST,
    ),
    Row(
        "ik water yesil kk",
        ikomek("WATER", "YESIL", "Екі күннен бері ыстық су жоқ.", "kk"),
        "astana-energy",
        MOST,
    ),
    Row(
        "ik lifts almaty",
        ikomek("LIFTS", "ALMATY", "Лифт в третьем подъезде стоит вторую неделю."),
        "astana-housing",
        MOST,
    ),
    Row(
        "ik roads saryarka",
        ikomek("ROADS", "SARYARKA", "Глубокая яма на проезжей части у остановки."),
        "astana-roads",
        MOST,
    ),
    Row(
        "ik waste nura",
        ikomek("WASTE", "NURA", "Мусор не вывозят неделю, контейнеры переполнены."),
        "astana-environment",
        MOST,
    ),
    Row(
        "ik lighting baikonyr",
        ikomek("LIGHTING", "BAIKONYR", "Во дворе не горят фонари."),
        "akimat-astana-baikonyr",
        MOST,
    ),
    Row(
        "ik lighting saraishyk kk",
        ikomek("LIGHTING", "SARAISHYK", "Ауладағы шамдар жанбайды.", "kk"),
        "akimat-astana-saraishyk",
        MOST,
    ),
    Row(
        "ik other -> waste",
        ikomek("OTHER", "ALMATY", "Во дворе три дня не убирают мусор, контейнеры переполнены."),
        "astana-environment",
        TEXT,
    ),
    Row(
        "ik other -> lifts kk",
        ikomek("OTHER", "YESIL", "Лифт істемейді, қарттар үйден шыға алмайды.", "kk"),
        "astana-housing",
        TEXT,
    ),
    Row(
        "ik other -> housing district",
        ikomek("OTHER", "SARYARKA", "Соседи сверху затопили квартиру, ОСИ не реагирует."),
        "akimat-astana-saryarka",
        TEXT,
    ),
    Row(
        "ik other -> transport",
        ikomek("OTHER", "BAIKONYR", "Водитель автобуса нагрубил пассажирке и не выдал билет."),
        "astana-transport",
        TEXT,
    ),
    Row(
        "ik other -> heating over water",
        ikomek("OTHER", "ALMATY", "Нет горячей воды и отопления."),
        "astana-energy",
        TEXT,
    ),
    Row(
        "ik other thanks -> triage",
        ikomek("OTHER", "NURA", "Хочу поблагодарить сотрудников за работу."),
        None,
        "low_confidence",
    ),
    # --- 1414: national categories in many regions ---------------------------------------------
    Row(
        "1414 health karaganda",
        call("health", "351010000", "В больнице отказали в госпитализации."),
        "akimat-karaganda",
        MOST,
    ),
    Row(
        "1414 health shymkent kk",
        call("health", "791010000", "Жедел жәрдем екі сағат келмеді.", "kk"),
        "akimat-shymkent",
        MOST,
    ),
    Row(
        "1414 education shymkent",
        call("education", "791010000", "В школе собирают деньги на ремонт класса."),
        "akimat-shymkent",
        MOST,
    ),
    Row(
        "1414 pension pavlodar",
        call("social.pension", "551010000", "Не начислена пенсия по возрасту."),
        "ministry-labour",
        MOST,
    ),
    Row(
        "1414 benefits turkistan kk",
        call("social.benefits", "611010000", "Көпбалалы отбасына жәрдемақы тоқтатылды.", "kk"),
        "akimat-turkistan",
        MOST,
    ),
    Row(
        "1414 labour atyrau",
        call("labour", "231010000", "Работодатель третий месяц не платит зарплату."),
        "akimat-atyrau",
        MOST,
    ),
    Row(
        "1414 police almaty city",
        call("police", "751010000", "Во дворе каждую ночь шумная компания."),
        "police-almaty",
        MOST,
    ),
    Row(
        "1414 urgent anonymous mangystau",
        call("police", "471010000", "Во дворе торгуют наркотиками.", anonymous=True),
        "police-mangystau",
        URGENT,
    ),
    Row(
        "1414 urgent anonymous corruption kyzylorda",
        call("corruption", "431010000", "Инспектор вымогает взятку.", anonymous=True),
        "police-kyzylorda",
        URGENT,
    ),
    Row(
        "1414 urgent anonymous astana kk",
        call(
            "police",
            "711410000",
            "Көршім әйелін ұрып, өлтіремін деп қорқытып жатыр.",
            "kk",
            anonymous=True,
        ),
        "police-astana",
        URGENT,
    ),
    Row(
        "1414 corruption kostanay",
        call("corruption", "391010000", "Главврач требует деньги за справку."),
        "anti-corruption-agency",
        MOST,
    ),
    Row(
        "1414 taxes aktobe",
        call("taxes", "151010000", "Пришло уведомление о налоге на чужую машину."),
        "state-revenue-committee",
        MOST,
    ),
    Row(
        "1414 egov abai kk",
        call("digital.egov", "101010000", "eGov порталына ЭЦҚ арқылы кіру мүмкін емес.", "kk"),
        "ministry-digital-development",
        MOST,
    ),
    Row(
        "1414 gas zhambyl",
        call("utilities.gas", "311010000", "Нет газа третий день."),
        "akimat-zhambyl",
        MOST,
    ),
    Row(
        "1414 roads ulytau kk",
        call("roads", "621010000", "Ауылға баратын жол бұзылған.", "kk"),
        "akimat-ulytau",
        MOST,
    ),
    Row(
        "1414 agriculture north kz",
        call("agriculture", "591010000", "Не выплачены субсидии за посевы."),
        "akimat-north-kazakhstan",
        MOST,
    ),
    Row(
        "1414 ecology east kz",
        call("ecology", "631010000", "Завод ночью выбрасывает чёрный дым."),
        "akimat-east-kazakhstan",
        MOST,
    ),
    Row(
        "1414 land zhetisu",
        call("land", "331010000", "Не выдают акт на земельный участок."),
        "akimat-zhetisu",
        MOST,
    ),
    Row(
        "1414 construction west kz",
        call("construction", "271010000", "Застройщик сорвал сроки сдачи дома."),
        "akimat-west-kazakhstan",
        MOST,
    ),
    Row(
        "1414 heating astana kk",
        call("utilities.heating", "711810000", "Пәтерде жылу жоқ.", "kk"),
        "astana-energy",
        MOST,
    ),
    Row(
        "1414 housing astana district",
        call("housing", "711610000", "Крыша течёт, ОСИ бездействует."),
        "akimat-astana-yesil",
        MOST,
    ),
    Row(
        "1414 lifts almaty city",
        call("lifts", "751010000", "Лифт не работает месяц."),
        "akimat-almaty",
        MOST,
    ),
    Row(
        "1414 transport shymkent",
        call("transport.public", "791010000", "Автобусы не ходят после 21:00."),
        "akimat-shymkent",
        MOST,
    ),
    Row(
        "1414 waste karaganda kk",
        call("waste", "351010000", "Қоқыс апта бойы шығарылмайды.", "kk"),
        "akimat-karaganda",
        MOST,
    ),
    Row(
        "1414 other -> police almaty region",
        call("other", "191010000", "Из подъезда украли велосипед."),
        "police-almaty-region",
        TEXT,
    ),
    Row(
        "1414 other -> agriculture akmola kk",
        call("other", "111010000", "Ауылда мал ауырып жатыр, ветеринар келмейді.", "kk"),
        "akimat-akmola",
        TEXT,
    ),
    Row(
        "1414 other -> taxes kk",
        call("other", "471010000", "Салық декларациясын қалай тапсыруға болады?", "kk"),
        "state-revenue-committee",
        TEXT,
    ),
    Row(
        "1414 other vague -> triage",
        call("other", "711210000", "Прошу разъяснить порядок рассмотрения."),
        None,
        "low_confidence",
    ),
    Row(
        "1414 other vague kk -> triage",
        call("other", "611010000", "Маған көмектесуіңізді сұраймын.", "kk"),
        None,
        "low_confidence",
    ),
    # --- e-Otinish: addressed bodies, right and wrong ------------------------------------------
    Row(
        "eo education addressed right",
        eotinish(
            "astana-education",
            "711610000",
            "Очередь в детский сад",
            "Прошу сообщить номер ребёнка в очереди в детский сад района Есиль.",
        ),
        "astana-education",
        ADDRESSED,
    ),
    Row(
        "eo heating addressed akimat",
        eotinish(
            "akimat-astana", "711210000", "Отопление", "Нет отопления в квартире, батареи холодные."
        ),
        "akimat-astana",
        ADDRESSED,
    ),
    Row(
        "eo health addressed ministry",
        eotinish(
            "ministry-health",
            "751010000",
            "Поликлиника",
            "Поликлиника отказывает в приёме без прописки.",
        ),
        "ministry-health",
        ADDRESSED,
    ),
    Row(
        "eo health addressed education",
        eotinish(
            "ministry-education",
            "351010000",
            "Скорая помощь",
            "Скорая помощь приехала через три часа, врач нагрубил.",
        ),
        "akimat-karaganda",
        FORWARDED,
    ),
    Row(
        "eo roads addressed energy",
        eotinish(
            "ministry-energy",
            "551010000",
            "Дорога",
            "Яма на дороге, асфальт разрушен на всей улице.",
        ),
        "akimat-pavlodar",
        FORWARDED,
    ),
    Row(
        "eo bribe addressed akimat",
        eotinish("akimat-shymkent", "791010000", "Взятка", "В отделе требуют взятку за справку."),
        "anti-corruption-agency",
        FORWARDED,
    ),
    Row(
        "eo pension addressed revenue kk",
        eotinish(
            "state-revenue-committee",
            "611010000",
            "Зейнетақы",
            "Үш айдан бері зейнетақы төленбей жатыр.",
            "kk",
        ),
        "ministry-labour",
        FORWARDED,
    ),
    Row(
        "eo tax addressed police",
        eotinish(
            "ministry-internal-affairs",
            "231010000",
            "Налог",
            "Не приходит налоговое уведомление на имущество.",
        ),
        "state-revenue-committee",
        FORWARDED,
    ),
    Row(
        "eo egov addressed right",
        eotinish(
            "ministry-digital-development",
            "711210000",
            "eGov",
            "Не могу войти в личный кабинет egov по ЭЦП.",
        ),
        "ministry-digital-development",
        ADDRESSED,
    ),
    Row(
        "eo lifts addressed government office",
        eotinish(
            "government-office",
            "711910000",
            "Лифт",
            "Лифт не работает, жильцы 16 этажей ходят пешком.",
        ),
        "astana-housing",
        FORWARDED,
    ),
    Row(
        "eo lighting addressed district right",
        eotinish(
            "akimat-astana-yesil",
            "711610000",
            "Освещение",
            "Во дворе не горят фонари, темно и опасно.",
        ),
        "akimat-astana-yesil",
        ADDRESSED,
    ),
    Row(
        "eo bus addressed district",
        eotinish(
            "akimat-astana-yesil",
            "711610000",
            "Автобус",
            "Автобус №10 ходит раз в час, на остановке толпы.",
        ),
        "astana-transport",
        FORWARDED,
    ),
    Row(
        "eo ecology addressed right kk",
        eotinish(
            "ministry-ecology",
            "551010000",
            "Ауа",
            "Зауыттан қара түтін шығып, ауа ластанған.",
            "kk",
        ),
        "ministry-ecology",
        ADDRESSED,
    ),
    Row(
        "eo school addressed agriculture kk",
        eotinish(
            "ministry-agriculture",
            "431010000",
            "Мектеп",
            "Ауыл мектебінде мұғалім жетіспейді.",
            "kk",
        ),
        "akimat-kyzylorda",
        FORWARDED,
    ),
    Row(
        "eo ambulance addressed almaty akimat kk",
        eotinish(
            "akimat-almaty",
            "751010000",
            "Жедел жәрдем",
            "Жедел жәрдем екі сағат кешігіп келді, дәрігер қарамады.",
            "kk",
        ),
        "akimat-almaty",
        ADDRESSED,
    ),
    Row(
        "eo subsidies addressed transport",
        eotinish(
            "ministry-transport",
            "591010000",
            "Субсидии",
            "Фермерам не выплачены субсидии на посевную.",
        ),
        "akimat-north-kazakhstan",
        FORWARDED,
    ),
    Row(
        "eo gas addressed unknown body",
        eotinish("akimat-nowhere", "311010000", "Газ", "Нет газа третий день, плита не работает."),
        "akimat-zhambyl",
        FORWARDED,
    ),
    Row(
        "eo thanks addressed justice",
        eotinish(
            "ministry-justice", "711210000", "Благодарность", "Благодарю за помощь и внимание."
        ),
        "ministry-justice",
        UNCLASSIFIED,
    ),
    Row(
        "eo vague addressed unknown -> triage",
        eotinish("ministry-of-magic", "711210000", "Вопрос", "Прошу помочь разобраться."),
        None,
        "unknown_addressee",
    ),
]


def test_the_golden_table_has_at_least_60_appeals_from_all_three_channels() -> None:
    channels = {row.appeal.channel for row in GOLDEN}
    assert len(GOLDEN) >= 60
    assert channels == {Channel.CALL_1414, Channel.IKOMEK109, Channel.EOTINISH}
    assert len({row.name for row in GOLDEN}) == len(GOLDEN)


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.default()


@pytest.mark.parametrize("row", GOLDEN, ids=lambda row: row.name)
def test_golden_appeal_goes_to_the_expected_body_by_the_expected_rule(
    row: Row, rules: Rules
) -> None:
    decision = decide_route(row.appeal, rules.registry, rules)

    if row.body is None:
        assert isinstance(decision, Triaged), decision
        assert decision.reason_code == row.rule
        assert decision.reason
    else:
        assert isinstance(decision, Routed), decision
        assert (decision.agency.code, decision.rule_id) == (row.body, row.rule), decision.reason
        assert decision.rule_version.startswith(f"{decision.rule.version}/{rules.registry.version}")
        assert decision.reason
        assert decision.forwarded is (row.rule == FORWARDED)
