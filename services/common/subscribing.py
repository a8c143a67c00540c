"""Typed subscribers: how every service declares what it consumes.

A service names, per topic, the contract type its messages have, and gives a handler that
takes that contract value (and the Kafka message, for its partition, topic and headers):

    subscribe_in_keyed_batches(
        runtime, {topics.APPEALS_REGISTERED: AppealRegistered}, handle=on_registered, ...)

    async def on_registered(appeal: AppealRegistered, message: KafkaMessage) -> None: ...

What that gives:
- **The contract is documented.** The function registered with FastStream declares the
  payload type, so the service's AsyncAPI document shows each input's schema (a subscriber
  over several topics shows the union of their types). FastStream does not validate it a
  second time: the value comes from our decoder (`Decoded`).
- **Bytes that are not the contract go to the dead-letter topic**, with the original bytes,
  key, headers and the reason (`messaging.dead_letter`), and the message is acknowledged:
  one bad record never blocks its partition. Anything else a handler raises is not
  acknowledged (redelivery), exactly as before.
- `subscribe` handles one message at a time (`AckPolicy.NACK_ON_ERROR`); the decoder
  dead-letters and acknowledges (FastStream's `AckMessage`) what it cannot read.
- `subscribe_in_keyed_batches` runs the handler over batches, different keys concurrently,
  one key in order (`services.common.batching`); each record is decoded in its turn, so a
  record that is not the format is dead-lettered in its place and the batch goes on.
  With `whole_key=` instead of `handle=`, a key's records of a batch come to one call (the
  ones that are not the format dead-lettered first) — for a consumer that reads and writes
  a key's state once for all of them.

Not owned here: what a handler does, idempotency of its effects, topic creation.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Union

from faststream import AckPolicy
from faststream.exceptions import AckMessage
from faststream.kafka.message import KafkaMessage
from pydantic import BaseModel, TypeAdapter

from services.common.batching import DEFAULT_CONCURRENCY, DeadLetterSink, keyed_batch_subscriber
from services.common.messaging import Undecodable, dead_letter, decode_bytes, documented_function
from services.common.runtime import ServiceRuntime, membership

RecordHandler = Callable[[Any, KafkaMessage], Awaitable[None]]
"""A service's handler: the decoded contract value and the Kafka message it came in."""
KeyHandler = Callable[[list[tuple[Any, KafkaMessage]]], Awaitable[None]]
"""A service's handler of one key's records of a batch: each decoded value with its message,
in order."""


class Payloads:
    """What a subscriber reads, topic by topic: public topic name → contract type (a
    pydantic model or an annotated union such as `contracts.AgencyAction`)."""

    def __init__(self, runtime: ServiceRuntime, by_public_topic: Mapping[str, Any]) -> None:
        if not by_public_topic:
            raise ValueError("a subscriber reads at least one topic")
        self.public = {runtime.topic(name): name for name in by_public_topic}
        self._adapters = {
            runtime.topic(name): _adapter(kind) for name, kind in by_public_topic.items()
        }
        kinds = list(dict.fromkeys(by_public_topic.values()))
        self.documented: Any = kinds[0] if len(kinds) == 1 else Union[tuple(kinds)]  # noqa: UP007

    @property
    def topics(self) -> list[str]:
        """The real topic names (with the deployment's prefix)."""
        return list(self._adapters)

    def public_topic(self, message: KafkaMessage) -> str:
        return self.public[message.raw_message.topic]

    def read(self, message: KafkaMessage) -> Any:
        """The message as its topic's contract type; `Undecodable` with the reason if not."""
        return decode_bytes(message.body, self._adapters[message.raw_message.topic])


def _adapter(kind: Any) -> type[BaseModel] | TypeAdapter[Any]:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind
    return TypeAdapter(kind)


def subscribe(
    runtime: ServiceRuntime,
    payloads: Mapping[str, Any],
    *,
    group_id: str,
    handle: RecordHandler,
    title: str,
    description: str,
    **subscriber_options: Any,
) -> Any:
    """Consume one message at a time: `handle(payload, message)`, the offset committed
    after it returns; undecodable messages dead-lettered and acknowledged."""
    reading = Payloads(runtime, payloads)

    async def decoder(message: KafkaMessage, _default: Any) -> Any:
        try:
            return reading.read(message)
        except Undecodable as exc:
            await dead_letter(runtime, message, exc)
            raise AckMessage() from exc

    subscriber = runtime.broker.subscriber(
        *reading.topics,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=title,
        description=description,
        **(membership(runtime, title) | subscriber_options),
    )
    function = documented_function(
        getattr(handle, "__name__", "on_message"), handle.__doc__, reading.documented, handle
    )
    subscriber(function, decoder=decoder)
    return subscriber


def subscribe_in_keyed_batches(
    runtime: ServiceRuntime,
    payloads: Mapping[str, Any],
    *,
    group_id: str,
    title: str,
    description: str,
    handle: RecordHandler | None = None,
    whole_key: KeyHandler | None = None,
    concurrency: int | asyncio.Semaphore = DEFAULT_CONCURRENCY,
    dead_letter_to: DeadLetterSink | None = None,
    **subscriber_options: Any,
) -> Any:
    """Consume in keyed batches (services.common.batching): `handle(payload, message)` per
    record, one key in order, different keys at once — or `whole_key([(payload, message),
    …])` per key and batch; a record that is not its topic's contract goes to
    `dead_letter_to` (default: the dead-letter topic) in its turn."""
    if (handle is None) == (whole_key is None):
        raise ValueError("give a handler per record (handle) or per key (whole_key)")
    reading = Payloads(runtime, payloads)
    to_dead_letters = dead_letter_to or functools.partial(dead_letter, runtime)
    given: Any = handle or whole_key

    async def handle_record(message: KafkaMessage) -> None:
        assert handle is not None
        await handle(reading.read(message), message)

    async def handle_key(messages: list[KafkaMessage]) -> None:
        assert whole_key is not None
        readable = []
        for message in messages:
            try:
                readable.append((reading.read(message), message))
            except Undecodable as exc:
                await to_dead_letters(message, exc)
        if readable:
            await whole_key(readable)

    handle_record.__name__ = getattr(given, "__name__", "on_record")
    handle_record.__doc__ = given.__doc__
    return keyed_batch_subscriber(
        runtime,
        *reading.topics,
        group_id=group_id,
        handle=handle_record,
        title=title,
        description=description,
        concurrency=concurrency,
        documents=reading.documented,
        dead_letter_to=dead_letter_to,
        whole_key=handle_key if whole_key is not None else None,
        **subscriber_options,
    )
