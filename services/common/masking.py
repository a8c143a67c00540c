"""Masking of citizens' personal data (IIN, phone, e-mail) before anything is logged.

Owns: how each kind of personal datum is shown in logs, and a scrubber for free text (error
messages, reprs) that masks anything looking like an IIN/BIN, a phone number or an e-mail.
Every log line goes through `scrub` (services.common.logs.JsonFormatter), as a safety net.
Does not own: what is stored or published — services keep personal data where the law needs
it (their own database, the events the competent body receives); only logs are masked.

The masked forms keep just enough to tell two log lines apart while debugging (the last two
digits, the mail domain), never enough to identify a person.
"""

from __future__ import annotations

import re

__all__ = [
    "mask_email",
    "mask_iin",
    "mask_phone",
    "scrub",
]

_MASK = "*"

# 12-digit runs (IIN/BIN), phone-like runs (+7 / 8 and 10 digits with separators), e-mails.
_IIN_RUN = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_PHONE_RUN = re.compile(r"(?<![0-9])(?:\+?7|8)[\s\-()]*(?:[0-9][\s\-()]*){9}[0-9](?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def mask_iin(iin: str | None) -> str | None:
    """`900101300017` → `**********17`."""
    if not iin:
        return iin
    return _MASK * max(len(iin) - 2, 0) + iin[-2:]


def mask_phone(phone: str | None) -> str | None:
    """`+77011234567` → `+7*******67`: country code and the last two digits only."""
    if not phone:
        return phone
    digits = re.sub(r"[^0-9]", "", phone)
    return "+7" + _MASK * max(len(digits) - 3, 0) + digits[-2:]


def mask_email(email: str | None) -> str | None:
    """`erlan.akhmetov@example.kz` → `e***@example.kz`."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    return (local[:1] + _MASK * 3 + at + domain) if at else _MASK * 3


def scrub(text: str) -> str:
    """Mask whatever in free text looks like an e-mail, an IIN/BIN or a phone number."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)) or "", text)
    text = _IIN_RUN.sub(lambda m: mask_iin(m.group(0)) or "", text)
    return _PHONE_RUN.sub(lambda m: mask_phone(m.group(0)) or "", text)
