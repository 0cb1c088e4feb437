"""The Mimecast API client as an Airflow hook: both auth schemes, paging, and a flaky, rate-limited API.

Mimecast serves the TTP logs through API 2.0 (OAuth client credentials) and the legacy API 1.0
(HMAC-signed headers) on the same paths. This hook reads one connection, signs every request the
way its API version wants, pages a time window to the end, and turns the API's many ways of
saying "not now" (429 with a reset header, 5xx, timeouts, a body that is not JSON, a ``fail``
entry inside a 200) into bounded waits and retries, or into an error that names what went wrong.
It never gives up silently: a window either comes back whole or the caller gets an exception.

The class is a subclass of the HTTP provider's :class:`HttpHook` so it inherits its session
handling (keep-alive adapter, proxies and other extras), with three deliberate differences:
our own extras (``api_version``, ``page_size``, ``timeout``, ``verify``, ``app_id``, ``app_key``)
are settings, never HTTP headers; the login and password are never sent as Basic auth; status
codes are judged here, because ``HttpHook.check_response`` drops the rate-limit headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import attrs
import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.log import mask_secret
from requests.auth import AuthBase

from mimecast_ttp.endpoints import ENDPOINT_KEYS, Endpoint, get_endpoint
from mimecast_ttp.hooks.connection import (  # noqa: F401  (re-exported: the hook's public names)
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    GLOBAL_API2_URL,
    MAX_PAGE_SIZE,
    MIMECAST_EXTRAS,
    MimecastConnectionConfig,
    mimecast_extras,
)
from mimecast_ttp.hooks.errors import (  # noqa: F401  (re-exported: the hook's public names)
    MimecastAuthError,
    MimecastConfigurationError,
    MimecastEndpointNotLicensed,
    MimecastError,
    MimecastKeysExpired,
    MimecastPagingError,
    MimecastRateLimitExceeded,
    MimecastRedirectRefused,
    MimecastResponseError,
    MimecastRetryableError,
    MimecastTLSError,
    MimecastUnreadablePage,
    _TransientFailure,
    _UnreadableBody,
)
from mimecast_ttp.json_lines import TooDeeplyNested, loads

TOKEN_PATH = "/oauth/token"
REQUEST_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S+0000"
# A 429 whose reset has already passed (or says 0) still waits this long, so a stream of them
# cannot spin; the budget then bounds how many there can be.
MIN_RATE_LIMIT_WAIT_SECONDS = 0.05
TRANSIENT_STATUSES = frozenset({408, 425, 500, 502, 503, 504, 509})


# --------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Page:
    """One get-logs page: the body exactly as received (what gets staged) and its parsed records."""

    number: int
    body: bytes = field(repr=False)
    records: list[Any] = field(repr=False)
    next_token: str | None
    status: int


@dataclass
class CallStats:
    """What the API cost us, for the run statistics."""

    requests: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    retries: int = 0
    token_refreshes: int = 0

    def snapshot(self) -> dict[str, float]:
        return asdict(self)


# -------------------------------------------------------------------------------- pure helpers


def format_request_time(moment: datetime) -> str:
    """``2026-11-26T00:00:00+0000``: the documented form, always in UTC."""
    return _utc(moment, "time").strftime(REQUEST_TIME_FORMAT)


def request_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The ``from``/``to`` sent for ``[start, end)``: whole seconds, widened (never narrowed)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        raise ValueError(f"empty window: end {end.isoformat()} is not after start {start.isoformat()}")
    request_from = start.replace(microsecond=0)
    request_to = end if end.microsecond == 0 else end.replace(microsecond=0) + timedelta(seconds=1)
    return request_from, request_to


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}={moment.isoformat()} has no time zone; give an aware datetime (UTC)")
    return moment.astimezone(UTC)


def rate_limit_delay(reset: str | None, *, now: float, fallback: float) -> float:
    """Seconds to wait after a 429, from ``X-RateLimit-Reset``.

    Mimecast documents milliseconds until a call returns to the bucket; one integration reads it
    as an epoch. Both are accepted: above ~1e11 it is epoch milliseconds, between 1e9 and 1e10
    epoch seconds, otherwise milliseconds. A missing or unreadable header waits ``fallback``.
    """
    try:
        number = float(str(reset).strip())
    except (TypeError, ValueError):
        return max(fallback, MIN_RATE_LIMIT_WAIT_SECONDS)
    if not math.isfinite(number):
        return max(fallback, MIN_RATE_LIMIT_WAIT_SECONDS)
    if number > 1e11:
        delay = number / 1000 - now
    elif 1e9 <= number <= 1e10:
        delay = number - now
    else:
        delay = number / 1000
    return max(delay, MIN_RATE_LIMIT_WAIT_SECONDS)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def mc_date(moment: datetime) -> str:
    """``Tue, 24 Nov 2015 12:50:11 UTC`` in English whatever the process locale (``%a``/``%b`` are not)."""
    moment = _utc(moment, "x-mc-date")
    return (f"{_WEEKDAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
            f"{moment.year} {moment:%H:%M:%S} UTC")


def hmac_signature(secret_key: str, date: str, request_id: str, path: str, app_key: str) -> str:
    """API 1.0 signature: base64(HMAC-SHA1(base64decode(secret key), "date:req id:path:app key"))."""
    digest = hmac.new(base64.b64decode(secret_key), f"{date}:{request_id}:{path}:{app_key}".encode(),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _fail_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every error of the ``fail`` array, each as ``{"code", "message", "retryable"}``."""
    errors = []
    for entry in body.get("fail") or []:
        entry_errors = entry.get("errors") if isinstance(entry, dict) else None
        if not isinstance(entry_errors, list) or not entry_errors:
            errors.append({"code": "unknown", "message": str(entry)[:200], "retryable": False})
            continue
        for error in entry_errors:
            error = error if isinstance(error, dict) else {"message": str(error)}
            retryable = error.get("retryable")
            errors.append({
                "code": str(error.get("code") or "unknown"),
                "message": str(error.get("message") or ""),
                "retryable": retryable is True or str(retryable).lower() == "true",
            })
    return errors


