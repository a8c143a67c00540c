"""The access plan as data: `access.toml` expanded over the agency registry and a topic prefix
into the grants the broker must hold — pure, so the plan is tested without a broker and the
README's ACL table is checked against it.

A `Grant` is one ACL: a principal may READ or WRITE a topic (a literal name), or READ a
consumer group (a name prefix: joining, committing offsets and describing are READ on the
group). Kafka counts DESCRIBE as implied by READ and WRITE.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ACCESS_FILE = Path(__file__).with_name("access.toml")
CODE = "{code}"


@dataclass(frozen=True, order=True)
class Grant:
    principal: str
    resource: Literal["topic", "group"]
    name: str
    """The full name (with the deployment's prefix): a topic, or a group name prefix."""
    operation: Literal["read", "write"]

    @property
    def prefixed(self) -> bool:
        """Groups are granted by name prefix; topics by their exact name."""
        return self.resource == "group"


def load_access(path: Path = ACCESS_FILE) -> dict[str, dict[str, list[str]]]:
    """Principal (maybe templated with `{code}`) → {"read": [...], "write": [...],
    "groups": [...]} as written in the file."""
    with path.open("rb") as handle:
        return tomllib.load(handle)["principals"]


def _expand(names: Iterable[str], codes: list[str]) -> list[str]:
    """Each name, or — when it holds `{code}` — one name per code."""
    return [
        expanded
        for name in names
        for expanded in ([name.replace(CODE, c) for c in codes] if CODE in name else [name])
    ]


def access_plan(
    agency_codes: Iterable[str], prefix: str = "", path: Path = ACCESS_FILE
) -> dict[str, list[Grant]]:
    """Principal → its grants, every `{code}` expanded and `prefix` put before every topic and
    group name."""
    codes = sorted(agency_codes)
    plan: dict[str, list[Grant]] = {}
    for template, access in load_access(path).items():
        for code in codes if CODE in template else [None]:
            principal = template.replace(CODE, code) if code else template
            own = [code] if code else codes
            reads, writes, groups = (
                _expand(access.get(key, []), own) for key in ("read", "write", "groups")
            )
            grants = [Grant(principal, "topic", prefix + t, "read") for t in reads]
            grants += [Grant(principal, "topic", prefix + t, "write") for t in writes]
            grants += [Grant(principal, "group", prefix + g, "read") for g in groups]
            plan[principal] = sorted(set(grants))
    return plan


def acl_table(path: Path = ACCESS_FILE) -> str:
    """The access file as the README's Markdown table: one row per principal as written
    (`{code}` standing for each top-level body), what it reads, writes and which consumer
    group prefixes it uses. Everything not in a row is denied."""

    def cell(names: list[str]) -> str:
        return ", ".join(f"`{name}`" for name in names) or "—"

    rows = [
        "| principal | reads | writes | consumer groups (prefix) |",
        "|---|---|---|---|",
    ]
    for principal, access in load_access(path).items():
        rows.append(
            f"| `{principal}` | {cell(access.get('read', []))} | "
            f"{cell(access.get('write', []))} | {cell(access.get('groups', []))} |"
        )
    return "\n".join(rows)
