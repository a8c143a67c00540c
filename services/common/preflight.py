"""Before a service consumes anything: does the broker let it in, and may it do what it will
do? One line that names the principal, the topic and the operation — instead of a consumer
that hangs on a topic it may not read, or a stack trace on the first publish.

Asks the broker for the topics the service reads and writes with the operations this
principal is authorised for (Kafka's Metadata with `include_topic_authorized_operations`,
KIP-430), through confluent-kafka's admin client (aiokafka cannot ask for them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AclOperation, AdminClient

from services.common.kafka_auth import KafkaIdentity

_IMPLIED = {
    "read": {AclOperation.READ, AclOperation.ALL},
    "write": {AclOperation.WRITE, AclOperation.ALL},
}


_AUTHENTICATION_ERRORS = (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED)


class AccessDenied(RuntimeError):
    """The broker refuses this principal something it needs; the message is one line."""


def _authorised(operations: Iterable[object] | None) -> set[object]:
    return set(operations or ())


def check_access(
    bootstrap: str,
    identity: KafkaIdentity,
    reads: Iterable[str],
    writes: Iterable[str],
    timeout: float = 15.0,
) -> None:
    """Raise AccessDenied unless `identity` authenticates and may read every topic of `reads`
    and write every topic of `writes` (real names)."""
    reads, writes = set(reads), set(writes)
    wanted = sorted(reads | writes)
    if not wanted:
        return
    # A refused login reaches librdkafka's error callback (served by poll); the requests
    # themselves would only time out.
    refused: list[KafkaError] = []

    def on_error(error: KafkaError) -> None:
        if error.code() in _AUTHENTICATION_ERRORS:
            refused.append(error)

    admin = AdminClient(
        {
            "bootstrap.servers": bootstrap,
            **identity.librdkafka(),
            "log_level": 0,
            "error_cb": on_error,
        }
    )
    futures = admin.describe_topics(
        TopicCollection(wanted), include_authorized_operations=True, request_timeout=timeout
    )
    pending = set(futures.values())
    deadline = time.monotonic() + timeout
    while pending and not refused and time.monotonic() < deadline:
        admin.poll(0.1)
        pending = {f for f in pending if not f.done()}
    if refused:
        raise AccessDenied(
            f"Kafka at {bootstrap} refused principal {identity.username!r}: "
            "authentication failed (unknown user or wrong password)"
        )
    missing: list[str] = []
    for topic, future in futures.items():
        try:
            described = future.result()
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                missing.append(f"describe on topic {topic}")
                continue
            if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                missing.append(f"topic {topic} does not exist")
                continue
            raise AccessDenied(
                f"Kafka at {bootstrap}: principal {identity.username!r} could not describe "
                f"topic {topic}: {error.str()}"
            ) from None
        granted = _authorised(described.authorized_operations)
        for operation, needed in (("read", reads), ("write", writes)):
            if topic in needed and not granted & _IMPLIED[operation]:
                missing.append(f"{operation} on topic {topic}")
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise AccessDenied(
            f"Kafka at {bootstrap} does not allow principal {identity.username!r}: {shown}"
        )


async def check_access_async(
    bootstrap: str, identity: KafkaIdentity, reads: Iterable[str], writes: Iterable[str]
) -> None:
    await asyncio.to_thread(check_access, bootstrap, identity, list(reads), list(writes))
