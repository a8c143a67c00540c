"""Keyed batch consumption: a subscriber that takes up to `max_records` Kafka records at a
time and runs a per-message handler over them, concurrently across keys and one after the
other within a key. A service swaps `@broker.subscriber(...)` over a one-message handler for
`keyed_batch_subscriber(runtime, ..., handle=that_handler)`; the handler does not change.

What it promises:
- **Order per key.** Records with the same Kafka key (the appeal id, for every Tyndau event)
  are handled sequentially in the order the batch holds them, which is offset order within a
  partition; records with different keys run concurrently. Records without a key are ordered
  per topic partition. Consecutive batches never overlap.
- **Bounded concurrency.** At most `concurrency` handler calls run at once per subscriber
  (or per shared `asyncio.Semaphore`): 16 by default, so the store (FerretDB on SQLite
  answers "database is locked" to a crowd of writers) sees a modest number of writers; 64
  (`CONCURRENCY_WITH_STORE_BATCHER`) for handlers whose store operations go through a
  `StoreBatcher`, where more handlers make larger commands rather than more writers.
- **Nothing committed before it is done.** The subscriber uses `AckPolicy.NACK_ON_ERROR`:
  FastStream commits the batch (`consumer.commit()`, every partition's position after the
  batch) only when the batch handler returns, and it returns only after every record's
  handler has returned or dead-lettered it.
- **A failure redelivers, never skips.** An unexpected error is retried in place a few times
  (`attempts`, short backoff; handlers are idempotent, and a retry keeps the key's order).
  If it persists, no further record of the batch is started, the calls in flight finish, and
  the batch raises `BatchFailed`: FastStream nacks it, which seeks every partition of the
  batch back to its earliest record in the batch (faststream.kafka.message
  `KafkaAckableMessage.nack`), so the whole batch comes again and no offset past the failing
  record is committed. Records that had succeeded run again; idempotent handlers make that a
  republication of the same events (same ids). The consumer group does not move on past a
  record that keeps failing, exactly as with one-message subscribers. Consecutive failed
  batches are redelivered after a growing pause (0.5 s doubling up to 15 s,
  `redelivery_backoff`), so a store that is away for a while is waited for, not hammered.
- **Dead letters one by one.** A handler raising one of `dead_letter_on` (default:
  `Undecodable`) sends that record alone, with its original bytes, to `appeals.dlq.v1` and
  the batch goes on. Handlers that dead-letter themselves work as
  before. Headers that are not UTF-8 (which FastStream's batch parser cannot read, and which
  would otherwise fail every record of the batch forever) are read leniently.
- **Logs** of each handler call carry that record's ids (services.common.logs.bind_message),
  and what it publishes carries that record's `traceparent`.

Not owned here: what a handler does, the idempotency of its effects (the handler's unique
keys and deterministic event ids), topic creation.

`StoreBatcher` is the store-side half: handlers running at once share store commands
(inserts, updates and reads by `_id`), so concurrency turns into fewer, larger commands
instead of a crowd of single-document writers on FerretDB.

Why the whole batch is redelivered rather than committing the prefix before a failure: a
batch interleaves partitions and keys, so "the records before the failing one" is a
per-partition prefix that may hold records whose own key is still unfinished; recomputing
and committing that safely buys little when the handlers are idempotent and failures rare.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage as KafkaMessageParam
from faststream.kafka.message import FAKE_CONSUMER, KafkaMessage
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, WriteError

from services.common.logs import bind_message, unbind
from services.common.messaging import DUPLICATE_KEY_CODE as DUPLICATE_KEY
from services.common.messaging import Undecodable, dead_letter, documented_function
from services.common.runtime import ServiceRuntime, membership

log = logging.getLogger("tyndau.batching")

MessageHandler = Callable[[KafkaMessage], Awaitable[None]]
GroupHandler = Callable[[list[KafkaMessage]], Awaitable[None]]
"""Handles one key's records of a batch together, in their order (`handle_keyed`'s
`whole_key`): for a consumer whose records of one key share state it can read and write
once for all of them."""
DeadLetterSink = Callable[[KafkaMessage, Exception], Awaitable[Any]]

# Defaults sized for one 2-core machine with FerretDB: a batch large enough to amortise the
# commit and let the producer batch publishes, a writer count SQLite tolerates.
DEFAULT_MAX_RECORDS = 256
DEFAULT_CONCURRENCY = 16
# For handlers whose store operations all go through a `StoreBatcher`: the store then sees
# one command in flight per collection and kind whatever the number of handlers, so more
# handlers at once only make those commands larger (docs/measurements.md).
CONCURRENCY_WITH_STORE_BATCHER = 64
# How long an idle consumer waits for records before polling again; FastStream sleeps as
# long again after an empty poll, so this bounds the latency added to a quiet topic.
DEFAULT_BATCH_TIMEOUT_MS = 10
DEFAULT_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_SECONDS = 0.2


class BatchFailed(Exception):
    """A record of the batch failed every attempt; the batch is to be redelivered."""

    def __init__(self, record: ConsumerRecord, error: BaseException) -> None:
        super().__init__(
            f"{record.topic}[{record.partition}]@{record.offset} failed: "
            f"{type(error).__name__}: {error}"
        )
        self.record = record
        self.error = error


def record_key(record: ConsumerRecord) -> Hashable:
    """The ordering key: the Kafka key; records without one keep their partition's order."""
    if record.key is not None:
        return record.key
    return ("partition", record.topic, record.partition)


