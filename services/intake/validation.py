"""Business-rule checks on channel input. Each problem is a FieldError naming the field, a
stable machine code and a message a channel operator can act on."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

from contracts import REGION_KATO, AppealKind, Category, FieldError, Language
from contracts.topics import AGENCY_CODE_PATTERN

# ASCII digits only and matched in full: "\d" would admit other scripts' digits, and "$"
# would admit a trailing newline.
IIN_PATTERN = re.compile(r"[0-9]{12}")
KATO_PATTERN = re.compile(r"[0-9]{9}")
AGENCY_CODE_RE = re.compile(AGENCY_CODE_PATTERN.strip("^$"), re.ASCII)
# Deliberately simple (RFC 5321 lengths, one @, a dotted domain, no spaces): mail servers are
# the real judge; this only catches what is certainly not an address.
EMAIL_PATTERN = re.compile(
    r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
EMAIL_MAX_CHARS = 254
TEXT_MAX_CHARS = 20_000
SUBJECT_MAX_CHARS = 500
NAME_MAX_CHARS = 300
ADDRESS_MAX_CHARS = 500
# Channel clocks drift; a timestamp this far ahead of ours is still accepted as "now".
CLOCK_SKEW = timedelta(minutes=5)

_IIN_WEIGHTS_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_IIN_WEIGHTS_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_CENTURY_BY_DIGIT = {1: 1800, 2: 1800, 3: 1900, 4: 1900, 5: 2000, 6: 2000}


def iin_problem(iin: str) -> tuple[str, str] | None:
    """Why `iin` is not a valid IIN, as (code, message); None when it is valid."""
    if not IIN_PATTERN.fullmatch(iin):
        return "iin_format", "IIN must be exactly 12 digits"
    digits = [int(c) for c in iin]
    century_digit = digits[6]
    if century_digit not in _CENTURY_BY_DIGIT:
        return "iin_century", "IIN 7th digit (century and sex) must be 1-6"
    year = _CENTURY_BY_DIGIT[century_digit] + int(iin[0:2])
    try:
        date(year, int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return "iin_birth_date", "IIN does not start with a valid birth date YYMMDD"
    check = sum(d * w for d, w in zip(digits[:11], _IIN_WEIGHTS_FIRST, strict=True)) % 11
    if check == 10:
        check = sum(d * w for d, w in zip(digits[:11], _IIN_WEIGHTS_SECOND, strict=True)) % 11
        if check == 10:
            return "iin_check_digit", "IIN cannot have a valid check digit"
    if check != digits[11]:
        return "iin_check_digit", "IIN check digit does not match"
    return None


def normalise_phone(raw: str) -> str | None:
    """`+7XXXXXXXXXX` from common spellings (`8 701 …`, `+7 (701) …`, `7701…`); None if not."""
    digits = re.sub(r"[^0-9]", "", raw)
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] == "7":
        return "+7" + digits
    return None


def parse_timestamp(raw: str) -> datetime | None:
    """An ISO-8601 timestamp with an offset, else None."""
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None or value.utcoffset() is None:
            return None
        value.astimezone(UTC)  # year 1 or 9999 with an offset cannot be compared with "now"
    except (ValueError, OverflowError):
        return None
    return value


class Problems:
    """Collects FieldErrors while a message is checked."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field=field, code=code, message=message))

    def check_iin(self, field: str, iin: str | None) -> None:
        if iin is None:
            return
        problem = iin_problem(iin)
        if problem:
            self.add(field, *problem)

    def check_phone(self, field: str, raw: str | None) -> str | None:
        if raw is None or raw == "":
            return None
        phone = normalise_phone(raw)
        if phone is None:
            self.add(field, "phone_format", "phone must be +7 followed by 10 digits")
        return phone

    def check_language(self, field: str, raw: str) -> Language | None:
        try:
            return Language(raw)
        except ValueError:
            self.add(field, "language_unknown", "language must be one of kk, ru, en")
            return None

    def check_category(self, field: str, raw: str) -> Category | None:
        try:
            return Category(raw)
        except ValueError:
            self.add(field, "category_unknown", f"'{raw[:60]}' is not a national category code")
            return None

    def check_kato(self, field: str, raw: str) -> str | None:
        if not KATO_PATTERN.fullmatch(raw):
            self.add(field, "kato_format", "KATO code must be 9 digits")
            return None
        if raw[:2] not in REGION_KATO:
            self.add(
                field,
                "kato_unknown_region",
                f"KATO code must start with one of the {len(REGION_KATO)} region codes",
            )
            return None
        return raw

    def check_kind(self, field: str, raw: str) -> AppealKind | None:
        try:
            return AppealKind(raw)
        except ValueError:
            self.add(
                field,
                "kind_unknown",
                "kind must be one of " + ", ".join(kind.value for kind in AppealKind),
            )
            return None

    def check_email(self, field: str, raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return None
        email = raw.strip()
        if len(email) > EMAIL_MAX_CHARS or not EMAIL_PATTERN.fullmatch(email):
            self.add(field, "email_format", "e-mail address is not valid")
            return None
        return email

    def check_agency_code(self, field: str, raw: str | None, required: bool = False) -> str | None:
        if raw is None or not raw.strip():
            if required:
                self.add(field, "required", "an agency code is required")
            return None
        if not AGENCY_CODE_RE.fullmatch(raw):
            self.add(field, "agency_code_format", "not an agency code of the registry's form")
            return None
        return raw

    def check_name(self, field: str, raw: str | None, required: bool) -> str | None:
        """A person's name, whitespace collapsed; None when blank (an error if required)."""
        name = " ".join(raw.split()) if raw else ""
        if not name:
            if required:
                self.add(field, "required", "the applicant's name is required")
            return None
        if len(name) > NAME_MAX_CHARS:
            self.add(field, "name_too_long", f"name must be at most {NAME_MAX_CHARS} characters")
            return None
        return name

    def check_optional_text(self, field: str, raw: str | None, max_chars: int) -> str | None:
        """Subject lines, addresses: stripped, None when blank, bounded in length."""
        value = raw.strip() if raw else ""
        if not value:
            return None
        if len(value) > max_chars:
            self.add(field, "too_long", f"must be at most {max_chars} characters")
            return None
        return value

    def check_coordinates(self, field: str, lat: float, lon: float) -> tuple[float, float] | None:
        if not (
            math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            self.add(field, "location_out_of_range", "lat must be in -90..90 and lon in -180..180")
            return None
        return lat, lon

    def check_timestamp(
        self, field: str, raw: str, now: datetime, earliest: datetime | None = None
    ) -> datetime | None:
        value = parse_timestamp(raw)
        if value is None:
            self.add(field, "timestamp_format", "must be ISO-8601 with a UTC offset")
            return None
        if value > now + CLOCK_SKEW:
            self.add(field, "timestamp_in_future", "must not be in the future")
            return None
        if earliest is not None and value < earliest:
            self.add(
                field,
                "timestamp_too_old",
                f"must not be before {earliest.date().isoformat()} "
                "(the start of the working-day calendar)",
            )
            return None
        return value

    def check_text(self, field: str, text: str) -> None:
        if not text.strip():
            self.add(field, "text_empty", "text of the appeal must not be empty")
        elif len(text) > TEXT_MAX_CHARS:
            self.add(field, "text_too_long", f"text must be at most {TEXT_MAX_CHARS} characters")
