"""Who may log in to the workspace, and their sessions.

- Users: `users`, `_id` = username; role `admin`, `operator` (the triage desk: every
  appeal), `officer` (of one body) or `supervisor` (of one body and the bodies under it);
  passwords hashed with Argon2id (argon2-cffi's defaults), never stored or logged in clear.
- The first start makes an `admin` with a random password, printed once to standard error
  (`first_admin`); later starts make nothing.
- An admin changes a user's role and body, sets a new password, or disables the user (and
  enables again). Users are disabled rather than deleted: the audit log keeps naming them.
  A new password or a disabling ends every session of that user at once; a disabled user
  cannot log in. A role change applies from the next request (sessions read the user anew).
- Sessions: `sessions`, `_id` = SHA-256 of the cookie's random token (a stolen database does
  not give live cookies), with the user, a CSRF token for every form and an expiry. The
  cookie is HttpOnly, SameSite=Strict, Path=/, and Secure when `WORKSPACE_SECURE_COOKIES`
  (on by default; off only for plain-HTTP localhost runs).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from pymongo.asynchronous.database import AsyncDatabase

from services.common.messaging import insert_once

ROLES = ("admin", "operator", "officer", "supervisor")
BODY_ROLES = ("officer", "supervisor")
"""Roles that belong to one body."""
USERS, SESSIONS = "users", "sessions"
_hasher = PasswordHasher()
# Compared against when the user does not exist, so a wrong name takes as long as a wrong
# password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    username: str
    role: str
    agency_code: str | None
    password_hash: str
    disabled: bool = False


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, db: AsyncDatabase, lifetime: timedelta) -> None:
        self.users, self.sessions = db[USERS], db[SESSIONS]
        self.lifetime = lifetime

    async def add_user(
        self, username: str, password: str, role: str, agency_code: str | None = None
    ) -> bool:
        """False when the name is taken."""
        _check_role(role, agency_code)
        document = {
            "_id": username,
            "role": role,
            "agency_code": agency_code,
            "password_hash": _hasher.hash(password),
        }
        return await insert_once(self.users, document)

    async def set_role(self, username: str, role: str, agency_code: str | None) -> bool:
        """False when there is no such user. Applies from the user's next request."""
        _check_role(role, agency_code)
        body = agency_code if role in BODY_ROLES else None
        changed = await self.users.update_one(
            {"_id": username}, {"$set": {"role": role, "agency_code": body}}
        )
        return changed.matched_count == 1

    async def set_password(self, username: str, password: str) -> bool:
        """False when there is no such user; every session of the user ends."""
        changed = await self.users.update_one(
            {"_id": username}, {"$set": {"password_hash": _hasher.hash(password)}}
        )
        await self.sessions.delete_many({"username": username})
        return changed.matched_count == 1

    async def set_disabled(self, username: str, disabled: bool) -> bool:
        """False when there is no such user; disabling ends every session of the user."""
        changed = await self.users.update_one({"_id": username}, {"$set": {"disabled": disabled}})
        if disabled:
            await self.sessions.delete_many({"username": username})
        return changed.matched_count == 1

    async def first_admin(self) -> str | None:
        """The first start's admin password (None when there is a user already)."""
        if await self.users.find_one({}) is not None:
            return None
        password = secrets.token_urlsafe(12)
        return password if await self.add_user("admin", password, "admin") else None

    async def all_users(self) -> list[User]:
        return [_user(d) async for d in self.users.find({}).sort("_id", 1)]

    async def user(self, username: str) -> User | None:
        found = await self.users.find_one({"_id": username})
        return _user(found) if found else None

    async def check(self, username: str, password: str) -> User | None:
        user = await self.user(username)
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, InvalidHashError):
            return None
        return None if user is None or user.disabled else user

    async def open_session(self, user: User, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        await self.sessions.insert_one(
            {
                "_id": token_digest(token),
                "username": user.username,
                "csrf": secrets.token_urlsafe(24),
                "expires_at": (now + self.lifetime).isoformat(),
            }
        )
        return token

    async def session(self, token: str | None, now: datetime) -> Session | None:
        if not token:
            return None
        found = await self.sessions.find_one({"_id": token_digest(token)})
        if found is None or datetime.fromisoformat(found["expires_at"]) <= now:
            return None
        user = await self.user(found["username"])
        if user is None or user.disabled:
            return None
        return Session(user, found["csrf"], datetime.fromisoformat(found["expires_at"]))

    async def close_session(self, token: str) -> None:
        await self.sessions.delete_one({"_id": token_digest(token)})


def _check_role(role: str, agency_code: str | None) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role in BODY_ROLES and not agency_code:
        raise ValueError(f"a {role} belongs to a body")


def _user(document: dict[str, Any]) -> User:
    return User(
        document["_id"],
        document["role"],
        document.get("agency_code"),
        document["password_hash"],
        bool(document.get("disabled", False)),
    )
