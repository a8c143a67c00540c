"""The Kafka channels intake reads, as one table: topic, native format, adapter.

Adding a channel that publishes to Kafka is one row here plus its adapter; the subscriber,
dead-lettering, metrics and registration are shared. `read_channel_message` is the whole pure
path from raw bytes to an outcome: a draft, a rejection with reasons, or `Undecodable`
(dead-letter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from contracts import Call1414Appeal, Channel, EOtinishAppeal, IKomek109Appeal, topics
from services.common.messaging import decode_bytes
from services.intake.adapters import (
    AppealDraft,
    Rejection,
    adapt_1414,
    adapt_eotinish,
    adapt_ikomek109,
)

Adapter = Callable[[Any, datetime, datetime | None], AppealDraft | Rejection]


@dataclass(frozen=True)
class ChannelFormat:
    channel: Channel
    topic: str
    model: type[BaseModel]
    adapt: Adapter


CHANNEL_FORMATS: tuple[ChannelFormat, ...] = (
    ChannelFormat(Channel.CALL_1414, topics.CHANNEL_1414, Call1414Appeal, adapt_1414),
    ChannelFormat(Channel.IKOMEK109, topics.CHANNEL_IKOMEK109, IKomek109Appeal, adapt_ikomek109),
    ChannelFormat(Channel.EOTINISH, topics.CHANNEL_EOTINISH, EOtinishAppeal, adapt_eotinish),
)

FORMAT_BY_TOPIC: dict[str, ChannelFormat] = {fmt.topic: fmt for fmt in CHANNEL_FORMATS}


def read_channel_message(
    fmt: ChannelFormat, raw: bytes, now: datetime, earliest: datetime | None = None
) -> AppealDraft | Rejection:
    """Raw bytes of `fmt`'s topic → a draft or a rejection; Undecodable when not the format."""
    return fmt.adapt(decode_bytes(raw, fmt.model), now, earliest)
