"""Provisioning: the broker's users, topics and ACLs made from the access plan (`access.toml`,
expanded by `plan.py`), idempotently — `make run`, `make test` and `make topics` run it.

    python -m services.common.provisioning               make everything that is missing
    python -m services.common.provisioning --rotate P    a new password for principal P
    python -m services.common.provisioning --revoke P    P's password and grants removed

Decisions:
- **Users**: the `admin` user is created when the broker's storage is formatted
  (`kafka.sh`, `StorageTool format --add-scram`): the first credential must exist before
  anyone can log in to create others. Every other principal is created here through the
  admin API (`AlterUserScramCredentials`), so a body added to the registry needs no
  reformatting, and passwords rotate without touching the broker's files.
- **Passwords** are generated (`secrets.token_urlsafe`) at the first start into the
  credentials file (services/common/kafka_auth.py), which is created with mode 0600 and is
  never committed or logged; a password already on file is reused, so provisioning again
  changes nothing.
- **ACLs** are synchronised for the deployment's topic prefix: grants the plan holds are
  created, grants of managed principals on this prefix's resources that the plan no longer
  holds are deleted. Other prefixes (parallel test runs) are left alone.
- Runs as `admin`, the only principal that may alter users and ACLs (a super user).

Uses confluent-kafka's admin client (librdkafka): the services' client, aiokafka, has no
admin calls for SCRAM credentials or ACLs.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from services.common.kafka_auth import (
    ADMIN,
    credentials_path,
    identity_for,
    read_credentials_file,
)
from services.common.provisioning.plan import Grant, access_plan
from services.common.secret_files import replace_private

log = logging.getLogger("tyndau.provisioning")

SCRAM_ITERATIONS = 4096
_OPERATIONS = {"read": AclOperation.READ, "write": AclOperation.WRITE}
_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}


@dataclass
class Report:
    users_created: list[str] = field(default_factory=list)
    acls_created: int = 0
    acls_deleted: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.users_created)} users created, {self.acls_created} ACLs created, "
            f"{self.acls_deleted} removed"
        )


def admin_client(bootstrap: str) -> AdminClient:
    return AdminClient(
        {"bootstrap.servers": bootstrap, **identity_for(ADMIN).librdkafka(), "log_level": 3}
    )


def write_credentials(known: dict[str, str], path: Path | None = None) -> None:
    """Write the credentials file with mode 0600 (its directory 0700), atomically."""
    replace_private(
        path or credentials_path(), json.dumps(known, indent=1, sort_keys=True).encode()
    )


def ensure_passwords(names: Iterable[str]) -> dict[str, str]:
    """Every principal's password, generating (and filing) the missing ones."""
    known = read_credentials_file()
    missing = [name for name in names if name not in known]
    if missing:
        known |= {name: secrets.token_urlsafe(24) for name in missing}
        write_credentials(known)
    return known


def _upsert(admin: AdminClient, passwords: dict[str, str]) -> None:
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    alterations = [
        UserScramCredentialUpsertion(user, info, password.encode())
        for user, password in passwords.items()
    ]
    for future in admin.alter_user_scram_credentials(alterations).values():
        future.result()


def ensure_users(admin: AdminClient, names: Iterable[str]) -> list[str]:
    """SCRAM users for every principal the broker does not know yet; returns their names."""
    wanted = sorted(set(names) - {ADMIN})
    passwords = ensure_passwords(wanted)
    existing = set(admin.describe_user_scram_credentials().result())
    missing = {name: passwords[name] for name in wanted if name not in existing}
    if missing:
        _upsert(admin, missing)
        # Like ACLs, a new user reaches the broker through the metadata a moment later.
        deadline = time.monotonic() + 15
        while not set(missing) <= set(admin.describe_user_scram_credentials().result()):
            if time.monotonic() > deadline:
                raise TimeoutError("new SCRAM users not in force after 15 s")
            time.sleep(0.05)
    return sorted(missing)


def binding(grant: Grant) -> AclBinding:
    return AclBinding(
        _RESOURCES[grant.resource],
        grant.name,
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        f"User:{grant.principal}",
        "*",
        _OPERATIONS[grant.operation],
        AclPermissionType.ALLOW,
    )


def _all_acls(admin: AdminClient) -> list[AclBinding]:
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    return admin.describe_acls(everything).result()


def _key(acl: AclBinding) -> tuple:
    return (
        acl.restype,
        acl.name,
        acl.resource_pattern_type,
        acl.principal,
        acl.operation,
        acl.permission_type,
    )


