"""Message templates per language, and the words templates need (outcomes, deadline kinds).

Rendering uses string.Template: placeholders only, so a template can never run code, and a
missing variable raises instead of sending half a text. Every template exists in Kazakh,
Russian and English with a subject (e-mail subject, push title) and a body; `VARIABLES`
names what each needs, and a test renders every one in every language.

Dates are shown as local time of the service's time zone (`TYNDAU_TIME_ZONE`, Asia/Almaty
by default — the same zone quiet hours and the working-day calendar use) as
`DD.MM.YYYY HH:MM`, the form both Kazakh and Russian official correspondence use.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from string import Template

from contracts import AnswerOutcome, DeadlineKind, DismissalReason, Language

KK, RU, EN = Language.KK, Language.RU, Language.EN

TEMPLATES: dict[str, dict[Language, Template]] = {
    "appeal_registered": {
        KK: Template(
            "Өтінішіңіз тіркелді, нөмірі $registration_number ($registered_at). "
            "Жауап беру мерзімі: $answer_due_at дейін.$lookup"
        ),
        RU: Template(
            "Ваше обращение зарегистрировано под номером $registration_number ($registered_at). "
            "Срок рассмотрения: до $answer_due_at.$lookup"
        ),
        EN: Template(
            "Your appeal is registered as $registration_number ($registered_at). "
            "It will be answered by $answer_due_at.$lookup"
        ),
    },
    "anonymous_not_considered": {
        KK: Template(
            "$channel_appeal_id анонимді өтінішіңіз қаралмайды: ҚР ӘРПК бойынша анонимді "
            "өтініштер қаралмайды (қылмыс немесе қауіпсіздікке қатер туралы хабарламалардан "
            "басқа). Аты-жөніңізді көрсетіп, қайта жүгіне аласыз."
        ),
        RU: Template(
            "Ваше анонимное обращение $channel_appeal_id не рассматривается: по АППК РК "
            "анонимные обращения не рассматриваются (кроме сообщений о преступлениях и угрозах "
            "безопасности). Вы можете обратиться повторно, указав свои данные."
        ),
        EN: Template(
            "Your anonymous appeal $channel_appeal_id will not be considered: under the "
            "Administrative Procedural Code anonymous appeals are not considered (except "
            "reports of crimes or threats to security). You may apply again with your name."
        ),
    },
    "appeal_forwarded": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңіз құзыреті бойынша қарау үшін "
            "$forwarded_at жіберілді: $agency_name (ҚР ӘРПК 65-бабы)."
        ),
        RU: Template(
            "Ваше обращение № $registration_number $forwarded_at направлено по компетенции "
            "в орган: $agency_name (ст. 65 АППК РК)."
        ),
        EN: Template(
            "Your appeal $registration_number was forwarded on $forwarded_at to the competent "
            "body: $agency_name (Art. 65 of the Administrative Procedural Code)."
        ),
    },
    "appeal_accepted": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңізді қарауға қабылдады: $agency_name. "
            "Жауап беру мерзімі: $answer_due_at дейін."
        ),
        RU: Template(
            "Обращение № $registration_number принято к рассмотрению: $agency_name. "
            "Срок рассмотрения: до $answer_due_at."
        ),
        EN: Template(
            "Your appeal $registration_number was taken up by $agency_name. "
            "It will be answered by $answer_due_at."
        ),
    },
    "deadline_extended": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңізді қарау мерзімі $new_due_at дейін "
            "ұзартылды.$moved Себебі: $reason. Шешім: $decision_ref."
        ),
        RU: Template(
            "Срок рассмотрения обращения № $registration_number продлён до $new_due_at."
            "$moved Причина: $reason. Решение: $decision_ref."
        ),
        EN: Template(
            "The deadline for your appeal $registration_number is extended to $new_due_at."
            "$moved Reason: $reason. Decision: $decision_ref."
        ),
    },
    "appeal_answered": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңізге жауап берілді. Нәтижесі: $outcome. "
            "Жауапты алу жолы: $how_to_obtain$feedback"
        ),
        RU: Template(
            "По обращению № $registration_number дан ответ. Результат: $outcome. "
            "Как получить ответ: $how_to_obtain$feedback"
        ),
        EN: Template(
            "Your appeal $registration_number has been answered. Outcome: $outcome. "
            "How to obtain the answer: $how_to_obtain$feedback"
        ),
    },
    "appeal_dismissed": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңіз қараусыз қалдырылды: $reason. $note "
            "Бұл шешімге жоғары тұрған органға немесе сотқа шағымдана аласыз, не мәнін "
            "көрсетіп, жаңа өтініш бере аласыз."
        ),
        RU: Template(
            "Ваше обращение № $registration_number оставлено без рассмотрения: $reason. $note "
            "Это решение можно обжаловать в вышестоящем органе или в суде либо подать новое "
            "обращение, изложив его суть."
        ),
        EN: Template(
            "Your appeal $registration_number is left without consideration: $reason. $note "
            "You may appeal this decision to a higher body or to a court, or send a new appeal "
            "that states the matter."
        ),
    },
    "new_assignment": {
        KK: Template(
            "Жаңа өтініш түсті: $registration_number ($agency_name). "
            "Жауап беру мерзімі: $answer_due_at дейін."
        ),
        RU: Template(
            "Поступило новое обращение № $registration_number ($agency_name). "
            "Срок ответа: до $answer_due_at."
        ),
        EN: Template(
            "New appeal assigned: $registration_number ($agency_name). "
            "Answer due by $answer_due_at."
        ),
    },
    "sla_warning": {
        KK: Template(
            "$registration_number нөмірлі өтініш: $deadline_kind $due_at аяқталады, "
            "$working_days_left жұмыс күні қалды."
        ),
        RU: Template(
            "Обращение № $registration_number: $deadline_kind истекает $due_at, "
            "осталось рабочих дней: $working_days_left."
        ),
        EN: Template(
            "Appeal $registration_number: the $deadline_kind ends $due_at, "
            "$working_days_left working day(s) left."
        ),
    },
    "sla_breached": {
        KK: Template(
            "Мерзім бұзылды: $registration_number нөмірлі өтініш, $deadline_kind $due_at өтті. "
            "Жауапты орган: $agency_name."
        ),
        RU: Template(
            "Нарушен срок: обращение № $registration_number, $deadline_kind истёк $due_at. "
            "Ответственный орган: $agency_name."
        ),
        EN: Template(
            "Deadline breached: appeal $registration_number, the $deadline_kind passed at "
            "$due_at. Responsible body: $agency_name."
        ),
    },
    # sla re-planned the answer deadline after a decree on days off changed the calendar.
    "answer_date_moved": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңізді қарау мерзімі өзгерді: $previous_due_at "
            "орнына $due_at дейін. Себебі: Үкіметтің демалыс күндерін ауыстыру туралы қаулысы "
            "жұмыс күндерінің күнтізбесін өзгертті."
        ),
        RU: Template(
            "Срок рассмотрения обращения № $registration_number изменён: до $due_at вместо "
            "$previous_due_at. Причина: постановление Правительства о переносе выходных дней "
            "изменило календарь рабочих дней."
        ),
        EN: Template(
            "The answer date of your appeal $registration_number moved to $due_at (it was "
            "$previous_due_at): a government decree on days off changed the working-day "
            "calendar."
        ),
    },
    # Art. 91: the answer deadline passed with no decision — counted as a refusal; the
    # citizen learns what that means and where to complain ($complain_to).
    "answer_deadline_passed": {
        KK: Template(
            "$registration_number нөмірлі өтінішіңізді қарау мерзімі $due_at өтті, "
            "$agency_name шешім қабылдаған жоқ. Заң бойынша (ҚР ӘРПК, 91-бап) бұл бас тарту "
            "болып саналады. Оған$complain_to шағымдана аласыз."
        ),
        RU: Template(
            "Срок рассмотрения обращения № $registration_number истёк $due_at, решение "
            "органа ($agency_name) не принято. По закону (ст. 91 АППК РК) это считается "
            "отказом. Вы можете обжаловать его$complain_to."
        ),
        EN: Template(
            "The answer deadline for your appeal $registration_number passed at $due_at "
            "without a decision by $agency_name. By law (Art. 91 of the Administrative "
            "Procedural Code) this counts as a refusal. You may complain$complain_to."
        ),
    },
}
"""Body of each message (the SMS text, the e-mail body, the push body)."""

SUBJECTS: dict[str, dict[Language, Template]] = {
    "appeal_registered": {
        KK: Template("Өтініш тіркелді: $registration_number"),
        RU: Template("Обращение зарегистрировано: $registration_number"),
        EN: Template("Appeal registered: $registration_number"),
    },
    "anonymous_not_considered": {
        KK: Template("Анонимді өтініш қаралмайды"),
        RU: Template("Анонимное обращение не рассматривается"),
        EN: Template("Anonymous appeal not considered"),
    },
    "appeal_forwarded": {
        KK: Template("Өтініш жіберілді: $registration_number"),
        RU: Template("Обращение перенаправлено: $registration_number"),
        EN: Template("Appeal forwarded: $registration_number"),
    },
    "appeal_accepted": {
        KK: Template("Өтініш қарауға қабылданды: $registration_number"),
        RU: Template("Обращение принято к рассмотрению: $registration_number"),
        EN: Template("Appeal taken up: $registration_number"),
    },
    "deadline_extended": {
        KK: Template("Қарау мерзімі ұзартылды: $registration_number"),
        RU: Template("Срок рассмотрения продлён: $registration_number"),
        EN: Template("Deadline extended: $registration_number"),
    },
    "appeal_answered": {
        KK: Template("Өтінішке жауап берілді: $registration_number"),
        RU: Template("Дан ответ на обращение: $registration_number"),
        EN: Template("Appeal answered: $registration_number"),
    },
    "appeal_dismissed": {
        KK: Template("Өтініш қараусыз қалдырылды: $registration_number"),
        RU: Template("Обращение оставлено без рассмотрения: $registration_number"),
        EN: Template("Appeal left without consideration: $registration_number"),
    },
    "new_assignment": {
        KK: Template("Жаңа өтініш: $registration_number"),
        RU: Template("Новое обращение: $registration_number"),
        EN: Template("New appeal: $registration_number"),
    },
    "sla_warning": {
        KK: Template("Мерзім жақындады: $registration_number"),
        RU: Template("Приближается срок: $registration_number"),
        EN: Template("Deadline approaching: $registration_number"),
    },
    "sla_breached": {
        KK: Template("Мерзім бұзылды: $registration_number"),
        RU: Template("Нарушен срок: $registration_number"),
        EN: Template("Deadline breached: $registration_number"),
    },
    "answer_date_moved": {
        KK: Template("Қарау мерзімі өзгерді: $registration_number"),
        RU: Template("Срок рассмотрения изменён: $registration_number"),
        EN: Template("Answer date moved: $registration_number"),
    },
    "answer_deadline_passed": {
        KK: Template("Қарау мерзімі өтті: $registration_number"),
        RU: Template("Срок рассмотрения истёк: $registration_number"),
        EN: Template("Answer deadline passed: $registration_number"),
    },
}
"""E-mail subject / push title of each message."""

VARIABLES: dict[str, frozenset[str]] = {
    "appeal_registered": frozenset(
        {"registration_number", "registered_at", "answer_due_at", "lookup"}
    ),
    "anonymous_not_considered": frozenset({"channel_appeal_id"}),
    "appeal_forwarded": frozenset({"registration_number", "forwarded_at", "agency_name"}),
    "appeal_accepted": frozenset({"registration_number", "agency_name", "answer_due_at"}),
    "deadline_extended": frozenset(
        {"registration_number", "new_due_at", "moved", "reason", "decision_ref"}
    ),
    "appeal_answered": frozenset({"registration_number", "outcome", "how_to_obtain", "feedback"}),
    "appeal_dismissed": frozenset({"registration_number", "reason", "note"}),
    "new_assignment": frozenset({"registration_number", "agency_name", "answer_due_at"}),
    "sla_warning": frozenset(
        {"registration_number", "deadline_kind", "due_at", "working_days_left"}
    ),
    "sla_breached": frozenset({"registration_number", "deadline_kind", "due_at", "agency_name"}),
    "answer_deadline_passed": frozenset(
        {"registration_number", "due_at", "agency_name", "complain_to"}
    ),
    "answer_date_moved": frozenset({"registration_number", "previous_due_at", "due_at"}),
}
"""The variables each template needs — every one must appear in every language's body."""

