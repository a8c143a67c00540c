"""`python -m services.common.provisioning [--rotate P | --revoke P | --table]` — see the package
docstring. Reads KAFKA_BOOTSTRAP_SERVERS and TYNDAU_TOPIC_PREFIX like every service."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from confluent_kafka import KafkaException

from reference.agencies import AgencyRegistry
from services.common.kafka_auth import MissingCredentials
from services.common.provisioning import provision_access, revoke, rotate
from services.common.provisioning.plan import acl_table
from services.common.topics_admin import ensure_topics, planned_topics


def main() -> int:
    parser = argparse.ArgumentParser(description="Kafka users, topics and ACLs from the plan.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--rotate", metavar="PRINCIPAL", help="give PRINCIPAL a new password")
    group.add_argument("--revoke", metavar="PRINCIPAL", help="remove PRINCIPAL's access")
    group.add_argument("--table", action="store_true", help="print the README's ACL table")
    args = parser.parse_args()
    if args.table:
        print(acl_table())
        return 0
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("TYNDAU_TOPIC_PREFIX", "")
    codes = list(AgencyRegistry.default().by_code)
    try:
        if args.rotate:
            rotate(bootstrap, args.rotate)
            print(f"[provision] new password for {args.rotate} (restart its clients)")
        elif args.revoke:
            revoke(bootstrap, args.revoke, codes)
            print(f"[provision] {args.revoke} revoked")
        else:
            plan = planned_topics(codes)
            created = asyncio.run(ensure_topics(bootstrap, plan, prefix))
            report = provision_access(bootstrap, codes, prefix)
            print(
                f"[provision] {len(plan)} topics ({len(created)} created), {report} on {bootstrap}"
            )
    except (KafkaException, MissingCredentials) as exc:
        print(f"[provision] failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