def record_message(record: ConsumerRecord, headers: dict[str, str] | None = None) -> KafkaMessage:
    """One record of a batch as the `KafkaMessage` a one-message subscriber would get (with
    `headers` as the batch parser decoded them, else decoded here). It cannot be acked or
    nacked by itself: the batch is."""
    if headers is None:
        headers = {name: _header_text(value) for name, value in record.headers or ()}
    return KafkaMessage(
        body=record.value or b"",
        headers=headers,
        reply_to=headers.get("reply_to", ""),
        content_type=headers.get("content-type"),
        message_id=f"{record.offset}-{record.timestamp}",
        correlation_id=headers.get("correlation_id"),
        raw_message=record,
        consumer=FAKE_CONSUMER,
    )


async def handle_keyed(
    messages: Sequence[KafkaMessage],
    handle: MessageHandler,
    *,
    limit: asyncio.Semaphore,
    dead_letter_to: DeadLetterSink | None = None,
    dead_letter_on: tuple[type[Exception], ...] = (Undecodable,),
    key: Callable[[ConsumerRecord], Hashable] = record_key,
    attempts: int = DEFAULT_ATTEMPTS,
    retry_delay: float = DEFAULT_RETRY_DELAY_SECONDS,
    whole_key: GroupHandler | None = None,
) -> None:
    """Run `handle` on every message: same key in order, different keys concurrently, at
    most `limit` calls at once. Returns when every message was handled or dead-lettered;
    raises `BatchFailed` (after the calls in flight finish) when one kept failing.

    With `whole_key`, each key's messages go to one `whole_key(messages)` call instead (in
    order; retried as a whole, like one message; it dead-letters what it cannot read)."""
    groups: dict[Hashable, list[KafkaMessage]] = {}
    for message in messages:
        groups.setdefault(key(message.raw_message), []).append(message)
    failures: list[BatchFailed] = []

    async def handle_or_dead_letter(message: KafkaMessage) -> None:
        try:
            await handle(message)
        except dead_letter_on as exc:
            if dead_letter_to is None:
                raise
            await dead_letter_to(message, exc)

    async def one(message: KafkaMessage, work: Callable[[], Awaitable[None]]) -> None:
        """`work` (the handling of `message`, or of its key's group), retried in place."""
        for attempt in range(1, attempts + 1):
            async with limit:
                if failures:  # failed while this one waited for its turn
                    return
                token = bind_message(message)
                try:
                    await work()
                    return
                except Exception as exc:  # noqa: BLE001 - retried, then fails the batch
                    if attempt == attempts or failures:
                        raise
                    record = message.raw_message
                    log.warning(
                        "%s[%s]@%s attempt %d of %d failed (%s: %s); retrying",
                        record.topic,
                        record.partition,
                        record.offset,
                        attempt,
                        attempts,
                        type(exc).__name__,
                        exc,
                    )
                finally:
                    unbind(token)
            await asyncio.sleep(retry_delay * attempt)

    async def in_order(group: list[KafkaMessage]) -> None:
        if whole_key is not None:
            try:
                await one(group[0], functools.partial(whole_key, group))
            except Exception as exc:  # noqa: BLE001 - reported as the batch's failure
                failures.append(BatchFailed(group[0].raw_message, exc))
            return
        for message in group:
            if failures:  # the batch is lost anyway: start nothing new
                return
            try:
                await one(message, functools.partial(handle_or_dead_letter, message))
            except Exception as exc:  # noqa: BLE001 - reported as the batch's failure
                failures.append(BatchFailed(message.raw_message, exc))
                return

    # Cancelling the batch (shutdown) cancels every group; nothing is committed then.
    await asyncio.gather(*(in_order(group) for group in groups.values()))
    if failures:
        first = failures[0]
        log.error("batch of %d records failed and will be redelivered: %s", len(messages), first)
        raise first from first.error


