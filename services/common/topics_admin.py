"""Creates the topics Tyndau uses, with partition counts chosen on purpose (the broker creates
none by itself). Safe to run again: existing topics are left as they are. Runs as the `admin`
principal; `python -m services.common.provisioning` runs it together with the users and ACLs
(services/common/provisioning)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pymongo import AsyncMongoClient

from contracts import agency_actions, agency_inbox, topics
from services.common.kafka_auth import ADMIN, identity_for

# Channel and lifecycle topics carry the load and are keyed by appeal id: more partitions let
# more consumer instances share them. Inboxes and the dead-letter topic are low-volume.
BUSY_TOPIC_PARTITIONS = 6
QUIET_TOPIC_PARTITIONS = 1
QUIET_TOPICS = {
    topics.APPEALS_DLQ,
    topics.APPEALS_TRIAGE,
    topics.APPEAL_OUTCOMES,
    topics.ANSWER_FEEDBACK,
}


def planned_topics(agency_codes: Iterable[str]) -> dict[str, int]:
    plan = {
        name: QUIET_TOPIC_PARTITIONS if name in QUIET_TOPICS else BUSY_TOPIC_PARTITIONS
        for name in topics.ALL_FIXED_TOPICS
    }
    for code in agency_codes:
        plan[agency_inbox(code)] = QUIET_TOPIC_PARTITIONS
        plan[agency_actions(code)] = QUIET_TOPIC_PARTITIONS
    return plan


# Three copies of every partition where the cluster has three brokers (min.insync.replicas 2 on
# the brokers: one may die without losing an acknowledged write); fewer on a smaller cluster,
# where more cannot be placed — the local single broker gets 1.
MAX_REPLICATION = 3


async def ensure_topics(
    bootstrap_servers: str, plan: dict[str, int], prefix: str = "", replication: int | None = None
) -> list[str]:
    """Create the missing topics of `plan` (name → partitions) with `replication` replicas
    (default: min(3, brokers in the cluster)); return the names created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="tyndau-admin", **admin_identity()
    )
    await admin.start()
    try:
        if replication is None:
            replication = await replication_for(admin)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(prefix + name, num_partitions=partitions, replication_factor=replication)
            for name, partitions in plan.items()
            if prefix + name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another starter created them between our list and create
            await _wait_for_leaders(admin, [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()


async def replication_for(admin: AIOKafkaAdminClient) -> int:
    """min(MAX_REPLICATION, the brokers the cluster has now)."""
    cluster = await admin.describe_cluster()
    return max(1, min(MAX_REPLICATION, len(cluster["brokers"])))


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30
) -> None:
    """A new topic is usable once every partition has a leader; consumers that join before
    that log NotLeaderForPartition and wait a metadata refresh."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            described = await admin.describe_topics(names)
        except KafkaError:
            # The admin client asks any one broker; one of a cluster may be down. Ask again.
            described = None
        if described is not None and all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"topics without leaders after {timeout} s: {names}")
        await asyncio.sleep(0.2)


async def remove_prefixed(bootstrap: str, mongodb_url: str, prefix: str) -> None:
    """Delete the topics, their ACLs and the databases whose names start with `prefix` — what
    a test or benchmark run created under its own prefix."""
    from services.common.provisioning import remove_prefix_acls

    await asyncio.to_thread(remove_prefix_acls, bootstrap, prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **admin_identity())
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
    await drop_prefixed_databases(mongodb_url, prefix)


async def drop_prefixed_databases(mongodb_url: str, prefix: str) -> None:
    """Drop every database whose name starts with `prefix`."""
    mongo: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    try:
        for name in await mongo.list_database_names():
            if name.startswith(prefix):
                await mongo.drop_database(name)
    finally:
        await mongo.close()


def admin_identity() -> dict:
    return identity_for(ADMIN).aiokafka()


if __name__ == "__main__":  # kept for habit: provisioning makes the topics and the access
    from services.common.provisioning.__main__ import main as provision

    raise SystemExit(provision())
