"""How requests are signed: an OAuth bearer token (API 2.0) or an HMAC signature (API 1.0).

Both are ``requests`` auth objects, applied to every request the session prepares, retries
included: API 1.0 wants a fresh date, request id and signature each time, and API 2.0 a token
that is minted once, cached, and minted again shortly before it expires or when the server
refuses it. Login and password are never sent as Basic auth.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from mimecast_ttp.utc import as_utc

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def mc_date(moment: datetime) -> str:
    """``Tue, 24 Nov 2015 12:50:11 UTC`` in English whatever the process locale (``%a``/``%b`` are not)."""
    moment = as_utc(moment, "x-mc-date")
    return (f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
            f"{moment.year} {moment:%H:%M:%S} UTC")


def hmac_signature(secret_key: str, date: str, request_id: str, path: str, app_key: str) -> str:
    """API 1.0 signature: base64(HMAC-SHA1(base64decode(secret key), "date:req id:path:app key"))."""
    digest = hmac.new(base64.b64decode(secret_key), f"{date}:{request_id}:{path}:{app_key}".encode(),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class NoAuth(AuthBase):
    """Keeps the session's Mimecast auth off the token request itself."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class HmacAuth(AuthBase):
    """API 1.0: a fresh date, request id and signature on every request, including retries."""

    def __init__(self, access_key: str, secret_key: str, app_id: str, app_key: str) -> None:
        self._access_key, self._secret_key = access_key, secret_key
        self._app_id, self._app_key = app_id, app_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        date = mc_date(datetime.now(UTC))
        request_id = str(uuid.uuid4())
        path = urlsplit(request.url).path
        signature = hmac_signature(self._secret_key, date, request_id, path, self._app_key)
        request.headers.update({
            "x-mc-date": date,
            "x-mc-req-id": request_id,
            "x-mc-app-id": self._app_id,
            "Authorization": f"MC {self._access_key}:{signature}",
        })
        return request


class BearerAuth(AuthBase):
    """API 2.0: ``Authorization: Bearer`` with the cache's token, minting one when due.

    :param mint: asks the token endpoint for a token; returns it and its lifetime in seconds.
    """

    def __init__(self, mint: Callable[[], tuple[str, float]]) -> None:
        self._mint = mint
        self._value: str | None = None
        self._refresh_at = -math.inf  # time.monotonic() after which a new token is minted

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request

    def token(self) -> str:
        """The cached token, minted again a little before ``expires_in`` runs out."""
        if self._value is None or time.monotonic() >= self._refresh_at:
            value, expires_in = self._mint()
            margin = min(60.0, expires_in * 0.1)  # a tenth of the lifetime, at most a minute
            self._value, self._refresh_at = value, time.monotonic() + max(expires_in - margin, 0.0)
        return self._value

    @property
    def has_token(self) -> bool:
        """Whether a token was minted before (the next mint is then a refresh)."""
        return self._value is not None

    def expire(self) -> None:
        """The server refused the token: the next request mints a new one."""
        self._refresh_at = -math.inf
