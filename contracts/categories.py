"""The national category classifier and the reference codes channels are mapped onto.

Owns: `Category` (DESIGN §5) with kk/ru/en titles, the iKomek 109 category and district
mappings, and the region KATO prefixes. Does not own: which body is competent for what —
that is the agency registry's data, read by routing.
The 1414 call centre's `topic_code` is a `Category` value as is, so it needs no mapping.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """National category of an appeal's subject; dotted values group related categories."""

    HEALTH = "health"
    EDUCATION = "education"
    SOCIAL_PENSION = "social.pension"
    SOCIAL_BENEFITS = "social.benefits"
    LABOUR = "labour"
    HOUSING = "housing"
    UTILITIES_HEATING = "utilities.heating"
    UTILITIES_WATER = "utilities.water"
    UTILITIES_ELECTRICITY = "utilities.electricity"
    UTILITIES_GAS = "utilities.gas"
    UTILITIES_BILLING = "utilities.billing"
    TRANSPORT_PUBLIC = "transport.public"
    ROADS = "roads"
    LIFTS = "lifts"
    WASTE = "waste"
    LIGHTING = "lighting"
    LAND = "land"
    CONSTRUCTION = "construction"
    POLICE = "police"
    CORRUPTION = "corruption"
    TAXES = "taxes"
    BUSINESS = "business"
    ECOLOGY = "ecology"
    AGRICULTURE = "agriculture"
    DIGITAL_EGOV = "digital.egov"
    OTHER = "other"


def _titles(kk: str, ru: str, en: str) -> dict[str, str]:
    return {"kk": kk, "ru": ru, "en": en}


CATEGORY_TITLES: dict[Category, dict[str, str]] = {
    Category.HEALTH: _titles("Денсаулық сақтау", "Здравоохранение", "Healthcare"),
    Category.EDUCATION: _titles("Білім беру", "Образование", "Education"),
    Category.SOCIAL_PENSION: _titles(
        "Зейнетақымен қамсыздандыру", "Пенсионное обеспечение", "Pensions"
    ),
    Category.SOCIAL_BENEFITS: _titles(
        "Әлеуметтік төлемдер мен жәрдемақылар", "Социальные выплаты и пособия", "Social benefits"
    ),
    Category.LABOUR: _titles(
        "Еңбек және жұмыспен қамту", "Труд и занятость", "Labour and employment"
    ),
    Category.HOUSING: _titles("Тұрғын үй мәселелері", "Жилищные вопросы", "Housing"),
    Category.UTILITIES_HEATING: _titles("Жылумен жабдықтау", "Теплоснабжение", "Heating"),
    Category.UTILITIES_WATER: _titles(
        "Сумен жабдықтау және су бұру", "Водоснабжение и водоотведение", "Water supply and sewerage"
    ),
    Category.UTILITIES_ELECTRICITY: _titles(
        "Электрмен жабдықтау", "Электроснабжение", "Electricity supply"
    ),
    Category.UTILITIES_GAS: _titles("Газбен жабдықтау", "Газоснабжение", "Gas supply"),
    Category.UTILITIES_BILLING: _titles(
        "Коммуналдық қызметтерге ақы төлеу",
        "Оплата коммунальных услуг",
        "Utility bills",
    ),
    Category.TRANSPORT_PUBLIC: _titles(
        "Қоғамдық көлік", "Общественный транспорт", "Public transport"
    ),
    Category.ROADS: _titles("Жолдар", "Автомобильные дороги", "Roads"),
    Category.LIFTS: _titles("Лифтілер", "Лифты", "Lifts"),
    Category.WASTE: _titles("Қалдықтарды шығару", "Вывоз отходов", "Waste collection"),
    Category.LIGHTING: _titles("Көше жарығы", "Уличное освещение", "Street lighting"),
    Category.LAND: _titles("Жер қатынастары", "Земельные отношения", "Land relations"),
    Category.CONSTRUCTION: _titles(
        "Құрылыс және сәулет", "Строительство и архитектура", "Construction and architecture"
    ),
    Category.POLICE: _titles(
        "Құқықтық тәртіп және полиция", "Правопорядок и полиция", "Public order and police"
    ),
    Category.CORRUPTION: _titles("Сыбайлас жемқорлық", "Коррупция", "Corruption"),
    Category.TAXES: _titles("Салықтар", "Налоги", "Taxes"),
    Category.BUSINESS: _titles("Кәсіпкерлік", "Предпринимательство", "Business"),
    Category.ECOLOGY: _titles("Экология", "Экология", "Environment"),
    Category.AGRICULTURE: _titles("Ауыл шаруашылығы", "Сельское хозяйство", "Agriculture"),
    Category.DIGITAL_EGOV: _titles(
        "Цифрлық және мемлекеттік қызметтер (eGov)",
        "Цифровые и государственные услуги (eGov)",
        "Digital and public services (eGov)",
    ),
    Category.OTHER: _titles("Басқа мәселелер", "Прочие вопросы", "Other"),
}

