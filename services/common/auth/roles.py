"""Who may do what over HTTP: permissions (one per protected action) and the roles that hold
them. A caller's roles come from its token (`roles` claim, see tokens.py); a route asks for
one permission; roles the table does not know grant nothing.

The roles, and why each holds what it holds:
- `citizen-portal` — the e-Gov portal (or the e-Otinish app) acting for a citizen it has
  signed in. Citizen self-service identity is the portal's business; to us it is one trusted
  caller whose key is scoped to a citizen's own notice settings.
- `call-centre-operator` — a 1414 / iKomek 109 operator on the phone with a citizen: reads
  and changes that citizen's notice settings, sees the notices sent and any appeal's full
  status (urgent reports included), without the lookup code.
- `notify-operator` — the team that runs delivery: sees notices, resends failed ones.
- `supervisor` — a body's or the centre's supervisor: full status of any appeal, notices.
- `calendar-operator` — whoever loads the government's yearly decree on days off: sees which
  open deadlines the new calendar moves, and re-plans them (sla). Nothing personal.
- `assessment-analyst` — whoever prepares the annual performance assessment: reads the
  assessment tables of any period (sla). Counts only, nothing personal; supervisors too.
- `outcome-registrar` — records what is decided outside the backbone: court decisions on
  appeals, disciplinary decisions on breaches, supervising bodies' verdicts on repeat
  complaints (sla). Trusted for what it records; each recording is audited.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    PREFERENCES_READ = "preferences:read"
    PREFERENCES_WRITE = "preferences:write"
    NOTIFICATIONS_READ = "notifications:read"
    NOTIFICATIONS_RESEND = "notifications:resend"
    # The full status of any appeal without its lookup code: urgent reports, exact place.
    APPEALS_READ = "appeals:read"
    # See and apply what a new working-day calendar (a decree on days off) moves.
    CALENDAR_REPLAN = "calendar:replan"
    # The assessment tables (counts by body and region) of any period.
    REPORTS_READ = "reports:read"
    # Record court and disciplinary decisions and verdicts on repeat complaints.
    OUTCOMES_RECORD = "outcomes:record"


P = Permission

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "citizen-portal": frozenset({P.PREFERENCES_READ, P.PREFERENCES_WRITE}),
    "call-centre-operator": frozenset(
        {P.PREFERENCES_READ, P.PREFERENCES_WRITE, P.NOTIFICATIONS_READ, P.APPEALS_READ}
    ),
    "notify-operator": frozenset(
        {P.PREFERENCES_READ, P.NOTIFICATIONS_READ, P.NOTIFICATIONS_RESEND}
    ),
    "supervisor": frozenset({P.APPEALS_READ, P.NOTIFICATIONS_READ, P.REPORTS_READ}),
    "calendar-operator": frozenset({P.CALENDAR_REPLAN}),
    "assessment-analyst": frozenset({P.REPORTS_READ}),
    "outcome-registrar": frozenset({P.OUTCOMES_RECORD}),
}


def permissions_of(roles: frozenset[str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def roles_holding(permission: Permission) -> list[str]:
    """The roles that grant `permission` (for a 403 that says what would do)."""
    return sorted(role for role, held in ROLE_PERMISSIONS.items() if permission in held)


def roles_table() -> str:
    """ROLE_PERMISSIONS as the README's Markdown table."""
    rows = ["| role | permissions |", "|---|---|"]
    for role, held in ROLE_PERMISSIONS.items():
        rows.append(f"| `{role}` | {', '.join(f'`{p.value}`' for p in sorted(held))} |")
    return "\n".join(rows)