OUTCOME_WORDS: dict[AnswerOutcome, dict[Language, str]] = {
    AnswerOutcome.SATISFIED: {KK: "қанағаттандырылды", RU: "удовлетворено", EN: "satisfied"},
    AnswerOutcome.PARTIALLY_SATISFIED: {
        KK: "ішінара қанағаттандырылды",
        RU: "удовлетворено частично",
        EN: "partially satisfied",
    },
    AnswerOutcome.REJECTED: {KK: "бас тартылды", RU: "отказано", EN: "rejected"},
    AnswerOutcome.EXPLAINED: {KK: "түсіндірме берілді", RU: "дано разъяснение", EN: "explained"},
}

DISMISSAL_WORDS: dict[DismissalReason, dict[Language, str]] = {
    DismissalReason.NO_SUBSTANCE: {
        KK: "өтініштің мәнін анықтау мүмкін емес",
        RU: "невозможно установить суть обращения",
        EN: "the matter of the appeal cannot be established",
    },
    DismissalReason.OFFENSIVE: {
        KK: "өтініште балағат, қорлайтын сөздер немесе қоқан-лоқы бар",
        RU: "обращение содержит нецензурные или оскорбительные выражения либо угрозы",
        EN: "the appeal contains obscene or insulting language or threats",
    },
    DismissalReason.REPEATED_WITHOUT_NEW_ARGUMENTS: {
        KK: "өтініш бұрын жауап берілген өтінішті жаңа дәлелсіз қайталайды",
        RU: "обращение повторяет рассмотренное ранее и не содержит новых доводов",
        EN: "it repeats an appeal already answered and brings no new argument",
    },
    DismissalReason.NOT_AN_APPEAL: {
        KK: "хабарлама өтініш болып табылмайды",
        RU: "сообщение не является обращением",
        EN: "the message is not an appeal",
    },
    DismissalReason.WITHDRAWN: {
        KK: "өтініш берушінің өзі өтінішті кері қайтарып алды",
        RU: "обращение отозвано заявителем",
        EN: "the applicant withdrew it",
    },
}