MAX_REDELIVERY_BACKOFF = 15.0


def redelivery_backoff(failed_in_a_row: int) -> float:
    """Seconds to wait before a failed batch is redelivered: 0.5, 1, 2, 4 … up to 15."""
    return min(MAX_REDELIVERY_BACKOFF, 0.5 * 2 ** (failed_in_a_row - 1))


def keyed_batch_subscriber(
    runtime: ServiceRuntime,
    *topics: str,
    group_id: str,
    handle: MessageHandler,
    title: str,
    description: str,
    concurrency: int | asyncio.Semaphore = DEFAULT_CONCURRENCY,
    attempts: int = DEFAULT_ATTEMPTS,
    documents: Any = None,
    dead_letter_to: DeadLetterSink | None = None,
    whole_key: GroupHandler | None = None,
    **subscriber_options: Any,
) -> Any:
    """Register a batch subscriber on `runtime.broker` that runs `handle` on each record (as
    described in the module docstring) and return the FastStream subscriber. `title`,
    `description` and `documents` (the contract type one record carries) document it in the
    service's AsyncAPI document; `dead_letter_to` receives what `handle` cannot read
    (default: the dead-letter topic); `whole_key`, if given, takes each key's records of a
    batch at once instead of `handle` one by one; `subscriber_options` go to FastStream (e.g. SLA's
    rebalance listener). Services declare their subscribers through
    `services.common.subscribing`, which decodes each record to its contract type."""
    if isinstance(concurrency, asyncio.Semaphore):
        limit = concurrency
    else:
        limit = asyncio.Semaphore(concurrency)

    subscriber = runtime.broker.subscriber(
        *topics,
        batch=True,
        max_records=DEFAULT_MAX_RECORDS,
        batch_timeout_ms=DEFAULT_BATCH_TIMEOUT_MS,
        group_id=group_id,
        auto_offset_reset="earliest",
        # Commit after the batch handler returns; nack (seek back) when it raises.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=title,
        description=description,
        **(membership(runtime, title) | subscriber_options),
    )

    failed_in_a_row = 0

    async def on_batch(batch: KafkaMessageParam) -> None:
        nonlocal failed_in_a_row
        # The batch parser has decoded every record's headers already.
        records = zip(batch.raw_message, batch.batch_headers, strict=True)
        try:
            await handle_keyed(
                [record_message(record, headers) for record, headers in records],
                handle,
                limit=limit,
                dead_letter_to=dead_letter_to or functools.partial(dead_letter, runtime),
                attempts=attempts,
                whole_key=whole_key,
            )
        except BatchFailed:
            # Redelivered after a pause that grows while failures go on (a store outage),
            # so a dependency that is away is not hammered; nothing is committed meanwhile.
            failed_in_a_row += 1
            await asyncio.sleep(redelivery_backoff(failed_in_a_row))
            raise
        failed_in_a_row = 0

    name = getattr(handle, "__name__", "on_batch")
    if documents is None:
        on_batch.__name__ = name
        on_batch.__doc__ = handle.__doc__
        subscriber(on_batch, parser=lenient_batch_parser)
    else:

        async def documented(_: None, batch: KafkaMessageParam) -> None:
            await on_batch(batch)

        subscriber(
            documented_function(name, handle.__doc__, documents, documented),
            parser=lenient_batch_parser,
            decoder=_decoded_per_record,
        )
    return subscriber


async def _decoded_per_record(message: Any, _default: Any) -> None:
    """Nothing is decoded for the batch as a whole: the handler reads each record in its
    turn (so one that is not the format is dead-lettered in its place)."""
    return None


async def lenient_batch_parser(
    records: tuple[ConsumerRecord, ...], original: Callable[..., Awaitable[Any]]
) -> Any:
    """FastStream's batch parser, except that a header value which is not UTF-8 (or None) is
    read as replaced text instead of failing the whole batch on every redelivery."""
    try:
        return await original(records)
    except (UnicodeDecodeError, AttributeError):
        return await original(tuple(_with_text_headers(record) for record in records))


