"""Shared vocabulary of every message that crosses a Tyndau service boundary.

Owns: the enums used by several contracts, the `Event` envelope every lifecycle event
shares, the small value models (`Applicant`, `GeoPoint`, `FieldError`) and the rule for
deterministic event ids. Does not own: any business validation (IIN check digits, phone
normalisation, KATO lookups) — services apply those before they build a contract.
"""

from __future__ import annotations

import copy
import uuid
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.topics import (
    AGENCY_CODE_PATTERN,
    CHANNEL_1414,
    CHANNEL_EOTINISH,
    CHANNEL_IKOMEK109,
)

# Fixed once for the project; changing it changes every event id and breaks replay dedup.
EVENT_ID_NAMESPACE = uuid.UUID("b69f0067-1ae4-4d7e-82b0-6cc97a7380e4")

KatoCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")]
"""A 9-digit KATO (administrative-territorial unit) code, e.g. ``711210000``."""

AgencyCode = Annotated[str, StringConstraints(pattern=AGENCY_CODE_PATTERN)]
"""A top-level body's code from the agency registry; part of its inbox topic name."""

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]


def deterministic_id(*parts: str) -> str:
    """Return a UUIDv5 string derived from ``parts`` only.

    Build an event id from what caused the event (e.g. the cause's event id and the kind of
    reaction), so reprocessing the same input after a crash yields the same id and the
    consumer's unique index turns the duplicate into a no-op. Parts are length-prefixed, so
    ``("ab", "c")`` and ``("a", "bc")`` give different ids.
    """
    if not parts:
        raise ValueError("deterministic_id needs at least one part")
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"deterministic_id parts must be str, got {type(part).__name__}")
    name = "".join(f"{len(part)}:{part}" for part in parts)
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


def documented(example: dict[str, Any], **config: Any) -> ConfigDict:
    """Model config carrying the model's single, complete JSON example."""
    return ConfigDict(json_schema_extra={"examples": [example]}, **config)  # type: ignore[typeddict-item]


class Documented(BaseModel):
    """Base of every contract model: gives access to the model's documented example."""

    @classmethod
    def example(cls) -> Self:
        """The model's documented example, validated — usable in tests and docs."""
        return cls.model_validate(cls.example_payload())

    @classmethod
    def example_payload(cls, **overrides: Any) -> dict[str, Any]:
        """The documented example as the JSON a producer would send, with top-level fields
        replaced by `overrides` (demo and benchmark traffic starts from it)."""
        extra = cls.model_config.get("json_schema_extra")
        if not isinstance(extra, dict) or not extra.get("examples"):
            raise TypeError(f"{cls.__name__} does not document an example")
        examples = extra["examples"]
        assert isinstance(examples, list)
        return copy.deepcopy(examples[0]) | overrides


class AppealKind(StrEnum):
    """Kind of appeal under the Administrative Procedural Code (DESIGN §2)."""

    APPLICATION = "application"
    COMPLAINT = "complaint"
    PROPOSAL = "proposal"
    REQUEST = "request"
    RESPONSE = "response"
    REPORT = "report"


class Language(StrEnum):
    """Language of an appeal and of the answer to it."""

    KK = "kk"
    RU = "ru"
    EN = "en"


class Channel(StrEnum):
    """Where an appeal came from."""

    CALL_1414 = "1414"
    IKOMEK109 = "ikomek109"
    EOTINISH = "eotinish"
    HTTP = "http"
    OPEN311 = "open311"


CHANNEL_TOPIC: dict[Channel, str] = {
    Channel.CALL_1414: CHANNEL_1414,
    Channel.IKOMEK109: CHANNEL_IKOMEK109,
    Channel.EOTINISH: CHANNEL_EOTINISH,
}
"""Kafka topic of each channel that publishes directly; `Channel.HTTP` and `Channel.OPEN311`
(Open311 GeoReport v2) use intake's HTTP API."""


class FieldError(Documented):
    """One business-rule violation found in an incoming appeal."""

    model_config = documented(
        {
            "field": "caller.iin",
            "code": "iin_checksum",
            "message": "IIN 900101300018 fails the check digit",
        },
        frozen=True,
        extra="forbid",
    )

    field: str = Field(
        description="Dotted path of the offending field in the channel's own format, "
        "e.g. `caller.iin`; empty string when the error concerns the whole appeal."
    )
    code: NonEmptyStr = Field(
        description="Stable machine-readable error code, e.g. `iin_checksum`, "
        "`unknown_category`, `required`."
    )
    message: str = Field(description="Human-readable explanation, safe to show to the channel.")


class Applicant(Documented):
    """Who filed an appeal, as far as intake knows it.

    Values are carried as given after intake's normalisation; contracts do not re-validate
    them, so a rejected appeal can still carry whatever contact data is usable.
    """

    model_config = documented(
        {
            "iin": "900101300017",
            "name": "Ахметов Ерлан Серікұлы",
            "phone": "+77011234567",
            "email": "erlan.akhmetov@example.kz",
            "anonymous": False,
        },
        frozen=True,
        extra="forbid",
    )

    iin: str | None = Field(
        default=None, description="Individual identification number (12 digits), if known."
    )
    name: str | None = Field(default=None, description="Full name as given by the applicant.")
    phone: str | None = Field(
        default=None, description="Mobile phone in E.164 form `+7XXXXXXXXXX`, if given."
    )
    email: str | None = Field(default=None, description="E-mail address, if given.")
    anonymous: bool = Field(
        description="True when the applicant chose not to identify themselves; such appeals "
        "are considered only if they report a crime or a threat to security."
    )


class GeoPoint(Documented):
    """A WGS-84 point."""

    model_config = documented({"lat": 51.128207, "lon": 71.430411}, frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90, description="Latitude in decimal degrees (WGS-84).")
    lon: float = Field(ge=-180, le=180, description="Longitude in decimal degrees (WGS-84).")


class Event(Documented):
    """Envelope shared by every lifecycle event (DESIGN §4).

    Published with Kafka key = `appeal_id`, so one appeal's events stay ordered. Concrete
    events narrow `event_type` to a `Literal` with a default, which lets consumers of shared
    topics discriminate.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: NonEmptyStr = Field(
        description="Deterministic id of this event (see `deterministic_id`): derived from "
        "what caused it, so a replay yields the same id."
    )
    event_type: str = Field(description="Discriminator naming the concrete event.")
    appeal_id: NonEmptyStr = Field(
        description="Id of the appeal the event belongs to, assigned by intake; the Kafka key."
    )
    occurred_at: AwareDatetime = Field(
        description="When the event happened, ISO-8601 with an offset."
    )
    schema_version: int = Field(default=1, ge=1, description="Version of this event's schema.")
    correlation_id: NonEmptyStr = Field(
        description="Id shared by every event of one appeal's story (usually the appeal id "
        "or the id of the channel message that started it)."
    )
    causation_id: str | None = Field(
        default=None,
        description="Event id of the event that caused this one; null for the first event.",
    )
