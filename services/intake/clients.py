"""Gateway clients and their API keys: which client a presented key belongs to.

Shared by the HTTP gateway (`X-API-Key`) and Open311 (`api_key`): one key per client
(`INTAKE_API_KEYS`), compared in constant time — digests of equal length against every
configured key, with no early exit — and never logged.
"""

from __future__ import annotations

import hashlib
import hmac


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