IKOMEK_CATEGORY_MAP: dict[str, Category] = {
    "HEALTHCARE": Category.HEALTH,
    "PUBLIC_TRANSPORT": Category.TRANSPORT_PUBLIC,
    "EDUCATION": Category.EDUCATION,
    "ELECTRICITY": Category.UTILITIES_ELECTRICITY,
    "UTILITY_BILL": Category.UTILITIES_BILLING,
    "HEATING": Category.UTILITIES_HEATING,
    "WATER": Category.UTILITIES_WATER,
    "LIFTS": Category.LIFTS,
    "ROADS": Category.ROADS,
    "WASTE": Category.WASTE,
    "LIGHTING": Category.LIGHTING,
    "OTHER": Category.OTHER,
}
"""iKomek 109 `category` code → national category."""

# iKomek 109 serves Astana only (KATO region prefix 71). These are the project's district
# codes; they have to be checked against the official KATO list before production use.
IKOMEK_DISTRICT_KATO: dict[str, str] = {
    "ALMATY": "711210000",
    "BAIKONYR": "711410000",
    "YESIL": "711610000",
    "SARYARKA": "711810000",
    "NURA": "711910000",
    "SARAISHYK": "712010000",
}
"""iKomek 109 `district` code → 9-digit KATO code of the Astana district."""

REGION_KATO: dict[str, dict[str, str]] = {
    "10": _titles("Абай облысы", "область Абай", "Abai Region"),
    "11": _titles("Ақмола облысы", "Акмолинская область", "Akmola Region"),
    "15": _titles("Ақтөбе облысы", "Актюбинская область", "Aktobe Region"),
    "19": _titles("Алматы облысы", "Алматинская область", "Almaty Region"),
    "23": _titles("Атырау облысы", "Атырауская область", "Atyrau Region"),
    "27": _titles(
        "Батыс Қазақстан облысы", "Западно-Казахстанская область", "West Kazakhstan Region"
    ),
    "31": _titles("Жамбыл облысы", "Жамбылская область", "Zhambyl Region"),
    "33": _titles("Жетісу облысы", "область Жетісу", "Zhetisu Region"),
    "35": _titles("Қарағанды облысы", "Карагандинская область", "Karaganda Region"),
    "39": _titles("Қостанай облысы", "Костанайская область", "Kostanay Region"),
    "43": _titles("Қызылорда облысы", "Кызылординская область", "Kyzylorda Region"),
    "47": _titles("Маңғыстау облысы", "Мангистауская область", "Mangystau Region"),
    "55": _titles("Павлодар облысы", "Павлодарская область", "Pavlodar Region"),
    "59": _titles(
        "Солтүстік Қазақстан облысы", "Северо-Казахстанская область", "North Kazakhstan Region"
    ),
    "61": _titles("Түркістан облысы", "Туркестанская область", "Turkistan Region"),
    "62": _titles("Ұлытау облысы", "область Ұлытау", "Ulytau Region"),
    "63": _titles(
        "Шығыс Қазақстан облысы", "Восточно-Казахстанская область", "East Kazakhstan Region"
    ),
    "71": _titles("Астана қаласы", "город Астана", "Astana city"),
    "75": _titles("Алматы қаласы", "город Алматы", "Almaty city"),
    "79": _titles("Шымкент қаласы", "город Шымкент", "Shymkent city"),
}
"""2-digit KATO region prefix → names of the 17 regions and 3 cities of republican
significance."""

ASTANA_KATO_PREFIX = "71"