def _describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['code']}: {e['message']}".rstrip(": ") for e in errors)


def _envelope_problem(body: Any) -> str | None:
    """Why a parsed body is not a get-logs envelope, or None when it is one."""
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__}, not an object"
    if "data" not in body:
        return "no 'data' array"
    if not isinstance(body["data"], list):
        return "'data' is not an array"
    if not isinstance(body.get("fail", []), list):
        return "'fail' is not an array"
    meta = body.get("meta") or {}  # absent or null: no paging information, one page
    if not isinstance(meta, dict):
        return "'meta' is not an object"
    if not isinstance(meta.get("pagination") or {}, dict):
        return "'meta.pagination' is not an object"
    return None


def _body_codes(response: requests.Response) -> list[dict[str, Any]]:
    """The ``fail`` errors of an error response, when its body has any (best effort)."""
    try:
        body = loads(response.content)
    except ValueError:
        return []
    return _fail_errors(body) if isinstance(body, dict) and isinstance(body.get("fail"), list) else []


def _preview(content: bytes) -> str:
    text = content[:80].decode("utf-8", errors="replace")
    return repr(text) + ("..." if len(content) > 80 else "")


# ----------------------------------------------------------------------------------------- auth


class _NoAuth(AuthBase):
    """Keeps the session's Mimecast auth off the token request itself."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class _BearerAuth(AuthBase):
    """API 2.0: ``Authorization: Bearer`` with whatever token the hook holds (minting one if due)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        return request


class _HmacAuth(AuthBase):
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


@dataclass
class _Token:
    value: str = field(repr=False)
    refresh_at: float  # time.monotonic() after which a new one is minted


# ----------------------------------------------------------------------------------------- hook