def sync_acls(admin: AdminClient, plan: dict[str, list[Grant]], prefix: str) -> tuple[int, int]:
    """Create the plan's ACLs; delete managed principals' ACLs on this prefix's names that the
    plan no longer holds. Returns (created, deleted)."""
    wanted = {_key(binding(g)): binding(g) for grants in plan.values() for g in grants}
    managed = {f"User:{p}" for p in plan}
    names = {g.name for grants in plan.values() for g in grants}
    existing = {_key(acl): acl for acl in _all_acls(admin)}
    create = [acl for key, acl in wanted.items() if key not in existing]
    stale = [
        acl
        for key, acl in existing.items()
        if key not in wanted and acl.principal in managed and acl.name in names
    ]
    if create:
        for future in admin.create_acls(create).values():
            future.result()
    if stale:
        for future in admin.delete_acls([_filter(acl) for acl in stale]).values():
            future.result()
    return len(create), len(stale)


def _filter(acl: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        acl.restype,
        acl.name,
        acl.resource_pattern_type,
        acl.principal,
        acl.host,
        acl.operation,
        acl.permission_type,
    )


def provision_access(
    bootstrap: str, agency_codes: Iterable[str], prefix: str = "", *, prune: bool = True
) -> Report:
    """Users and ACLs of the access plan for `prefix` (topics: services.common.topics_admin).
    `prune=False` only adds (a fresh prefix: nothing to remove, no need to read every ACL)."""
    codes = list(agency_codes)
    admin = admin_client(bootstrap)
    plan = access_plan(codes, prefix)
    report = Report(users_created=ensure_users(admin, plan))
    if prune:
        report.acls_created, report.acls_deleted = sync_acls(admin, plan, prefix)
    else:
        acls = [binding(g) for grants in plan.values() for g in grants]
        for future in admin.create_acls(acls).values():
            future.result()
        report.acls_created = len(acls)
    wait_until_visible(admin, [binding(g) for grants in plan.values() for g in grants])
    return report


def wait_until_visible(admin: AdminClient, acls: list[AclBinding], timeout: float = 15.0) -> None:
    """Wait until the broker enforces `acls`: a created ACL reaches the broker through the
    cluster metadata a moment after the admin call returns, and a client let in at once
    would be refused."""
    if not acls:
        return
    probes = [acls[0], acls[len(acls) // 2], acls[-1]]
    deadline = time.monotonic() + timeout
    while True:
        if all(admin.describe_acls(_filter(acl)).result() for acl in probes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"ACLs not in force after {timeout} s (e.g. {probes[0]})")
        time.sleep(0.05)


async def prepare_prefix(bootstrap: str, plan: dict[str, int], prefix: str) -> None:
    """Topics of `plan` and the access plan's ACLs for a fresh `prefix` (a test or bench run)."""
    import asyncio

    from reference.agencies import AgencyRegistry
    from services.common.topics_admin import ensure_topics

    await ensure_topics(bootstrap, plan, prefix)
    codes = list(AgencyRegistry.default().by_code)
    await asyncio.to_thread(provision_access, bootstrap, codes, prefix, prune=False)


def remove_prefix_acls(bootstrap: str, prefix: str) -> int:
    """Delete every ACL on resources named with `prefix` (what a test run made)."""
    if not prefix:
        raise ValueError("refusing to remove the ACLs of the unprefixed deployment")
    admin = admin_client(bootstrap)
    doomed = [acl for acl in _all_acls(admin) if acl.name.startswith(prefix)]
    if doomed:
        for future in admin.delete_acls([_filter(acl) for acl in doomed]).values():
            future.result()
    return len(doomed)


def rotate(bootstrap: str, principal: str) -> None:
    """A new password for `principal`, filed and set on the broker (clients using the old one
    fail their next login: restart them)."""
    known = read_credentials_file()
    known[principal] = secrets.token_urlsafe(24)
    write_credentials(known)
    _upsert(admin_client(bootstrap), {principal: known[principal]})


def revoke(bootstrap: str, principal: str, agency_codes: Iterable[str]) -> None:
    """Remove `principal`'s password and every grant it holds (on any prefix)."""
    if principal == ADMIN:
        raise ValueError("the admin user is the broker's own; it is not revoked here")
    admin = admin_client(bootstrap)
    mechanism = ScramMechanism.SCRAM_SHA_512
    try:
        for future in admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion(principal, mechanism)]
        ).values():
            future.result()
    except KafkaException as exc:
        log.info("no SCRAM credential of %s to delete (%s)", principal, exc)
    mine = [acl for acl in _all_acls(admin) if acl.principal == f"User:{principal}"]
    if mine:
        for future in admin.delete_acls([_filter(acl) for acl in mine]).values():
            future.result()
    known = read_credentials_file()
    known.pop(principal, None)
    write_credentials(known)


__all__ = [
    "Report",
    "prepare_prefix",
    "provision_access",
    "remove_prefix_acls",
    "revoke",
    "rotate",
]
