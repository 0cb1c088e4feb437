"""What a running simulator has seen: requests, statuses, 429s, tokens, faults, records served.

Tests and soaks read these while the server runs (``server.stats``, or ``GET /_simulator/stats``).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class SimulatorStats:
    """Counters a test or a soak reads while the server runs (``snapshot()`` for a consistent copy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0  # every request outside /_simulator/
            self.by_status: Counter[int] = Counter()
            self.by_endpoint: Counter[str] = Counter()  # authenticated get-logs calls
            self.rate_limited = 0  # 429s sent
            self.tokens_issued = 0
            self.auth_failures = 0  # 401 and 418
            self.faults_injected: Counter[str] = Counter()
            self.pages_served = 0
            self.records_served = 0
            self.siem_files_served = 0  # SIEM batch files downloaded

    def count(self, **increments: int) -> None:
        with self._lock:
            for name, n in increments.items():
                setattr(self, name, getattr(self, name) + n)

    def bump(self, counter: str, key: Any, n: int = 1) -> None:
        with self._lock:
            getattr(self, counter)[key] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests, "by_status": {str(k): v for k, v in self.by_status.items()},
                "by_endpoint": dict(self.by_endpoint), "rate_limited": self.rate_limited,
                "tokens_issued": self.tokens_issued, "auth_failures": self.auth_failures,
                "faults_injected": dict(self.faults_injected), "pages_served": self.pages_served,
                "records_served": self.records_served, "siem_files_served": self.siem_files_served,
            }
