"""Gateway clients and their API keys: which client a presented key belongs to.

Shared by the HTTP gateway (`X-API-Key`) and Open311 (`api_key`): one key per client
(`INTAKE_API_KEYS`), compared in constant time — digests of equal length against every
configured key, with no early exit — and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.common.http_limits import read_capped
from services.common.openapi import refusal

API_KEY_HEADER = "x-api-key"


class GatewayClients:
    def __init__(self, keys: dict[str, bytes]) -> None:
        self._digests = {client: _digest(key) for client, key in keys.items()}

    def client_for(self, presented: str) -> str | None:
        """The client whose key this is, or None (also for an empty key)."""
        if not presented:
            return None
        digest = _digest(presented.encode())
        found = None
        for client, key in self._digests.items():  # no early exit: time does not tell
            if hmac.compare_digest(digest, key):
                found = client
        return found


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()


async def gateway_request(
    request: Request,
    clients: GatewayClients,
    limit: int,
    *,
    refused: Any = None,
    only: frozenset[str] | None = None,
) -> tuple[str, bytes] | Response:
    """(client, body) of a request a gateway client sent, or the refusal: no key 401, a
    key of no client 403, a client not among `only` 403, a body over `limit` bytes 413.
    `refused` (a counter labelled by reason) counts them."""

    def no(status: int, error: str, reason: str = "", **headers: str) -> Response:
        if refused is not None:
            refused.labels(error).inc()
        return refusal(status, error, reason, headers or None)

    presented = request.headers.get(API_KEY_HEADER, "")
    if not presented:
        return no(401, "api_key_missing", **{"WWW-Authenticate": "ApiKey"})
    client = clients.client_for(presented)
    if client is None:
        return no(403, "api_key_wrong")
    if only is not None and client not in only:
        return no(403, "not_an_sms_operator", "only an SMS operator forwards replies to notices")
    body = await read_capped(request, limit)
    if body is None:
        return no(413, "too_large", f"the body must be at most {limit} bytes")
    return client, body
