"""The admin's forms about users, checked (pure): what a valid form asks for, or which field
is wrong and why (`FormErrors`, worded in the admin's language by the page).

- A new user: a name (3–64 of a–z, 0–9, `.`, `_`, `-`, starting with a letter or digit), a
  role, a body of the registry for an officer or a supervisor, a password of 12+ characters.
- A change to a user (`action`): `role` (role and body, as above), `password` (a new one of
  12+ characters; the user's sessions end), `disable` or `enable`. An admin cannot disable
  themselves or take away their own admin role — a workspace must keep an admin who can log
  in; another admin can.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reference.agencies import AgencyRegistry
from services.workspace.accounts import BODY_ROLES, ROLES, User
from services.workspace.decisions import FormErrors

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD = 12


@dataclass(frozen=True)
class NewUser:
    username: str
    role: str
    agency_code: str | None
    password: str


@dataclass(frozen=True)
class RoleChange:
    role: str
    agency_code: str | None


@dataclass(frozen=True)
class PasswordChange:
    password: str


@dataclass(frozen=True)
class AccessChange:
    disabled: bool


UserChange = RoleChange | PasswordChange | AccessChange
Errors = dict[str, tuple[str, dict[str, str]]]


def new_user(form: dict[str, str], registry: AgencyRegistry) -> NewUser:
    errors: Errors = {}
    username = (form.get("username") or "").strip().lower()
    if not USERNAME.fullmatch(username):
        errors["username"] = ("username_invalid", {})
    role, body = _role(form, registry, errors)
    password = _password(form, errors)
    if errors:
        raise FormErrors(errors)
    return NewUser(username, role, body, password)


def user_change(
    form: dict[str, str], registry: AgencyRegistry, target: User, admin: User
) -> UserChange:
    errors: Errors = {}
    itself = target.username == admin.username
    change: UserChange | None = None
    match form.get("action"):
        case "role":
            role, body = _role(form, registry, errors)
            if itself and role != "admin":
                errors["role"] = ("not_yourself", {})
            change = RoleChange(role, body)
        case "password":
            change = PasswordChange(_password(form, errors))
        case "disable":
            if itself:
                errors["action"] = ("not_yourself", {})
            change = AccessChange(disabled=True)
        case "enable":
            change = AccessChange(disabled=False)
        case _:
            errors["action"] = ("field_required", {})
    if errors or change is None:
        raise FormErrors(errors)
    return change


def _role(form: dict[str, str], registry: AgencyRegistry, errors: Errors) -> tuple[str, str | None]:
    role = form.get("role") or ""
    if role not in ROLES:
        errors["role"] = ("field_required", {})
        return role, None
    body = form.get("agency_code") or None
    if role not in BODY_ROLES:
        return role, None
    if body not in registry.by_code:
        errors["agency_code"] = ("body_required", {})
    return role, body


def _password(form: dict[str, str], errors: Errors) -> str:
    password = form.get("password") or ""
    if len(password) < MIN_PASSWORD:
        errors["password"] = ("password_short", {})
    return password