class MimecastHook(HttpHook):
    """Reads Mimecast TTP logs through API 2.0 or 1.0, as the connection says.

    :param mimecast_conn_id: an ``http`` connection: host = base URL, login/password = client id
        and secret (2.0) or access and secret key (1.0, with extras ``app_id`` and ``app_key``).
    :param page_size: records per page, overriding the connection's ``page_size`` extra (default 500).
    :param max_pages: pages one window may take before paging counts as broken
        (default ``MIMECAST_TTP_MAX_PAGES``).
    :param max_rate_limit_wait: seconds of 429 waiting one window may spend before the hook
        raises :class:`MimecastRateLimitExceeded` (default ``MIMECAST_TTP_MAX_RATE_LIMIT_WAIT_SECONDS``).
    :param retry_attempts: attempts per request on 5xx, timeouts, unreadable bodies.
    :param retry_wait_initial: first backoff in seconds (doubles, with jitter, up to ``retry_wait_max``).
    """

    conn_name_attr = "mimecast_conn_id"
    default_conn_name = "mimecast_default"
    conn_type = "mimecast"  # the provider's own type (mimecast_ttp.provider); "http" connections work too
    hook_name = "Mimecast"

    def __init__(
        self,
        mimecast_conn_id: str = default_conn_name,
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
        max_rate_limit_wait: float | timedelta | None = None,
        retry_attempts: int = 5,
        retry_wait_initial: float = 1.0,
        retry_wait_max: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="POST", http_conn_id=mimecast_conn_id, **kwargs)
        self.mimecast_conn_id = mimecast_conn_id
        if max_pages is None or max_rate_limit_wait is None:
            from mimecast_ttp.settings import Settings

            settings = Settings.from_env()
            max_pages = settings.max_pages if max_pages is None else max_pages
            if max_rate_limit_wait is None:
                max_rate_limit_wait = settings.max_rate_limit_wait
        if isinstance(max_rate_limit_wait, timedelta):
            max_rate_limit_wait = max_rate_limit_wait.total_seconds()
        if max_pages < 1:
            raise ValueError(f"max_pages={max_pages} must be at least 1")
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int)
                                      or not 1 <= page_size <= MAX_PAGE_SIZE):
            raise ValueError(f"page_size={page_size!r} must be a whole number from 1 to {MAX_PAGE_SIZE}")
        if retry_attempts < 1:
            raise ValueError(f"retry_attempts={retry_attempts} must be at least 1")
        self._page_size = page_size
        self.max_pages = int(max_pages)
        self.max_rate_limit_wait = float(max_rate_limit_wait)
        self.retry_attempts = retry_attempts
        self.retry_wait_initial = retry_wait_initial
        self.retry_wait_max = retry_wait_max
        self.stats = CallStats()
        self._token: _Token | None = None
        self._rate_limit_budget_left = self.max_rate_limit_wait

    # -- connection and session ------------------------------------------------------------

    @cached_property
    def config(self) -> MimecastConnectionConfig:
        """The connection's settings, checked once; its secrets registered with the log masker."""
        config = MimecastConnectionConfig.from_connection(self.get_connection(self.mimecast_conn_id))
        for secret in (config.password, config.app_key):
            if secret:
                mask_secret(secret)
        return config

    @property
    def api_version(self) -> int:
        return self.config.api_version

    @property
    def page_size(self) -> int:
        """Records asked for per page: the hook's argument, else the connection's, else 500."""
        return self._page_size or self.config.page_size

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session for every call of this hook."""
        return self.get_conn()

    def get_conn(self, headers: dict[Any, Any] | None = None,
                 extra_options: dict[str, Any] | None = None) -> requests.Session:
        """HttpHook's session, signed the Mimecast way, verifying TLS as the connection says."""
        session = super().get_conn(headers, extra_options)
        session.verify = self.config.verify
        session.headers["Accept"] = "application/json"
        return session

    def _set_base_url(self, connection: Any) -> None:
        # HttpHook defaults to http://; ours is checked (https, or http on loopback only).
        self.base_url = self.config.base_url
        self._base_url_initialized = True

    def _configure_session_from_auth(self, session: requests.Session, connection: Any) -> requests.Session:
        # HttpHook would send login/password as Basic auth: the client secret on every request.
        config = self.config
        if config.api_version == 2:
            session.auth = _BearerAuth(self._bearer_token)
        else:
            session.auth = _HmacAuth(config.login, config.password, config.app_id or "", config.app_key or "")
        return session

    def _configure_session_from_extra(self, session: requests.Session, connection: Any,
                                      extra_options: dict[str, Any]) -> requests.Session:
        # HttpHook sends every extra it does not know as a header; ours are settings (app_key a secret).
        others = {k: v for k, v in mimecast_extras(connection.extra_dejson).items() if k not in MIMECAST_EXTRAS}
        cleaned = attrs.evolve(connection, extra=json.dumps(others))
        return super()._configure_session_from_extra(session, cleaned, extra_options)

    # -- token (API 2.0) -------------------------------------------------------------------

    def _bearer_token(self) -> str:
        """The cached token, minted again shortly before ``expires_in`` runs out."""
        if self._token is None or time.monotonic() >= self._token.refresh_at:
            self._token = self._mint_token()
        return self._token.value

    def _expire_token(self) -> None:
        """The server refused the token: the next request mints a new one (and counts a refresh)."""
        if self._token is not None:
            self._token.refresh_at = -math.inf

    def _mint_token(self) -> _Token:
        config = self.config
        form = {"client_id": config.login, "client_secret": config.password, "grant_type": "client_credentials"}
        response = self._send(TOKEN_PATH, auth=_NoAuth(), data=form)
        status = response.status_code
        if status in {400, 401, 403}:
            codes = _body_codes(response)
            detail = f" ({_describe(codes)})" if codes else ""
            raise MimecastAuthError(
                f"connection {config.conn_id!r}: POST {TOKEN_PATH} refused the client id and secret "
                f"(HTTP {status}){detail}; check the connection's login and password",
                path=TOKEN_PATH, status=status, codes=tuple(e["code"] for e in codes))
        if status != 200:
            self._raise_for_unexpected(response, TOKEN_PATH, "the token endpoint")
        try:
            body = loads(response.content)
            value = body["access_token"]
            expires_in = float(body.get("expires_in", 1799))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise _TransientFailure(f"POST {TOKEN_PATH} answered HTTP 200 without a readable access_token",
                                    status=status) from None
        if not isinstance(value, str) or not value:
            raise _TransientFailure(f"POST {TOKEN_PATH} answered HTTP 200 with an empty access_token",
                                    status=status)
        mask_secret(value)
        if self._token is not None:
            self.stats.token_refreshes += 1
        # Refresh a little early: a tenth of the lifetime, at most a minute.
        margin = min(60.0, expires_in * 0.1)
        self.log.info("Minted an API 2.0 token valid for %.0fs", expires_in)
        return _Token(value=value, refresh_at=time.monotonic() + max(expires_in - margin, 0.0))

    # -- one request -----------------------------------------------------------------------

    def _send(self, path: str, **request_kwargs: Any) -> requests.Response:
        """POST ``path``; 429s wait what ``X-RateLimit-Reset`` says, within the window's budget."""
        blind_waits = 0
        while True:
            request = requests.Request("POST", self.url_from_endpoint(path), **request_kwargs)
            prepared = self.session.prepare_request(request)
            self.stats.requests += 1
            try:
                response = self.run_and_check(self.session, prepared, {
                    "check_response": False, "timeout": self.config.timeout, "allow_redirects": False})
            except requests.exceptions.SSLError as err:
                if not _is_certificate_failure(err):
                    raise
                raise MimecastTLSError(
                    f"POST {path}: the TLS certificate of {urlsplit(prepared.url).hostname} did not verify "
                    f"({_ssl_reason(err)}); if the host is right, set the connection's extra \"verify\" to the "
                    f"path of the CA bundle that signs it (\"false\" turns verification off: never in "
                    f"production)", path=path) from None
            if response.is_redirect or 300 <= response.status_code < 400:
                raise MimecastRedirectRefused(
                    f"POST {path} answered HTTP {response.status_code}, a redirect to {_origin_of(response)}; "
                    f"redirects are not followed (they would carry credentials or a signed request to "
                    f"another origin): check the connection's host", path=path, status=response.status_code)
            if response.status_code != 429:
                return response
            reset = response.headers.get("X-RateLimit-Reset")
            if reset is None:
                blind_waits += 1
            delay = rate_limit_delay(reset, now=time.time(), fallback=min(2.0 ** blind_waits, 60.0))
            self._wait_for_quota(path, delay, reset)

    def _wait_for_quota(self, path: str, delay: float, reset: str | None) -> None:
        stats = self.stats
        if delay > self._rate_limit_budget_left:
            raise MimecastRateLimitExceeded(
                f"POST {path}: HTTP 429 (over quota); X-RateLimit-Reset={reset!r} asks for {delay:.1f}s but "
                f"only {self._rate_limit_budget_left:.1f}s remain of this window's {self.max_rate_limit_wait:.0f}s "
                f"rate-limit budget (MIMECAST_TTP_MAX_RATE_LIMIT_WAIT_SECONDS) after {stats.rate_limit_waits} "
                f"waits; nothing was skipped: retry the task later",
                path=path, status=429)
        self.log.info("POST %s: HTTP 429, waiting %.2fs (X-RateLimit-Reset=%s)", path, delay, reset)
        time.sleep(delay)
        self._rate_limit_budget_left -= delay
        stats.rate_limit_waits += 1
        stats.rate_limit_wait_seconds += delay

    def _exchange(self, endpoint: Endpoint, payload: dict[str, Any]) -> requests.Response:
        """One get-logs call; on API 2.0 a 401 mints a new token once and repeats the call."""
        response = self._send(endpoint.path, json=payload)
        if response.status_code == 401 and self.config.api_version == 2:
            self.log.info("POST %s: HTTP 401, minting a new token and repeating the call once", endpoint.path)
            self._expire_token()
            response = self._send(endpoint.path, json=payload)
        return response

    def _raise_for_status(self, response: requests.Response, endpoint: Endpoint) -> None:
        status, path, config = response.status_code, endpoint.path, self.config
        if status == 200:
            return
        codes = _body_codes(response)
        detail = f" ({_describe(codes)})" if codes else ""
        code_names = tuple(e["code"] for e in codes)
        if status == 401:
            hint = ("even with a freshly minted token; check the client's permissions"
                    if config.api_version == 2 else "check the access key, secret key, app id and app key")
            raise MimecastAuthError(
                f"{endpoint.key}: POST {path} answered HTTP 401{detail} {hint} (connection {config.conn_id!r})",
                path=path, status=status, codes=code_names)
        if status == 403:
            raise MimecastEndpointNotLicensed(
                f"{endpoint.key}: POST {path} answered HTTP 403{detail}: the account behind connection "
                f"{config.conn_id!r} is not licensed or not permitted for this endpoint",
                path=path, status=status, codes=code_names)
        if status == 418:
            raise MimecastKeysExpired(
                f"{endpoint.key}: POST {path} answered HTTP 418{detail}: the API 1.0 keys of connection "
                f"{config.conn_id!r} have expired; issue new access and secret keys in the Mimecast "
                f"console and update the connection (retrying will not help)",
                path=path, status=status, codes=code_names)
        self._raise_for_unexpected(response, path, endpoint.key)

    def _raise_for_unexpected(self, response: requests.Response, path: str, label: str) -> None:
        status = response.status_code
        codes = _body_codes(response)
        detail = f" ({_describe(codes)})" if codes else ""
        if status in TRANSIENT_STATUSES:
            raise _TransientFailure(f"{label}: POST {path} answered HTTP {status}{detail}", status=status)
        raise MimecastResponseError(f"{label}: POST {path} answered HTTP {status}{detail}",
                                    path=path, status=status, codes=tuple(e["code"] for e in codes))

    def _read_page(self, endpoint: Endpoint, payload: dict[str, Any], number: int) -> Page:
        """One attempt at one page: a checked envelope, or an exception saying why not."""
        response = self._exchange(endpoint, payload)
        self._raise_for_status(response, endpoint)
        raw, status, path = response.content, response.status_code, endpoint.path
        where = f"{endpoint.key} page {number}: POST {path} answered HTTP {status}"
        try:
            body = loads(raw)
        except TooDeeplyNested as err:
            raise _UnreadableBody(f"{where} with a body that is {err} ({len(raw)} bytes)", status=status) from None
        except ValueError:
            raise _UnreadableBody(f"{where} with a body that is not JSON ({len(raw)} bytes, {_preview(raw)})",
                                  status=status) from None
        problem = _envelope_problem(body)
        if problem:
            raise _UnreadableBody(f"{where} with a body that is not a get-logs envelope: {problem}", status=status)
        errors = _fail_errors(body)
        if errors:
            if all(e["retryable"] for e in errors):
                raise _TransientFailure(f"{where} with retryable fail entries: {_describe(errors)}", status=status)
            raise MimecastResponseError(f"{where} with fail entries: {_describe(errors)}",
                                        path=path, status=status, codes=tuple(e["code"] for e in errors))
        try:
            records = endpoint.records_of(body)
        except ValueError as err:
            raise _UnreadableBody(f"{where} with a malformed records array: {err}", status=status) from None
        pagination = (body.get("meta") or {}).get("pagination") or {}
        next_token = pagination.get("next") or None
        return Page(number=number, body=raw, records=records,
                    next_token=str(next_token) if next_token is not None else None, status=status)

    def _fetch_page(self, endpoint: Endpoint, payload: dict[str, Any], number: int) -> Page:
        """One page with bounded, jittered exponential backoff on transient failures (tenacity)."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry_attempts),
            wait=tenacity.wait_exponential_jitter(multiplier=self.retry_wait_initial, max=self.retry_wait_max,
                                                  jitter=self.retry_wait_initial),
            retry=tenacity.retry_if_exception_type((_TransientFailure, *_NETWORK_ERRORS)),
            before_sleep=self._note_retry,
            reraise=True,
        )
        try:
            return retrying(self._read_page, endpoint, payload, number)
        except _UnreadableBody as err:
            window = payload["data"][0]
            raise MimecastUnreadablePage(
                f"{err}; the same after {self.retry_attempts} attempts, so the window "
                f"[{window['from']}, {window['to']}] cannot be read whole and fails here",
                path=endpoint.path, status=err.status) from None
        except _TransientFailure as err:
            raise MimecastRetryableError(f"{err}; gave up after {self.retry_attempts} attempts",
                                         path=endpoint.path, status=err.status) from None
        except _NETWORK_ERRORS as err:
            raise MimecastRetryableError(
                f"{endpoint.key} page {number}: POST {endpoint.path} failed: {type(err).__name__}: {err}; "
                f"gave up after {self.retry_attempts} attempts", path=endpoint.path) from None

    def _note_retry(self, retry_state: tenacity.RetryCallState) -> None:
        self.stats.retries += 1
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        self.log.warning("Attempt %d failed: %s; retrying in %.2fs", retry_state.attempt_number, error, wait)

    # -- paging ----------------------------------------------------------------------------

    def page_request(self, endpoint: Endpoint, start: datetime, end: datetime, *,
                     page_size: int | None = None, page_token: str | None = None) -> dict[str, Any]:
        """The documented get-logs body: the same filter on every page, plus the token after the first."""
        request_from, request_to = request_bounds(start, end)
        pagination: dict[str, Any] = {"pageSize": page_size or self.page_size}
        if page_token is not None:
            pagination["pageToken"] = page_token
        data = {"from": format_request_time(request_from), "to": format_request_time(request_to),
                "oldestFirst": True, **endpoint.request_filters}
        return {"meta": {"pagination": pagination}, "data": [data]}

    def next_page_token(self, page: Page) -> str | None:
        """Where paging goes next: ``next``, unless the page is empty (a ``next`` has been seen on an empty last page)."""
        return page.next_token if page.records and page.next_token else None

    def iter_pages(self, endpoint: str | Endpoint, start: datetime, end: datetime, *,
                   page_size: int | None = None) -> Iterator[Page]:
        """Every page of ``endpoint`` for ``[start, end)``, oldest first, each read exactly once.

        The window's rate-limit budget starts afresh here. Paging that would not end (a token seen
        before, more than ``max_pages`` pages) raises :class:`MimecastPagingError`.
        """
        endpoint = get_endpoint(endpoint) if isinstance(endpoint, str) else endpoint
        self._rate_limit_budget_left = self.max_rate_limit_wait
        seen: set[str] = set()
        token: str | None = None
        number = 0
        while True:
            number += 1
            payload = self.page_request(endpoint, start, end, page_size=page_size, page_token=token)
            page = self._fetch_page(endpoint, payload, number)
            self.log.info("%s page %d: %d records%s", endpoint.key, number, len(page.records),
                          "" if self.next_page_token(page) else " (last)")
            yield page
            token = self.next_page_token(page)
            if token is None:
                return
            if token in seen:
                raise MimecastPagingError(
                    f"{endpoint.key}: POST {endpoint.path} page {number} returned a page token already "
                    f"followed; stopping rather than reading pages twice", path=endpoint.path)
            if number >= self.max_pages:
                raise MimecastPagingError(
                    f"{endpoint.key}: POST {endpoint.path} still has a next page after {number} pages, the "
                    f"page budget (MIMECAST_TTP_MAX_PAGES={self.max_pages}); raise it or use shorter windows",
                    path=endpoint.path)
            seen.add(token)

    # -- UI ----------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Sign in and ask each TTP endpoint for one record of the last hour; say what worked."""
        try:
            config = self.config
            end = datetime.now(UTC).replace(microsecond=0)
            start = end - timedelta(hours=1)
            licensed, refused = [], []
            for key in ENDPOINT_KEYS:
                endpoint = get_endpoint(key)
                try:
                    self._fetch_page(endpoint, self.page_request(endpoint, start, end, page_size=1), 1)
                    licensed.append(key)
                except MimecastEndpointNotLicensed:
                    refused.append(key)
        except Exception as err:  # the UI's Test button shows the message; the hook never raises here
            return False, f"Mimecast connection {self.mimecast_conn_id!r} failed: {err}"
        where = f"Mimecast API {config.api_version}.0 at {config.base_url}"
        if not licensed:
            return False, f"{where}: credentials accepted, but no TTP endpoint is licensed ({', '.join(refused)})"
        message = f"{where}: credentials accepted; get-logs answered for {', '.join(licensed)}"
        if refused:
            message += f"; not licensed: {', '.join(refused)}"
        return True, message


def _is_certificate_failure(err: requests.exceptions.SSLError) -> bool:
    """Whether the TLS error is a certificate that did not verify (urllib3 nests the ssl error in args)."""
    cause: BaseException | None = err
    for _ in range(10):  # the chain is short; the bound only guards against a cycle
        if cause is None:
            return False
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__ or (cause.args[0] if cause.args and isinstance(
            cause.args[0], BaseException) else None)
    return False


def _ssl_reason(err: requests.exceptions.SSLError) -> str:
    text = str(err)
    for marker in ("certificate verify failed: ", "CERTIFICATE_VERIFY_FAILED"):
        if marker in text:
            return text[text.index(marker):].split(")")[0].split("'")[0][:160]
    return type(err).__name__


def _origin_of(response: requests.Response) -> str:
    """Scheme and host of a redirect's target, nothing more (a Location may carry a secret in its query)."""
    location = response.headers.get("Location")
    if not location:
        return "no Location given"
    target = urlsplit(requests.compat.urljoin(response.url or "", location))
    return f"{target.scheme}://{target.hostname}" + (f":{target.port}" if target.port else "")


_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
