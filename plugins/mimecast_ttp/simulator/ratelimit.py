"""The API quota: one token bucket shared by the three endpoints and the token endpoint.

Mimecast meters calls per app (2.0) or user (1.0) across all endpoints and answers every response
with ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (milliseconds until
a call returns to the bucket; one peer reads it as an epoch, hence ``reset_as_epoch``). Over
quota, the call is refused with 429 and not executed.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

UNLIMITED = 1_000_000  # what the headers say when the limit is off, so clients never wait


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int  # milliseconds until one more call is available (0 when the bucket has one)

    def headers(self, *, as_epoch: bool) -> dict[str, str]:
        reset = self.reset_ms
        if as_epoch:
            reset = int(time.time() * 1000) + self.reset_ms
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(reset)}


class TokenBucket:
    """``per_minute`` calls a minute, refilled continuously, starting full."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.configure(per_minute)

    def configure(self, per_minute: int) -> None:
        with self._lock:
            self.per_minute = per_minute
            self._tokens = float(per_minute)
            self._stamp = self._clock()

    def take(self) -> Decision:
        with self._lock:
            if self.per_minute <= 0:
                return Decision(True, UNLIMITED, UNLIMITED, 0)
            now = self._clock()
            rate = self.per_minute / 60.0  # calls per second
            self._tokens = min(float(self.per_minute), self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            missing = 1.0 - (self._tokens - math.floor(self._tokens)) if self._tokens < self.per_minute else 0.0
            reset_ms = math.ceil(missing / rate * 1000) if missing else 0
            return Decision(allowed, self.per_minute, int(math.floor(self._tokens)), reset_ms)
