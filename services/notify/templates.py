"""Message templates per language. Rendering uses string.Template: placeholders only, so a
template can never run code. Dates are shown in Asia/Almaty local time."""

from __future__ import annotations

from datetime import datetime
from string import Template
from zoneinfo import ZoneInfo

from contracts import Language

LOCAL_TZ = ZoneInfo("Asia/Almaty")

TEMPLATES: dict[str, dict[Language, Template]] = {
    "appeal_registered": {
        Language.KK: Template(
            "Өтінішіңіз тіркелді, нөмірі $registration_number ($registered_at). "
            "Жауап беру мерзімі: $answer_due_at дейін."
        ),
        Language.RU: Template(
            "Ваше обращение зарегистрировано под номером $registration_number ($registered_at). "
            "Срок рассмотрения: до $answer_due_at."
        ),
        Language.EN: Template(
            "Your appeal is registered as $registration_number ($registered_at). "
            "It will be answered by $answer_due_at."
        ),
    },
}


def local_time(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%d.%m.%Y %H:%M")


def render(template_name: str, language: Language, variables: dict[str, str]) -> str:
    """Render in `language`; KeyError when a variable is missing (never a half-filled text)."""
    return TEMPLATES[template_name][language].substitute(variables)
