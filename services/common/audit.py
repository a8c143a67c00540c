"""The audit trail: every request to a protected HTTP route by an authenticated caller —
the changes, and the reads of a person's data — leaves one record: who (token subject,
client, roles), what (the permission used, the route's template, never its filled-in path),
on whom (a pseudonym), when, and with what result.

No personal data in clear: a citizen is recorded as `ref = HMAC-SHA256(audit key,
"citizen:<IIN>")`, so the trail can answer "who touched this person's settings?" — an
auditor computes the same reference with `python -m services.common.audit ref citizen <IIN>`
— while a copy of the trail alone names nobody. Ids that are not personal data (a
notification's id) are kept as they are.

Records go to the `audit` collection of the service's own database (indexed by ref and by
actor, each with time), written before the response is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

AUDIT_COLLECTION = "audit"


@dataclass(frozen=True)
class Target:
    """What a request acts on: `kind` (citizen, notification, appeal) and its id; a
    `personal` id is stored only as a keyed pseudonym."""

    kind: str
    value: str
    personal: bool = False


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    service: str
    actor: str
    client: str | None
    roles: list[str]
    permission: str
    method: str
    route: str
    target_kind: str | None
    target_ref: str | None
    status: int


def pseudonym(key: bytes, kind: str, value: str) -> str:
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def target_ref(key: bytes, target: Target) -> str:
    return pseudonym(key, target.kind, target.value) if target.personal else target.value


class AuditLog(Protocol):
    async def record(self, entry: AuditRecord) -> None: ...


class MongoAuditLog:
    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[AUDIT_COLLECTION]

    async def record(self, entry: AuditRecord) -> None:
        await self.collection.insert_one(asdict(entry))


async def ensure_audit_indexes(db: AsyncDatabase) -> None:
    collection = db[AUDIT_COLLECTION]
    await collection.create_index([("target_ref", ASCENDING), ("at", DESCENDING)])
    await collection.create_index([("actor", ASCENDING), ("at", DESCENDING)])


class MemoryAuditLog:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)


def main(argv: list[str]) -> int:
    """`python -m services.common.audit ref <kind> <value>`: the pseudonym to search for."""
    if len(argv) != 4 or argv[1] != "ref":
        print("usage: python -m services.common.audit ref <kind> <value>", file=sys.stderr)
        return 2
    from services.common.secret_files import audit_key

    print(pseudonym(audit_key().value, argv[2], argv[3]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
