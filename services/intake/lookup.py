"""The public status lookup: what an anonymous caller must present, and what it is shown.

Registration numbers are sequential (`ZH-20260305-000123`, see registration.py), so a number
alone proves nothing: anyone could walk a day's numbers. An anonymous lookup therefore needs
the appeal's *lookup code*, which only the applicant receives (in the registration notice and
in the gateway's 201 answer):

- the code is HMAC-SHA256(lookup key, appeal id), its first 40 bits in Crockford base32,
  shown `ABCD-EFGH`. Derived, not stored: the same appeal always has the same code (a
  redelivered registration repeats it), and appeals registered before codes existed have
  one too. 40 bits against a rate limit of a few tries a minute is beyond guessing;
- it is read forgivingly (case, dashes, spaces, and the letters people mistake for digits:
  O→0, I/L→1) and compared in constant time;
- a wrong code, an unknown number and an appeal the public may not see are the same 404,
  so an answer never tells whether a number exists.

What the public view shows: status, the current body, deadlines, kind, category, language,
channel, dates, and the timeline — with the place cut to its district (the first four KATO
digits, `7511` of `751110000`, padded `751100000`), and without free text (answer summaries,
reasons: bodies and triage operators write them in their own words and may name people; the
answer itself reaches the applicant by notice), without `urgent` and without `repeat_of` (it
would link a person's appeals). Never shown to an anonymous
caller at all, code or not: crime and security reports (categories `police`, `corruption`,
and whatever is registered urgent) — a code can leak, and saying where such a report went
can endanger whoever made it. An operator with `appeals:read` sees every appeal in full.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from contracts import AppealRegistered, Category
from services.common.secret_files import SecretRef

CODE_CHARS = 8
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)
_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1"})

# Reports of a crime or a threat to security: never shown to anonymous callers.
SECURITY_CATEGORIES = frozenset({Category.POLICE, Category.CORRUPTION})

# Timeline fields written in someone's own words: a body's answer summary, redirect and
# extension reasons, a triage operator's note and name quoted in a routing reason.
FREE_TEXT = frozenset({"summary", "how_to_obtain", "reason", "note"})


def lookup_code(key: bytes, appeal_id: str) -> str:
    digest = hmac.new(key, f"lookup:{appeal_id}".encode(), hashlib.sha256).digest()
    code = base64.b32encode(digest[:5]).decode().translate(_FROM_RFC4648)
    return f"{code[:4]}-{code[4:]}"


def normalise(presented: str) -> str | None:
    """`abcd efgh`, `ABCD-EFGH`, `abcdefgh` → `ABCD-EFGH`; None if it cannot be a code."""
    cleaned = presented.upper().replace("-", "").replace(" ", "").translate(_MISREAD)
    if len(cleaned) != CODE_CHARS or any(char not in CROCKFORD for char in cleaned):
        return None
    return f"{cleaned[:4]}-{cleaned[4:]}"


class LookupCodes:
    """Codes made and checked with the lookup key (INTAKE_LOOKUP_SECRET or its file)."""

    def __init__(self, key: SecretRef) -> None:
        self.key = key

    def code_for(self, appeal_id: str) -> str:
        return lookup_code(self.key.value, appeal_id)

    def matches(self, appeal_id: str, presented: str) -> bool:
        expected = self.code_for(appeal_id).encode()
        given = (normalise(presented) or "").encode()
        return hmac.compare_digest(expected, given)


def hidden_from_public(registered: AppealRegistered) -> bool:
    return registered.urgent or registered.category in SECURITY_CATEGORIES


def district_of(kato: str | None) -> str | None:
    """The district a 9-digit KATO code lies in, as a KATO code: `751110000` → `751100000`."""
    return f"{kato[:4]}00000" if kato else None


def public_view(status: dict[str, Any]) -> dict[str, Any]:
    """The anonymous caller's view of `appeal_status(...)` (see the module docstring)."""
    shown = {k: v for k, v in status.items() if k not in ("urgent", "repeat_of", "region_kato")}
    shown["district_kato"] = district_of(status.get("region_kato"))
    shown["timeline"] = [_public_entry(entry) for entry in status["timeline"]]
    return shown


def _public_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in FREE_TEXT}
