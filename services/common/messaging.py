"""How services read and write events: decoding to a contract type (or the reason it is not
one) and dead-lettering on the way in — wired into subscribers by
`services.common.subscribing` —, keyed and correlated publishing on the way out, and
insert-once for idempotent effects.

Delivery is at-least-once (a handler may see a message twice); these helpers make the effect
exactly-once: deterministic ids + unique keys turn a duplicate into a no-op. Nothing here
decides business rules.
"""

from __future__ import annotations

import base64
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from faststream.kafka.annotations import KafkaMessage as KafkaMessageParam
from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel, TypeAdapter, ValidationError, WrapValidator
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from contracts import DeadLetter, Event, deterministic_id, topics
from services.common.headers import CORRELATION_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER
from services.common.runtime import ServiceRuntime

log = logging.getLogger("tyndau.messaging")
DUPLICATE_KEY_CODE = 11000

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")


class Undecodable(Exception):
    """The bytes are not the expected format at all (dead-letter, not a business rejection)."""


Schema = type[ModelT] | TypeAdapter[Any]


def _already_decoded(value: Any, _validate: Any) -> Any:
    return value


Decoded = Annotated[T, WrapValidator(_already_decoded)]
"""A subscriber parameter documented as the contract type `T` (FastStream derives the
AsyncAPI payload from it) whose value the subscriber's own decoder made: not validated a
second time. For a keyed batch subscriber it only documents what one record carries; the
records are decoded one by one in their turn."""


def documented_function(
    name: str, doc: str | None, documented: Any, body: Callable[..., Awaitable[None]]
) -> Callable[..., Awaitable[None]]:
    """`body(payload, message)` under a signature FastStream reads: the payload documented
    as `documented`, the message injected from the context."""

    async def function(payload: Any, message: Any) -> None:
        await body(payload, message)

    function.__name__ = name
    function.__doc__ = doc
    function.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "payload", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Decoded[documented]
            ),
            inspect.Parameter(
                "message", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=KafkaMessageParam
            ),
        ]
    )
    return function


def decode(message: KafkaMessage, model: Schema) -> Any:
    """Parse the raw Kafka value as `model`, or raise Undecodable with the reason."""
    return decode_bytes(message.body, model)


def decode_bytes(raw: bytes, model: Schema) -> Any:
    """Parse JSON bytes (a Kafka value, an HTTP body) as `model` (a pydantic model or a
    TypeAdapter of a union), or raise Undecodable."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_json(raw)
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise Undecodable(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """The first ten problems, each as `field.path: what is wrong`."""
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    ]
    return "; ".join(problems[:10])


def message_headers(message: KafkaMessage) -> dict[str, bytes]:
    raw = message.raw_message.headers or ()
    return {name: value or b"" for name, value in raw}


def correlation_of(message: KafkaMessage) -> str | None:
    value = message_headers(message).get(CORRELATION_HEADER)
    return value.decode("utf-8", "replace") if value else None


async def dead_letter(
    runtime: ServiceRuntime, message: KafkaMessage, error: Exception, appeal_id: str | None = None
) -> DeadLetter:
    """Publish the original message, untouched, with where it came from and why it failed."""
    record = message.raw_message
    letter = DeadLetter(
        # One dead letter per (topic, partition, offset): a redelivery republishes the same id.
        event_id=deterministic_id("dlq", record.topic, str(record.partition), str(record.offset)),
        occurred_at=datetime.now(UTC),
        correlation_id=correlation_of(message),
        appeal_id=appeal_id,
        source_service=runtime.settings.service_name,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key_b64=base64.b64encode(record.key).decode() if record.key else None,
        payload_b64=base64.b64encode(message.body).decode(),
        headers={k: base64.b64encode(v).decode() for k, v in message_headers(message).items()},
        error_type=type(error).__name__,
        error=str(error)[:2000],
    )
    await runtime.broker.publish(
        letter.model_dump_json().encode(),
        runtime.topic(topics.APPEALS_DLQ),
        key=record.key,
        headers={"content-type": "application/json", EVENT_TYPE_HEADER: "dead_letter"},
    )
    if runtime.dead_letters is not None:
        runtime.dead_letters.labels(record.topic).inc()
    log.warning(
        "dead-lettered %s[%s]@%s: %s", record.topic, record.partition, record.offset, letter.error
    )
    return letter


async def publish_event(
    runtime: ServiceRuntime, topic_name: str, event: Event, extra_headers: Mapping[str, str] = ()
) -> None:
    """Publish `event` keyed by appeal id (one appeal's events stay ordered) and wait for the
    broker's acknowledgement."""
    await publish_keyed(
        runtime, topic_name, event, event.appeal_id, event.correlation_id, extra_headers
    )


async def publish_keyed(
    runtime: ServiceRuntime,
    topic_name: str,
    event: BaseModel,
    key: str,
    correlation_id: str,
    extra_headers: Mapping[str, str] = (),
) -> None:
    """Publish under `key` — an appeal's id (`publish_event`), or for a message not about one
    appeal (an incident, a sighting) e.g. its cluster key, so one consumer sees a key's
    messages in order — and wait for the broker's acknowledgement (acks=all)."""
    headers = {
        "content-type": "application/json",
        CORRELATION_HEADER: correlation_id,
        EVENT_TYPE_HEADER: event.event_type,  # type: ignore[attr-defined]
        EVENT_ID_HEADER: event.event_id,  # type: ignore[attr-defined]
        **dict(extra_headers),
    }
    await runtime.broker.publish(
        event.model_dump_json().encode(),
        runtime.topic(topic_name),
        key=key.encode(),
        headers=headers,
        correlation_id=correlation_id,
    )


async def insert_all(collection: AsyncCollection, documents: list[dict[str, Any]]) -> None:
    """Insert every document not there yet, in one command; those whose key exists are left
    as they are (the same documents again: idempotent). Any other error is raised."""
    if not documents:
        return
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors or any(e.get("code") != DUPLICATE_KEY_CODE for e in errors):
            raise


async def insert_once(collection: AsyncCollection, document: dict[str, Any]) -> bool:
    """Insert; True if this call created it, False if a document with that key existed."""
    try:
        await collection.insert_one(document)
        return True
    except DuplicateKeyError:
        return False
