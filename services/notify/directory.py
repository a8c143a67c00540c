"""Who on the agencies' side is told, and how bodies are named in messages.

The staff directory is a small JSON document per agency code — given to notify by
configuration (`NOTIFY_DIRECTORY`: a file path or inline JSON), because no Tyndau service
owns people:

    {
      "astana-energy": {
        "officer":    {"email": "inbox@energy.astana.kz", "phone": null, "language": "ru"},
        "supervisor": {"email": "head@energy.astana.kz", "language": "kk"}
      },
      "prosecutor-astana": {"supervisor": {"email": "appeals@prokuror.kz"}}
    }

`officer` is the desk that receives new assignments and SLA warnings of that body;
`supervisor` is its head, told about breaches when an `sla.breached` event names the code in
`escalate_to` (or the body itself when nobody is named). A code without an entry means
nobody is told; that is logged and counted (`tyndau_notify_unaddressed_total`), never
silent. An agency's production directory would be an HR/IDM integration; this shape is what
it would have to provide.

Body names come from the shared agency registry (`reference/agencies.json`,
read as data — notify never reads routing's database); a name in the directory overrides
it, and an unknown body is shown by its code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts import Language, RecipientRole
from reference.agencies import AgencyRegistry

log = logging.getLogger("tyndau.notify.directory")


class StaffContact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = None
    phone: str | None = None
    language: Language | None = Field(default=None, description="Language of their messages.")


class AgencyEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    names: dict[Language, str] = Field(default_factory=dict)
    officer: StaffContact | None = None
    supervisor: StaffContact | None = None


class StaffDirectory:
    def __init__(
        self,
        entries: dict[str, AgencyEntry],
        names: dict[str, dict[Language, str]],
        parents: dict[str, str | None] | None = None,
    ):
        self.entries = entries
        self.names = names
        self.parents = parents if parents is not None else load_agency_parents()

    @classmethod
    def load(cls, directory: str | None, agency_names_file: str | None = None) -> StaffDirectory:
        registry = _registry(agency_names_file)  # read once, for names and parents
        return cls(parse_directory(directory), _names_of(registry), _parents_of(registry))

    def supervising_body(self, agency_code: str) -> str | None:
        """The body above `agency_code` in the registry (where a citizen may complain)."""
        return self.parents.get(agency_code)

    def contact(self, agency_code: str, role: RecipientRole) -> StaffContact | None:
        entry = self.entries.get(agency_code)
        if entry is None:
            return None
        if role is RecipientRole.SUPERVISOR:
            return entry.supervisor or entry.officer
        return entry.officer

    def agency_name(self, agency_code: str, language: Language) -> str:
        entry = self.entries.get(agency_code)
        for names in (entry.names if entry else {}, self.names.get(agency_code, {})):
            if names.get(language):
                return names[language]
        return agency_code


def parse_directory(source: str | None) -> dict[str, AgencyEntry]:
    """Inline JSON (starts with `{`) or the path of a JSON file; None/empty → empty."""
    if not source or not source.strip():
        return {}
    text = source if source.lstrip().startswith("{") else Path(source).read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return {code: AgencyEntry.model_validate(entry) for code, entry in raw.items()}


def _registry(path: str | None) -> AgencyRegistry | None:
    try:
        return AgencyRegistry.from_file(Path(path)) if path else AgencyRegistry.default()
    except (OSError, KeyError, ValueError) as exc:
        log.warning("agency registry unavailable from %s (%s); bodies shown by code", path, exc)
        return None


def load_agency_parents(path: str | None = None) -> dict[str, str | None]:
    """Each body's supervising body (its parent), from the shared agency registry."""
    return _parents_of(_registry(path))


def load_agency_names(path: str | None = None) -> dict[str, dict[Language, str]]:
    """Names per agency code and language, from the shared agency registry (data)."""
    return _names_of(_registry(path))


def _parents_of(registry: AgencyRegistry | None) -> dict[str, str | None]:
    if registry is None:
        return {}
    return {code: agency.parent for code, agency in registry.by_code.items()}


def _names_of(registry: AgencyRegistry | None) -> dict[str, dict[Language, str]]:
    if registry is None:
        return {}
    return {
        code: {
            Language(lang): name
            for lang, name in agency.names.items()
            if lang in Language._value2member_map_
        }
        for code, agency in registry.by_code.items()
    }