DEADLINE_WORDS: dict[DeadlineKind, dict[Language, str]] = {
    DeadlineKind.FORWARDING: {
        KK: "қайта жіберу мерзімі",
        RU: "срок перенаправления",
        EN: "forwarding deadline",
    },
    DeadlineKind.ANSWER: {KK: "қарау мерзімі", RU: "срок рассмотрения", EN: "answer deadline"},
}


def local_time(value: datetime, tz: tzinfo) -> str:
    """`value` as local time in `tz`, `DD.MM.YYYY HH:MM`."""
    return value.astimezone(tz).strftime("%d.%m.%Y %H:%M")


# The sentence giving the status lookup code (empty for appeals registered before codes).
LOOKUP_SENTENCE: dict[Language, Template] = {
    KK: Template(" Өтініш күйін тексеру коды: $code."),
    RU: Template(" Код для проверки статуса: $code."),
    EN: Template(" Status lookup code: $code."),
}


# Why an extended deadline is not the day the body named (empty when it is).
MOVED_SENTENCE: dict[Language, Template] = {
    KK: Template(
        " Орган $day күнін ұсынды, ол — демалыс күні: мерзім келесі жұмыс күні аяқталады."
    ),
    RU: Template(
        " Орган назвал $day — это выходной день, поэтому срок истекает в следующий рабочий день."
    ),
    EN: Template(" The body named $day, a day off, so the term ends on the next working day."),
}


