"""Switchable failures, so tests and soaks can prove the client survives a flaky API.

Faults apply to get-logs calls only (after the rate limit and authentication, before the call
runs). Each kind can be armed two ways:

* one-shot: the next ``count`` matching calls fail (``error_burst``, ``slow``, ``non_json``,
  ``fail_entry``), queued in the order armed;
* periodic: every ``n``-th matching call fails (``error_every``, ``slow_every``,
  ``non_json_every``, ``fail_entry_every``), for soaks.

Every method takes an optional ``endpoint`` (``attachment``, ``impersonation``, ``url``) to aim
at one endpoint only. ``expire_tokens()`` makes every API 2.0 token issued so far answer 401
``token_expired``; ``reset()`` disarms everything. The object is thread-safe: tests change it
while the server runs.

The SIEM batch listing (``rejections``) is hit only by faults aimed at it (``endpoint="rejections"``;
``error``, ``slow`` and ``non_json``: it has no ``fail`` envelope), so an unaimed fault keeps its
meaning for get-logs calls. Its own one-shot faults: ``expire_siem_urls(count)`` (the next file
downloads answer 403 as expired) and ``empty_siem_listing(count)`` (the next listings hold no file).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from mimecast_ttp.endpoints import REJECTIONS, SOURCE_KEYS

ERROR_STATUSES = (500, 502, 503, 504, 509)


@dataclass
class Fault:
    """One armed failure. ``kind``: ``error``, ``slow``, ``non_json`` or ``fail_entry``."""

    kind: str
    endpoint: str | None = None
    status: int = 503
    seconds: float = 0.0
    retryable: bool = True
    remaining: int = 0  # one-shot: calls left to fail
    every: int = 0  # periodic: fail every n-th matching call
    seen: int = field(default=0, repr=False)

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "seen"}


class Faults:
    """The failures armed on one server (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._one_shot: list[Fault] = []
        self._periodic: list[Fault] = []
        self.token_generation = 0  # tokens issued in an earlier generation are expired
        self._siem = {"siem_expired_download": 0, "siem_empty_listing": 0}  # kind -> calls left

    # one-shot
    def error_burst(self, status: int = 503, count: int = 1, endpoint: str | None = None) -> Faults:
        """The next ``count`` calls answer ``status`` (500, 502, 503, 504, 509) with an error envelope."""
        return self._arm(Fault("error", endpoint, status=_status(status), remaining=_positive(count)))

    def slow(self, seconds: float = 2.0, count: int = 1, endpoint: str | None = None) -> Faults:
        """The next ``count`` calls wait ``seconds`` before answering normally (client timeouts)."""
        return self._arm(Fault("slow", endpoint, seconds=_seconds(seconds), remaining=_positive(count)))

    def non_json(self, count: int = 1, endpoint: str | None = None) -> Faults:
        """The next ``count`` calls answer 200 with an HTML body, as a broken gateway does."""
        return self._arm(Fault("non_json", endpoint, remaining=_positive(count)))

    def fail_entry(self, retryable: bool = True, count: int = 1, endpoint: str | None = None) -> Faults:
        """The next ``count`` calls answer 200 with no records and a ``fail`` entry."""
        return self._arm(Fault("fail_entry", endpoint, retryable=retryable, remaining=_positive(count)))

    # periodic
    def error_every(self, n: int, status: int = 503, endpoint: str | None = None) -> Faults:
        return self._arm(Fault("error", endpoint, status=_status(status), every=_positive(n)))

    def slow_every(self, n: int, seconds: float = 2.0, endpoint: str | None = None) -> Faults:
        return self._arm(Fault("slow", endpoint, seconds=_seconds(seconds), every=_positive(n)))

    def non_json_every(self, n: int, endpoint: str | None = None) -> Faults:
        return self._arm(Fault("non_json", endpoint, every=_positive(n)))

    def fail_entry_every(self, n: int, retryable: bool = True, endpoint: str | None = None) -> Faults:
        return self._arm(Fault("fail_entry", endpoint, retryable=retryable, every=_positive(n)))

    def expire_tokens(self) -> Faults:
        """Every API 2.0 token issued until now answers 401 ``token_expired`` from now on.

        A generation count rather than a time, so it holds whatever clock the server runs on.
        """
        with self._lock:
            self.token_generation += 1
        return self

    # SIEM batches
    def expire_siem_urls(self, count: int = 1) -> Faults:
        """The next ``count`` batch file downloads answer 403 (expired), whatever their ``expires``."""
        return self._arm_siem("siem_expired_download", count)

    def empty_siem_listing(self, count: int = 1) -> Faults:
        """The next ``count`` batch listings answer no file, ``isCaughtUp`` and the cursor unchanged."""
        return self._arm_siem("siem_empty_listing", count)

    def take_siem(self, kind: str) -> bool:
        """Whether a SIEM fault of ``kind`` hits this call, consuming it."""
        with self._lock:
            if self._siem[kind] > 0:
                self._siem[kind] -= 1
                return True
            return False

    def _arm_siem(self, kind: str, count: int) -> Faults:
        count = _positive(count)
        with self._lock:
            self._siem[kind] += count
        return self

    def reset(self) -> Faults:
        """Disarm every fault (tokens already expired stay expired)."""
        with self._lock:
            self._one_shot.clear()
            self._periodic.clear()
            self._siem = dict.fromkeys(self._siem, 0)
        return self

    @property
    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            siem = [{"kind": kind, "endpoint": REJECTIONS, "remaining": left} for kind, left in self._siem.items()
                    if left]
            return [f.describe() for f in self._one_shot + self._periodic] + siem

    def draw(self, endpoint: str) -> list[Fault]:
        """The faults that hit this call (a slow one may combine with one failure), consuming them.

        A SIEM listing call (``rejections``) draws only the faults aimed at it.
        """
        hits: list[Fault] = []
        aims = (endpoint,) if endpoint == REJECTIONS else (None, endpoint)
        with self._lock:
            for fault in self._one_shot:
                if fault.endpoint in aims and fault.remaining > 0:
                    if fault.kind == "slow" and any(h.kind == "slow" for h in hits):
                        continue
                    if fault.kind != "slow" and any(h.kind != "slow" for h in hits):
                        continue
                    fault.remaining -= 1
                    hits.append(fault)
            self._one_shot = [f for f in self._one_shot if f.remaining > 0]
            for fault in self._periodic:
                if fault.endpoint in aims:
                    fault.seen += 1
                    if fault.seen % fault.every == 0 and not any(
                            (h.kind == "slow") == (fault.kind == "slow") for h in hits):
                        hits.append(fault)
        return hits

    def _arm(self, fault: Fault) -> Faults:
        if fault.endpoint is not None and fault.endpoint not in SOURCE_KEYS:
            raise ValueError(f"unknown endpoint {fault.endpoint!r}; expected one of {', '.join(SOURCE_KEYS)}")
        if fault.endpoint == REJECTIONS and fault.kind == "fail_entry":
            raise ValueError("the SIEM batch listing has no fail envelope: aim error, slow or non_json at it")
        with self._lock:
            (self._periodic if fault.every else self._one_shot).append(fault)
        return self


def _positive(n: int) -> int:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"a fault count or period must be a positive integer, not {n!r}")
    return n


def _status(status: int) -> int:
    if status not in ERROR_STATUSES:
        raise ValueError(f"error status {status} must be one of {ERROR_STATUSES}")
    return status


def _seconds(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"slow seconds must be >= 0, not {seconds}")
    return float(seconds)
