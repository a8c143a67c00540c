"""A token bucket per caller: `burst` requests at once, then `per_minute` on average.

Kept in the process's memory: each instance limits on its own, which bounds what one caller
gets from one instance (N instances let through N times as much — the edge proxy's limit is
the fleet-wide one). At most `max_callers` buckets are kept, least recently used dropped
first, so a flood of addresses costs bounded memory; a dropped caller starts full again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from services.common.clock import Clock


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimiter:
    def __init__(
        self, per_minute: float, burst: int, clock: Clock, max_callers: int = 100_000
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self.clock = clock
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, caller: str) -> Verdict:
        """Take one token from `caller`'s bucket if there is one."""
        now = self.clock.now().timestamp()
        tokens, at = self._buckets.pop(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
        if tokens >= 1.0:
            self._remember(caller, tokens - 1.0, now)
            return Verdict(True)
        self._remember(caller, tokens, now)
        return Verdict(False, max(1, math.ceil((1.0 - tokens) / self.rate)))

    def _remember(self, caller: str, tokens: float, now: float) -> None:
        self._buckets[caller] = (tokens, now)
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
