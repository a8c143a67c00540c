"""The workspace's words in Kazakh and Russian (the interface's two languages; Kazakh is the
state language and the default). A label missing in one language is a KeyError at start
(`check_complete`), never an English word on a page."""

from __future__ import annotations

LANGUAGES = ("kk", "ru")
DEFAULT_LANGUAGE = "kk"

LABELS: dict[str, dict[str, str]] = {
    "title": {"kk": "Tyndau — жұмыс орны", "ru": "Tyndau — рабочее место"},
    "login": {"kk": "Кіру", "ru": "Вход"},
    "logout": {"kk": "Шығу", "ru": "Выход"},
    "username": {"kk": "Пайдаланушы аты", "ru": "Имя пользователя"},
    "password": {"kk": "Құпиясөз", "ru": "Пароль"},
    "bad_login": {
        "kk": "Пайдаланушы аты немесе құпиясөз қате.",
        "ru": "Неверное имя пользователя или пароль.",
    },
    "inbox": {"kk": "Кіріс өтініштер", "ru": "Входящие обращения"},
    "number": {"kk": "Тіркеу нөмірі", "ru": "Регистрационный номер"},
    "category": {"kk": "Санат", "ru": "Категория"},
    "status": {"kk": "Мәртебе", "ru": "Статус"},
    "answer_due": {"kk": "Жауап беру мерзімі", "ru": "Срок ответа"},
    "forward_due": {"kk": "Жолдау мерзімі", "ru": "Срок перенаправления"},
    "breached": {"kk": "Мерзімі бұзылды", "ru": "Срок нарушен"},
    "warning": {"kk": "Мерзімі жақындады", "ru": "Срок истекает"},
    "all": {"kk": "Барлығы", "ru": "Все"},
    "open": {"kk": "Ашу", "ru": "Открыть"},
    "empty": {"kk": "Өтініш жоқ.", "ru": "Обращений нет."},
    "text": {"kk": "Өтініш мәтіні", "ru": "Текст обращения"},
    "timeline": {"kk": "Тарихы", "ru": "История"},
    "accept": {"kk": "Қабылдау", "ru": "Принять"},
    "extend": {"kk": "Мерзімін ұзарту", "ru": "Продлить срок"},
    "new_due": {"kk": "Жаңа мерзім (күні)", "ru": "Новый срок (дата)"},
    "reason": {"kk": "Себебі", "ru": "Причина"},
    "answer": {"kk": "Жауап беру", "ru": "Ответить"},
    "outcome": {"kk": "Нәтижесі", "ru": "Результат"},
    "summary": {"kk": "Жауап мәтіні", "ru": "Текст ответа"},
    "how_to_obtain": {"kk": "Жауапты алу жолы", "ru": "Как получить ответ"},
    "redirect": {"kk": "Құзыретке сай жолдау", "ru": "Перенаправить по компетенции"},
    "to_body": {"kk": "Қай органға", "ru": "В какой орган"},
    "send": {"kk": "Жіберу", "ru": "Отправить"},
    "sent": {
        "kk": "Шешім жіберілді; жүйе оны өңдеген соң мәртебе жаңарады.",
        "ru": "Решение отправлено; статус обновится, когда система его обработает.",
    },
    "forbidden": {
        "kk": "Бұл өтініш сіздің органыңызға тиесілі емес.",
        "ru": "Это обращение не относится к вашему органу.",
    },
    "not_found": {"kk": "Өтініш табылмады.", "ru": "Обращение не найдено."},
    "find": {"kk": "Нөмір бойынша табу", "ru": "Найти по номеру"},
    "language": {"kk": "Тіл", "ru": "Язык"},
    "body": {"kk": "Орган", "ru": "Орган"},
    "field_required": {"kk": "Толтыру міндетті.", "ru": "Обязательное поле."},
    "date_invalid": {
        "kk": "Күнді ЖЖЖЖ-АА-КК түрінде жазыңыз.",
        "ru": "Укажите дату как ГГГГ-ММ-ДД.",
    },
    "beyond_cap": {
        "kk": "Мерзімді қабылданған күннен бастап екі айдан ұзақ ұзартуға болмайды "
        "(соңғы күн: {cap}).",
        "ru": "Срок нельзя продлить более чем на два месяца со дня поступления "
        "(последний день: {cap}).",
    },
    "not_later": {
        "kk": "Жаңа мерзім қазіргі мерзімнен кейін болуы керек ({due}).",
        "ru": "Новый срок должен быть позже текущего ({due}).",
    },
    "unknown_body": {"kk": "Мұндай орган жоқ.", "ru": "Такого органа нет."},
    "csrf": {
        "kk": "Беттің мерзімі өтті, қайта жіберіңіз.",
        "ru": "Страница устарела, отправьте форму ещё раз.",
    },
    "outcome.satisfied": {"kk": "Қанағаттандырылды", "ru": "Удовлетворено"},
    "outcome.partially_satisfied": {
        "kk": "Ішінара қанағаттандырылды",
        "ru": "Удовлетворено частично",
    },
    "outcome.rejected": {"kk": "Бас тартылды", "ru": "Отказано"},
    "outcome.explained": {"kk": "Түсіндірілді", "ru": "Разъяснено"},
    "status.routed": {"kk": "Жолданды", "ru": "Направлено"},
    "status.in_triage": {"kk": "Бөлуді күтуде", "ru": "Ожидает распределения"},
    "triage": {"kk": "Бөлу кезегі", "ru": "Очередь распределения"},
    "received": {"kk": "Түскен уақыты", "ru": "Поступило"},
    "candidates": {"kk": "Ұсынылған органдар", "ru": "Предложенные органы"},
    "note": {"kk": "Негіздеме", "ru": "Обоснование"},
    "decide": {"kk": "Органға жіберу", "ru": "Направить в орган"},
    "decided": {
        "kk": "Шешім қабылданды: өтініш кезектен шықты.",
        "ru": "Решение принято: обращение вышло из очереди.",
    },
    "status.accepted": {"kk": "Қабылданды", "ru": "Принято"},
    "status.extended": {"kk": "Мерзімі ұзартылды", "ru": "Срок продлён"},
    "status.answered": {"kk": "Жауап берілді", "ru": "Дан ответ"},
    "status.redirected": {"kk": "Қайта жолданды", "ru": "Перенаправлено"},
}


def check_complete() -> None:
    for key, words in LABELS.items():
        missing = [lang for lang in LANGUAGES if not words.get(lang)]
        if missing:
            raise KeyError(f"label {key!r} has no {', '.join(missing)} text")


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def labels_for(language: str) -> dict[str, str]:
    return {key: words[language] for key, words in LABELS.items()}


check_complete()
