"""Structured logs: one JSON object per line with the service, and — while a message is being
handled — its event id, appeal id and correlation id. Personal data is masked on the way out,
whatever a caller passed in: IINs, phone numbers and e-mail addresses never reach a log in
clear. (Names cannot be recognised by pattern; code must not log them.)

`MessageContextMiddleware` (installed on every broker by services.common.runtime) binds the ids
of the message in hand (event id, appeal id = the Kafka key, correlation id, event type) and
carries the W3C `traceparent` header from the consumed message onto everything published
while handling it, so a trace runs from channel to notification.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from faststream import BaseMiddleware

from services.common.headers import (
    CORRELATION_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    TRACEPARENT_HEADER,
)
from services.common.masking import scrub

_message_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "tyndau_message_context", default=MappingProxyType({})
)


def mask_personal_data(text: str) -> str:
    """What every log line goes through (services.common.masking.scrub)."""
    return scrub(text)


def bind(**values: str | None) -> contextvars.Token:
    """Add ids to the logging context of the current task (returns a token for reset)."""
    merged = {**_message_context.get(), **{k: v for k, v in values.items() if v}}
    return _message_context.set(merged)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": mask_personal_data(record.getMessage()),
            **_message_context.get(),
        }
        if record.exc_info:
            entry["exception"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every rebalance; warnings are what operators need.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def bind_message(msg: Any) -> contextvars.Token:
    """Bind the ids of one consumed message (a FastStream `KafkaMessage` of one record):
    correlation id, appeal id (the Kafka key), event type and id, traceparent, topic."""
    headers = msg.headers or {}
    return bind(
        correlation_id=_text(headers.get(CORRELATION_HEADER)) or msg.correlation_id,
        appeal_id=_text(getattr(msg.raw_message, "key", None)),
        event_type=_text(headers.get(EVENT_TYPE_HEADER)),
        event_id=_text(headers.get(EVENT_ID_HEADER)),
        traceparent=_text(headers.get(TRACEPARENT_HEADER)),
        topic=getattr(msg.raw_message, "topic", None),
    )


def unbind(token: contextvars.Token) -> None:
    """Undo the `bind` / `bind_message` that returned `token`."""
    _message_context.reset(token)


class MessageContextMiddleware(BaseMiddleware):
    """Binds the consumed message's ids for logs; propagates traceparent to what it publishes.

    A batch (the raw message is a tuple of records) binds nothing here: its records carry
    different ids, and `services.common.batching` binds each record's around its handler."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        if isinstance(msg.raw_message, tuple):
            return await call_next(msg)
        token = bind_message(msg)
        try:
            return await call_next(msg)
        finally:
            unbind(token)

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        traceparent = _message_context.get().get("traceparent")
        if traceparent and TRACEPARENT_HEADER not in (cmd.headers or {}):
            cmd.headers = {**(cmd.headers or {}), TRACEPARENT_HEADER: traceparent}
        return await call_next(cmd)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