def moved_sentence(day: date | None, language: Language) -> str:
    return MOVED_SENTENCE[language].substitute(day=day.strftime("%d.%m.%Y")) if day else ""


# Where a citizen may complain of a refusal: the supervising body, if the body has one, or
# the court (always).
COMPLAIN_TO: dict[Language, tuple[Template, str]] = {
    KK: (Template(" жоғары тұрған органға ($supervisor) немесе сотқа"), " сотқа"),
    RU: (Template(" в вышестоящий орган ($supervisor) или в суд"), " в суд"),
    EN: (Template(" to the supervising body, $supervisor, or to a court"), " to a court"),
}


def complain_to(supervisor: str | None, language: Language) -> str:
    above, court = COMPLAIN_TO[language]
    return above.substitute(supervisor=supervisor) if supervisor else court


# How the citizen answers the answer: a reply to this notice (intake's SMS replies,
# services/intake/feedback.py) rates it, and with a text after 2 contests it — a repeat
# complaint to the supervising body; without one, only the rating (and a court) remain.
FEEDBACK_SENTENCE: dict[Language, tuple[Template, Template]] = {
    KK: (
        Template(
            " Жауапқа баға беру үшін жауап жіберіңіз: «$number 1» — қанағаттанамын, "
            "«$number 2» — қанағаттанбаймын; «$number 2» кейін шағымыңызды жазсаңыз, ол "
            "жоғары тұрған органға ($supervisor) қайталама шағым ретінде тіркеледі."
        ),
        Template(
            " Жауапқа баға беру үшін жауап жіберіңіз: «$number 1» — қанағаттанамын, "
            "«$number 2» — қанағаттанбаймын."
        ),
    ),
    RU: (
        Template(
            " Оцените ответ, ответив на это сообщение: «$number 1» — удовлетворены, "
            "«$number 2» — нет; текст жалобы после «$number 2» будет зарегистрирован как "
            "повторная жалоба в вышестоящий орган ($supervisor)."
        ),
        Template(
            " Оцените ответ, ответив на это сообщение: «$number 1» — удовлетворены, "
            "«$number 2» — нет."
        ),
    ),
    EN: (
        Template(
            " Rate the answer by replying: '$number 1' if satisfied, '$number 2' if not; "
            "a complaint written after '$number 2' is registered as a repeat complaint to the "
            "supervising body, $supervisor."
        ),
        Template(" Rate the answer by replying: '$number 1' if satisfied, '$number 2' if not."),
    ),
}


def feedback_sentence(number: str, supervisor: str | None, language: Language) -> str:
    contest, rate_only = FEEDBACK_SENTENCE[language]
    if supervisor:
        return contest.substitute(number=number, supervisor=supervisor)
    return rate_only.substitute(number=number)


def lookup_sentence(code: str | None, language: Language) -> str:
    return LOOKUP_SENTENCE[language].substitute(code=code) if code else ""


def render(template_name: str, language: Language, variables: dict[str, str]) -> str:
    """Render in `language`; KeyError when a variable is missing (never a half-filled text)."""
    return TEMPLATES[template_name][language].substitute(variables)


def render_subject(template_name: str, language: Language, variables: dict[str, str]) -> str:
    return SUBJECTS[template_name][language].substitute(variables)