def _with_text_headers(record: ConsumerRecord) -> ConsumerRecord:
    headers = tuple((name, _header_text(value).encode()) for name, value in record.headers or ())
    return dataclasses.replace(record, headers=headers)


def _header_text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


class KeyedLock:
    """Mutual exclusion per key within one process, for state that is keyed otherwise than
    the messages (an applicant's matter, shared by several appeals handled at once):
    `async with locks(key): ...`. Locks exist only while someone holds or awaits them."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    def __call__(self, key: Hashable) -> _KeyedLockScope:
        return _KeyedLockScope(self, key)

    def __len__(self) -> int:
        return len(self._locks)

    async def _acquire(self, key: Hashable) -> None:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._release_user(key)
            raise

    def _release(self, key: Hashable) -> None:
        self._locks[key][0].release()
        self._release_user(key)

    def _release_user(self, key: Hashable) -> None:
        lock, users = self._locks[key]
        if users == 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)


class _KeyedLockScope:
    def __init__(self, owner: KeyedLock, key: Hashable) -> None:
        self.owner = owner
        self.key = key

    async def __aenter__(self) -> None:
        await self.owner._acquire(self.key)

    async def __aexit__(self, *exc_info: object) -> None:
        self.owner._release(self.key)


# --- store operations of concurrent handlers, coalesced --------------------------------


async def all_of(calls: Iterable[Awaitable[Any]]) -> list[Any]:
    """Await every call, all queued at once (so a `StoreBatcher` sends them together). All
    of them finish before the first error, if any, is raised: nothing is left running
    behind a retry of the same appeal (unlike a bare `gather`, which leaves the others)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class StoreBatcher:
    """Coalesces the single-document store operations that concurrently running handlers
    issue into one command per collection and kind: inserts into one `insert_many`
    (unordered), updates by `_id` into one `bulk_write` (ordered), deletes by `_id` into one
    `delete_many`, reads into one `find` with `$in`. Each caller still awaits its own result,
    exactly as with the single-document call it replaces, so handler code keeps its order of
    effects; only the round trips are shared.

    Group commit: per collection and kind, one command is in flight at a time. An operation
    that finds none goes out at once (after the other callers ready in the same turn of the
    event loop have queued theirs: no timer, no added latency when idle); operations arriving
    while one is in flight wait for it and then go together, up to `max_batch` per command.
    So the busier the store, the larger the commands.

    Why: FerretDB on SQLite serialises writes and spends most of a single-document
    operation on per-command overhead, so concurrent single operations only queue up behind
    each other; one command of many documents costs little more than one of one. Updates
    gain less (FerretDB applies an update command statement by statement), but they gain
    (figures in docs/measurements.md). Only filters on `_id` alone are
    coalesced: a caller that needs a conditional update (compare-and-set) makes its own.
    """

    def __init__(self, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self._lanes: dict[tuple[str, ...], _Lane] = {}

    async def insert_once(self, collection: Any, document: dict[str, Any]) -> bool:
        """Like `services.common.messaging.insert_once`: True if this call created the
        document, False if one with its `_id` existed (or an earlier one in the same
        command had it)."""
        return await self._queue("insert", "_id", collection, document)

    async def update_by_id(
        self, collection: Any, document_id: Any, update: dict[str, Any], *, upsert: bool = False
    ) -> bool:
        """Like `collection.update_one({"_id": document_id}, update, upsert=upsert)`; True if
        a document matched (or was upserted). The updates of one command are applied in the
        order they were queued (`ordered=True`)."""
        return await self._queue("update", "_id", collection, (document_id, update, upsert))

    async def delete_by_id(self, collection: Any, document_id: Any) -> None:
        """Like `collection.delete_one({"_id": document_id})`; an absent document is fine."""
        await self._queue("delete", "_id", collection, document_id)

    async def find_by_id(self, collection: Any, document_id: Any) -> dict[str, Any] | None:
        """Like `collection.find_one({"_id": document_id})`."""
        found = await self._queue("find", "_id", collection, document_id)
        return found[0] if found else None

    async def find_where(self, collection: Any, field: str, value: Any) -> list[dict[str, Any]]:
        """Like `collection.find({field: value}).to_list(None)` for a scalar `value`. (On
        FerretDB only `_id` is served from an index: meant for small collections.)"""
        return await self._queue("find", field, collection, value)

    def _queue(self, kind: str, field: str, collection: Any, argument: Any) -> asyncio.Future:
        key = (kind, field, collection.full_name)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane(kind, field, collection, self.max_batch)
        return lane.add(argument)


class _Lane:
    """The operations of one kind on one collection: queued, sent one command at a time."""

    def __init__(self, kind: str, field: str, collection: Any, max_batch: int) -> None:
        self.kind = kind
        self.field = field
        self.collection = collection
        self.max_batch = max_batch
        self.queue: list[tuple[Any, asyncio.Future]] = []
        self.busy = False  # a command is in flight or about to be sent
        self.task: asyncio.Task | None = None  # a strong reference: the loop keeps weak ones

    def add(self, argument: Any) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.append((argument, future))
        if not self.busy:
            self.busy = True
            # After the callers ready in this turn of the loop have queued theirs; in an
            # empty context, so the command's logs do not carry one message's ids.
            loop.call_soon(self._send, context=contextvars.Context())
        return future

    def _send(self) -> None:
        items = [item for item in self.queue[: self.max_batch] if not item[1].done()]
        del self.queue[: self.max_batch]
        if not items and not self.queue:
            self.busy = False
            return
        self.task = asyncio.get_running_loop().create_task(self._run(items))
        self.task.add_done_callback(self._next)

    def _next(self, _: asyncio.Task) -> None:
        self.task = None
        if self.queue:
            self._send()  # what queued up meanwhile goes out together, at once
        else:
            self.busy = False

    async def _run(self, items: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            if items:
                if self.kind == "insert":
                    await self._insert(items)
                elif self.kind == "update":
                    await self._update(items)
                elif self.kind == "delete":
                    await self._delete(items)
                else:
                    await self._find(items)
        except Exception as exc:  # noqa: BLE001 - handed to every caller of the command
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
        finally:
            for _, future in items:  # cancelled (shutdown): so are its callers
                if not future.done():
                    future.cancel()

    async def _insert(self, items: list[tuple[Any, asyncio.Future]]) -> None:
        failed: dict[int, dict[str, Any]] = {}
        try:
            await self.collection.insert_many([document for document, _ in items], ordered=False)
        except BulkWriteError as exc:
            failed = {error["index"]: error for error in exc.details.get("writeErrors", [])}
        for index, (_, future) in enumerate(items):
            if future.done():
                continue
            error = failed.get(index)
            if error is None:
                future.set_result(True)
            elif error.get("code") == DUPLICATE_KEY:
                future.set_result(False)
            else:
                future.set_exception(
                    WriteError(error.get("errmsg", "write failed"), error.get("code"), error)
                )

    async def _update(self, items: list[tuple[Any, asyncio.Future]]) -> None:
        result = await self.collection.bulk_write(
            [UpdateOne({"_id": i}, update, upsert=upsert) for (i, update, upsert), _ in items],
            ordered=True,  # two updates of one document apply in the order they were queued
        )
        matched = [True] * len(items)
        if result.matched_count + len(result.upserted_ids) < len(items):
            # Some filter matched nothing: the filter is `_id` alone, so those are the
            # documents that do not exist. (Callers do not delete what they update at the
            # same time: the lanes of one collection do not order against each other.)
            ids = list(dict.fromkeys(i for (i, _, _), _ in items))
            existing = {
                document["_id"]
                for document in await self.collection.find(
                    {"_id": {"$in": ids}}, {"_id": 1}
                ).to_list(None)
            }
            matched = [
                index in result.upserted_ids or item[0][0] in existing
                for index, item in enumerate(items)
            ]
        for (_, future), found in zip(items, matched, strict=True):
            if not future.done():
                future.set_result(found)

    async def _delete(self, items: list[tuple[Any, asyncio.Future]]) -> None:
        ids = list(dict.fromkeys(document_id for document_id, _ in items))
        await self.collection.delete_many({"_id": {"$in": ids}})
        for _, future in items:
            if not future.done():
                future.set_result(None)

    async def _find(self, items: list[tuple[Any, asyncio.Future]]) -> None:
        values = list(dict.fromkeys(value for value, _ in items))
        query = {self.field: values[0] if len(values) == 1 else {"$in": values}}
        found: dict[Any, list[dict[str, Any]]] = {}
        for document in await self.collection.find(query).to_list(None):
            found.setdefault(document.get(self.field), []).append(document)
        handed_out: set[Any] = set()
        for value, future in items:
            if future.done():
                continue
            documents = found.get(value, [])
            if value in handed_out:
                documents = copy.deepcopy(documents)  # each caller may change its own copy
            handed_out.add(value)
            future.set_result(documents)
