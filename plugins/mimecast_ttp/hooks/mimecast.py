"""The Mimecast API client as an Airflow hook: both auth schemes, paging, and a flaky, rate-limited API.

Mimecast serves the TTP logs through API 2.0 (OAuth client credentials) and the legacy API 1.0
(HMAC-signed headers) on the same paths. This hook reads its connection once, signs every request
the way its API version wants (:mod:`.auth`), pages a window to the end (:mod:`.paging`), judges
each answer (:mod:`.responses`) and repeats what is worth repeating in one retry layer
(:mod:`.retry`). It never gives up silently: a window comes back whole or the caller gets an
exception that names what went wrong.

It is a plain :class:`BaseHook` with a session of its own (:mod:`.transport`), not an ``HttpHook``:
the HTTP provider's hook would send the login and password as Basic auth, our extras as headers,
and drop the rate-limit headers in its response check, and it reads the connection on each call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from mimecast_ttp.endpoints import ENDPOINT_KEYS, Endpoint, get_endpoint
from mimecast_ttp.hooks import responses, siem, transport
from mimecast_ttp.hooks.auth import BearerAuth, HmacAuth, NoAuth, hmac_signature, mc_date  # noqa: F401
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
)
from mimecast_ttp.hooks.pacing import DEFAULT_RESERVE, Pacer
from mimecast_ttp.hooks.paging import (  # noqa: F401  (re-exported)
    DEFAULT_MAX_PAGES,
    Page,
    TokenPaging,
    format_request_time,
    request_bounds,
)
from mimecast_ttp.hooks.responses import TOKEN_PATH
from mimecast_ttp.hooks.retry import (  # noqa: F401  (re-exported)
    DEFAULT_MAX_RATE_LIMIT_WAIT_SECONDS,
    CallStats,
    RetryPolicy,
    WindowRetrying,
    rate_limit_delay,
)


class MimecastHook(BaseHook):
    """Reads Mimecast TTP logs through API 2.0 or 1.0, as the connection says.

    :param mimecast_conn_id: a ``mimecast`` connection (or a legacy ``http`` one): host = base URL,
        login/password = client id and secret (2.0) or access and secret key (1.0, with ``app_id``
        and ``app_key``).
    :param page_size: records per page, overriding the connection's ``page_size`` (default 500).
    :param max_pages: pages one window may take before paging counts as broken.
    :param max_rate_limit_wait: seconds of 429 waiting one window may spend before the hook
        raises :class:`MimecastRateLimitExceeded`.
    :param retry_attempts: attempts per request on 5xx, timeouts, unreadable bodies.
    :param retry_wait_initial: first backoff in seconds (doubles, with jitter, up to ``retry_wait_max``).
    :param pace_reserve: calls to keep in hand in the shared quota; below it, calls are spread out
        before the server answers 429 (0: no pacing).
    """

    conn_name_attr = "mimecast_conn_id"
    default_conn_name = "mimecast_default"
    conn_type = "mimecast"  # the provider's own type (mimecast_ttp.provider); "http" connections work too
    hook_name = "Mimecast"
    paging_class: type[TokenPaging] = TokenPaging  # how a window is paged: a strategy subclasses may swap

    def __init__(
        self,
        mimecast_conn_id: str = default_conn_name,
        *,
        page_size: int | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_rate_limit_wait: float | timedelta = DEFAULT_MAX_RATE_LIMIT_WAIT_SECONDS,
        retry_attempts: int = 5,
        retry_wait_initial: float = 1.0,
        retry_wait_max: float = 60.0,
        pace_reserve: int = DEFAULT_RESERVE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mimecast_conn_id = mimecast_conn_id
        if isinstance(max_rate_limit_wait, timedelta):
            max_rate_limit_wait = max_rate_limit_wait.total_seconds()
        if max_pages < 1:
            raise ValueError(f"max_pages={max_pages} must be at least 1")
        if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int)
                                      or not 1 <= page_size <= MAX_PAGE_SIZE):
            raise ValueError(f"page_size={page_size!r} must be a whole number from 1 to {MAX_PAGE_SIZE}")
        self._page_size = page_size
        self.max_pages = int(max_pages)
        self.retry_policy = RetryPolicy(attempts=retry_attempts, wait_initial=retry_wait_initial,
                                        wait_max=retry_wait_max, rate_limit_budget=float(max_rate_limit_wait))
        self.stats = CallStats()
        self.pacer = Pacer(self.stats, reserve=pace_reserve)

    # -- connection and session ------------------------------------------------------------

    @cached_property
    def config(self) -> MimecastConnectionConfig:
        """The connection, read once and checked; its secrets registered with the log masker."""
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
        """One keep-alive session for every call of this hook, signed as the API version wants."""
        config = self.config
        session = transport.new_session(config)
        if config.api_version == 2:
            session.auth = self._bearer
        else:
            session.auth = HmacAuth(config.login, config.password, config.app_id or "", config.app_key or "")
        return session

    def get_conn(self) -> requests.Session:
        """The hook's session (the Airflow hook convention)."""
        return self.session

    @cached_property
    def _bearer(self) -> BearerAuth:
        return BearerAuth(self._mint_token)

    def _mint_token(self) -> tuple[str, float]:
        """API 2.0: a token for the connection's client id and secret (one attempt; the retry layer repeats)."""
        config = self.config
        form = {"client_id": config.login, "client_secret": config.password, "grant_type": "client_credentials"}
        value, expires_in = responses.read_token(self._post(TOKEN_PATH, auth=NoAuth(), data=form), config.conn_id)
        mask_secret(value)
        self.stats.tokens_minted += 1
        if self._bearer.has_token:
            self.stats.token_refreshes += 1
        self.log.info("Minted an API 2.0 token valid for %.0fs", expires_in)
        return value, expires_in

    def _post(self, path: str, **request_kwargs: Any) -> requests.Response:
        return self._call("POST", path, **request_kwargs)

    def _call(self, method: str, path: str, **request_kwargs: Any) -> requests.Response:
        self.pacer.wait_turn()
        request = transport.prepare(self.session, self.config, method, path, **request_kwargs)
        self.stats.requests += 1
        response = transport.send(self.session, self.config, request, path)
        self.pacer.observe(response.headers)
        return response

    # -- pages -------------------------------------------------------------------------------

    def paging(self, endpoint: str | Endpoint, start: datetime, end: datetime, *,
               page_size: int | None = None) -> TokenPaging:
        """The paging strategy for one window, with this hook's page size and page budget."""
        endpoint = get_endpoint(endpoint) if isinstance(endpoint, str) else endpoint
        return self.paging_class(endpoint, start, end, page_size=page_size or self.page_size,
                                 max_pages=self.max_pages)

    def iter_pages(self, endpoint: str | Endpoint, start: datetime, end: datetime, *,
                   page_size: int | None = None, paging: TokenPaging | None = None) -> Iterator[Page]:
        """Every page of ``endpoint`` for ``[start, end)``, oldest first, each read exactly once.

        The window's rate-limit budget starts afresh here. Paging that would not end (a token seen
        before, more than ``max_pages`` pages) raises :class:`MimecastPagingError`.
        """
        paging = paging or self.paging(endpoint, start, end, page_size=page_size)
        retrying = WindowRetrying(self.retry_policy, self.stats, self.log)
        number = paging.pages_read
        while True:
            number += 1
            page = self._read_page(paging, number, retrying)
            self.log.info("%s page %d: %d records%s", paging.endpoint.key, number, len(page.records),
                          "" if paging.next_token(page) else " (last)")
            yield page
            if not paging.advance(page):
                return

    def _read_page(self, paging: TokenPaging, number: int, retrying: WindowRetrying) -> Page:
        endpoint, payload = paging.endpoint, paging.request()
        return retrying.call(lambda: self._attempt_page(endpoint, payload, number),
                             what=f"{endpoint.key} page {number}: POST {endpoint.path}", path=endpoint.path,
                             window=paging.window_text())

    def _attempt_page(self, endpoint: Endpoint, payload: dict[str, Any], number: int) -> Page:
        """One attempt at one page; on API 2.0 a 401 mints a new token once and repeats the call."""
        config = self.config
        response = self._post(endpoint.path, json=payload)
        if response.status_code == 401 and config.api_version == 2:
            self.log.info("POST %s: HTTP 401, minting a new token and repeating the call once", endpoint.path)
            self._bearer.expire()
            response = self._post(endpoint.path, json=payload)
        responses.raise_for_status(response, endpoint, conn_id=config.conn_id, api_version=config.api_version)
        return responses.read_page(response, endpoint, number)

    # -- the SIEM event stream (API 2.0) -----------------------------------------------------

    def iter_batch_listing(self, event_type: str, start: datetime, end: datetime, *,
                           page_size: int = siem.DEFAULT_LISTING_PAGE_SIZE) -> Iterator[siem.ListingPage]:
        """Every page of the batch listing of ``event_type`` for the dates ``[start, end)`` covers.

        Listing calls share the quota (pacing, 429 waits, retries) with the TTP endpoints.
        """
        if self.config.api_version != 2:
            raise MimecastConfigurationError(
                f"connection {self.mimecast_conn_id!r} is API 1.0; the SIEM event stream (rejections) is served by "
                "API 2.0 only: add an API 2.0 connection, or leave rejections out of MIMECAST_TTP_SOURCES")
        listing = siem.BatchListing(event_type, start, end, page_size=page_size, max_pages=self.max_pages)
        retrying = WindowRetrying(self.retry_policy, self.stats, self.log)
        while True:
            number, params = listing.pages_read + 1, listing.params()
            page = retrying.call(partial(self._attempt_listing, params, number),
                                 what=f"rejections listing page {number}: GET {siem.BATCH_PATH}", path=siem.BATCH_PATH,
                                 window=f"{params['dateRangeStartsAt']}..{params['dateRangeEndsAt']}")
            self.log.info("rejections listing page %d: %d batch file(s)%s", number, len(page.files),
                          " (caught up)" if page.caught_up else "")
            yield page
            if not listing.advance(page):
                return

    def _attempt_listing(self, params: dict[str, Any], number: int) -> siem.ListingPage:
        response = self._call("GET", siem.BATCH_PATH, params=params)
        if response.status_code == 401:
            self.log.info("GET %s: HTTP 401, minting a new token and repeating the call once", siem.BATCH_PATH)
            self._bearer.expire()
            response = self._call("GET", siem.BATCH_PATH, params=params)
        siem.raise_for_listing_status(response, self.config.conn_id)
        return siem.read_listing(response, number)

    @cached_property
    def download_session(self) -> requests.Session:
        """The session for pre-signed batch files: no credential, none of the connection's headers."""
        return transport.new_download_session(self.config)

    def download_batch_file(self, batch: siem.BatchFile) -> bytes:
        """A batch file's gzip bytes, unchanged; :class:`~.siem.BatchFileExpired` when its link expired."""
        retrying = WindowRetrying(self.retry_policy, self.stats, self.log)
        self.stats.batch_files += 1
        return retrying.call(lambda: siem.fetch_batch_file(self.download_session, batch, self.config.timeout),
                             what=f"batch file {batch.label}", path=batch.label, window="its batch")

    # -- UI ----------------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Sign in and ask each TTP endpoint for one record of the last hour; say what worked."""
        try:
            config = self.config
            end = datetime.now(UTC).replace(microsecond=0)
            start = end - timedelta(hours=1)
            licensed, refused = [], []
            for key in ENDPOINT_KEYS:
                try:
                    next(self.iter_pages(key, start, end, page_size=1))
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
