"""What a simulator instance serves: data volume, limits, credentials and API quirks.

One dataclass, so a test or the command line states a scenario in one place. The server reads
it on every request, so a test may flip a quirk (``server.config.omit_pagination = True``)
while the server runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mimecast_ttp.endpoints import SOURCE_KEYS
from mimecast_ttp.simulator import credentials
from mimecast_ttp.simulator.siem_events import MIN_VOLUME as SIEM_MIN_VOLUME
from mimecast_ttp.utc import as_utc

EMPTY_DATA_SHAPES = ("list", "object")


@dataclass
class SimulatorConfig:
    """A simulator scenario. Data depends only on ``seed``, ``volume``, ``malformed_share``,
    ``non_object_records`` and (receipt events) ``siem_volume``."""

    seed: int = 1
    volume: int = 60  # records per endpoint per hour
    malformed_share: float = 0.02  # share of records that break the format rules
    rate_limit: int = 120  # calls per minute, one bucket for all endpoints and auth; 0 = off
    page_size_default: int = 100  # when a request names no pageSize
    page_size_max: int = 1000  # larger requests are served this many
    client_id: str = credentials.DEMO_CLIENT_ID
    client_secret: str = credentials.DEMO_CLIENT_SECRET
    access_key: str = credentials.DEMO_ACCESS_KEY
    secret_key: str = credentials.DEMO_SECRET_KEY
    app_id: str = credentials.DEMO_APP_ID
    app_key: str = credentials.DEMO_APP_KEY
    user_name: str = credentials.DEMO_USER_NAME  # API 1.0 login, for fresh keys after a 418
    user_password: str = credentials.DEMO_USER_PASSWORD
    token_ttl: int = 1799  # seconds, the `expires_in` of a 2.0 token
    reset_as_epoch: bool = False  # X-RateLimit-Reset as an epoch in ms instead of ms-from-now
    to_inclusive: bool = True  # a record exactly at `to` is served (the pessimistic reading)
    # quirks seen in real responses
    # The last page has a `next` leading to an empty page that carries a `next` too (as captured);
    # that one leads past the end, to an empty page without one, so a client following `next` ends.
    empty_last_page_with_next: bool = False
    # An empty page as [{"clickLogs": []}] ("object", as captured from the real API) or "data": [] ("list").
    empty_data_shape: str = "object"
    # Values that are not objects (0, a string, a list) inside the log arrays: no capture shows them,
    # and they crash published parsers, so they are off unless asked for.
    non_object_records: bool = False
    omit_pagination: bool = False  # no meta.pagination at all (one page, everything in it)
    keys_expired: bool = False  # API 1.0 calls answer 418 err_xdk_binding_expired
    unlicensed: set[str] = field(default_factory=set)  # source keys answering 403 (rejections: the listing)
    # SIEM batches (the rejections source): receipt events per hour (0 = none, else at least the
    # guaranteed SIEM_MIN_VOLUME), the lifetime of a pre-signed file URL, the largest listing page, and
    # the SIEM's "now" (None: `clock`), which the 7-day horizon, published slots and URL expiry read.
    siem_volume: int = 120
    siem_url_ttl_seconds: int = 300
    siem_page_size_max: int = 100
    siem_now: datetime | None = None
    # "Now" in epoch seconds: what is held yet, where an omitted window ends, token lifetimes.
    # Tests inject a fixed clock so nothing they assert depends on the time of day they run at.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def siem_clock(self) -> float:
        """The SIEM's now in epoch seconds: ``siem_now`` when set (tests may change it at run time)."""
        if self.siem_now is None:
            return self.clock()
        return as_utc(self.siem_now, "siem_now").timestamp()

    def __post_init__(self) -> None:
        problems = []
        if self.volume < 0:
            problems.append(f"volume={self.volume} must be >= 0")
        if not 0.0 <= self.malformed_share <= 1.0:
            problems.append(f"malformed_share={self.malformed_share} must be between 0 and 1")
        if self.rate_limit < 0:
            problems.append(f"rate_limit={self.rate_limit} must be >= 0 (0 turns it off)")
        if not 1 <= self.page_size_default <= self.page_size_max:
            problems.append(f"page_size_default={self.page_size_default} must be in 1..page_size_max")
        if self.token_ttl < 1:
            problems.append(f"token_ttl={self.token_ttl} must be >= 1 second")
        if self.empty_data_shape not in EMPTY_DATA_SHAPES:
            problems.append(f"empty_data_shape={self.empty_data_shape!r} must be one of {EMPTY_DATA_SHAPES}")
        self.unlicensed = set(self.unlicensed)
        unknown = self.unlicensed - set(SOURCE_KEYS)
        if unknown:
            problems.append(f"unlicensed names unknown endpoint(s) {sorted(unknown)}")
        if self.siem_volume != 0 and self.siem_volume < SIEM_MIN_VOLUME:
            problems.append(f"siem_volume={self.siem_volume} must be 0 or >= {SIEM_MIN_VOLUME} (the guaranteed events)")
        if self.siem_url_ttl_seconds < 1:
            problems.append(f"siem_url_ttl_seconds={self.siem_url_ttl_seconds} must be >= 1")
        if self.siem_page_size_max < 1:
            problems.append(f"siem_page_size_max={self.siem_page_size_max} must be >= 1")
        if self.siem_now is not None:
            try:
                self.siem_now = as_utc(self.siem_now, "siem_now")
            except ValueError as err:
                problems.append(str(err))
        if problems:
            raise ValueError("invalid simulator config: " + "; ".join(problems))
