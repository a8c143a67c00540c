"""The workspace's settings: the shared `ServiceSettings` plus its own, from `WORKSPACE_*`.

- `WORKSPACE_SECURE_COOKIES` (default true) — the session cookie is sent over HTTPS only;
  `make run` (plain HTTP on localhost) sets it false;
- `WORKSPACE_SESSION_HOURS` (default 10) — a session's lifetime (a working day);
- `WORKSPACE_FIRST_ADMIN_FILE` — where the first start writes the admin's password (0600;
  `make run` shows it once and deletes it); unset: printed once to standard error.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class WorkspaceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WORKSPACE_", extra="ignore")

    service_name: str = "workspace"
    secure_cookies: bool = Field(default=True)
    session_hours: int = Field(default=10, ge=1, le=24 * 7)
    first_admin_file: str | None = Field(default=None)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)
