"""Delivery policy as plain functions: which channel, whether quiet hours defer an SMS, how
long to wait before the next attempt, and a citizen's preferences.

No I/O and no clock of its own: callers pass "now", so every rule is testable at any hour.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema

from contracts import DeliveryChannel

_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")


def _local_time(value: object) -> object:
    """Quiet hours are a wall-clock time where the citizen lives: `22:00` or `22:00:00`, no
    offset, no fraction, no number of seconds since midnight."""
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and _LOCAL_TIME.match(value):
        return value
    raise ValueError("a local time HH:MM or HH:MM:SS without an offset, e.g. 22:00")


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    WithJsonSchema({"type": "string", "pattern": _LOCAL_TIME.pattern, "examples": ["22:00"]}),
]


class CitizenPreferences(BaseModel):
    """What a citizen asked for. Keyed by IIN, phone (+7XXXXXXXXXX) or e-mail."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "preferred_channel": "email",
                    "opt_out": False,
                    "quiet_hours_start": "22:00",
                    "quiet_hours_end": "08:00",
                }
            ]
        },
    )

    preferred_channel: DeliveryChannel | None = Field(
        default=None, description="Channel to use when the citizen has an address for it."
    )
    opt_out: StrictBool = Field(
        default=False,
        description="No optional notices. Mandatory legal notices (registration, forwarding, "
        "extension, answer, non-consideration) are sent regardless.",
    )
    quiet_hours_start: LocalTime | None = Field(
        default=None, description="Start of SMS quiet hours, local time; null → default."
    )
    quiet_hours_end: LocalTime | None = Field(
        default=None, description="End of SMS quiet hours, local time; null → default."
    )


def choose_channel(
    addresses: Mapping[DeliveryChannel, str | None],
    available: Iterable[DeliveryChannel],
    order: Iterable[DeliveryChannel],
    preferred: DeliveryChannel | None = None,
) -> tuple[DeliveryChannel, str] | None:
    """The preferred channel if it is available and the recipient has an address on it,
    otherwise the first such channel in `order`; None when the recipient is unreachable."""
    usable = set(available)
    candidates = [preferred, *order] if preferred else list(order)
    for channel in candidates:
        if channel in usable and addresses.get(channel):
            return channel, addresses[channel]  # type: ignore[return-value]
    return None


def quiet_hours_end(now: datetime, start: time, end: time, tz: tzinfo) -> datetime | None:
    """When the quiet period `now` falls in ends (aware datetime), or None if it is not quiet.

    `start > end` spans midnight (22:00–08:00); `start == end` means no quiet hours.
    """
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
    else:
        quiet = clock >= start or clock < end
    if not quiet:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz)


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with jitter ("equal jitter": half fixed, half random),
    so a gateway outage does not bring every pending message back at the same second."""

    max_attempts: int = 6
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    rng: random.Random = field(default_factory=random.Random)

    def delay_after(self, attempt: int) -> timedelta:
        """How long to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return timedelta(seconds=ceiling / 2 + self.rng.uniform(0, ceiling / 2))
