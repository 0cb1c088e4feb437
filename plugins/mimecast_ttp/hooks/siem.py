"""Mimecast's SIEM event stream (API 2.0): the batch listing, its paging, and the batch files.

``GET /siem/v1/batch/events/cg?type=receipt&pageSize=N&dateRangeStartsAt=D&dateRangeEndsAt=D``
(Bearer token) lists batch files, about one per 15 minutes, going back about seven days:
``{"value": [{"url", "expiry", "size"}], "@nextPage": TOKEN, "isCaughtUp": bool}``. Each URL is a
pre-signed, expiring link to a gzipped NDJSON file of events, fetched without the Bearer header;
a 403 or 404 on it means the link expired, and a fresh listing gives fresh links. Everything here
is judged from the response alone; the hook (:mod:`.mimecast`) does the calls and the retries.

A file URL carries its signature in the query string, so only :meth:`BatchFile.label` (host and
path) is ever logged or raised, never the URL itself.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from mimecast_ttp.hooks.errors import (
    MimecastAuthError,
    MimecastEndpointNotLicensed,
    MimecastPagingError,
    _TransientFailure,
    _UnreadableBody,
)
from mimecast_ttp.json_lines import loads

BATCH_PATH = "/siem/v1/batch/events/cg"
HORIZON = timedelta(days=7)  # how far back Mimecast keeps batches
DEFAULT_LISTING_PAGE_SIZE = 100
DEFAULT_MAX_LISTING_PAGES = 1_000
GZIP_MAGIC = b"\x1f\x8b"


class BatchFileExpired(Exception):
    """A batch file's pre-signed link answered 403 or 404: list again for a fresh one."""

    def __init__(self, label: str, status: int) -> None:
        super().__init__(f"batch file {label} answered HTTP {status} (its pre-signed link expired)")
        self.label, self.status = label, status


@dataclass(frozen=True)
class BatchFile:
    """One entry of a listing. ``url`` is a secret-bearing link: log :attr:`label`, never it."""

    url: str = field(repr=False)
    expiry: str | None = None
    size: int | None = None

    @property
    def key(self) -> str:
        """The file's identity across listings: its path (a fresh listing signs it anew)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}{parts.path}"

    @property
    def label(self) -> str:
        return self.key


@dataclass(frozen=True)
class ListingPage:
    number: int
    files: list[BatchFile]
    next_page: str | None
    caught_up: bool


def listing_dates(start: datetime, end: datetime) -> tuple[str, str]:
    """The UTC dates (``YYYY-MM-DD``, both inclusive) a listing for ``[start, end)`` must cover."""
    last = end - timedelta(microseconds=1)
    return start.date().isoformat(), last.date().isoformat()


@dataclass
class BatchListing:
    """The paging strategy of one listing: the query, the token to send next, and when to stop.

    Paging ends at ``isCaughtUp`` or a page without ``@nextPage``; a token seen twice, or more
    pages than ``max_pages``, is a :class:`MimecastPagingError` rather than a loop.
    """

    event_type: str
    start: datetime
    end: datetime
    page_size: int = DEFAULT_LISTING_PAGE_SIZE
    max_pages: int = DEFAULT_MAX_LISTING_PAGES
    next_page: str | None = None
    pages_read: int = 0
    _seen: set[str] = field(default_factory=set)

    def params(self) -> dict[str, Any]:
        first, last = listing_dates(self.start, self.end)
        params: dict[str, Any] = {"type": self.event_type, "pageSize": self.page_size,
                                  "dateRangeStartsAt": first, "dateRangeEndsAt": last}
        if self.next_page:
            params["nextPage"] = self.next_page
        return params

    def advance(self, page: ListingPage) -> bool:
        """Take ``page`` in; whether another page must be asked for."""
        self.pages_read += 1
        if page.caught_up or not page.next_page:
            return False
        if page.next_page in self._seen:
            raise MimecastPagingError(f"{BATCH_PATH}: @nextPage {page.next_page[:12]}... came back twice; "
                                      "the listing does not converge", path=BATCH_PATH)
        if self.pages_read >= self.max_pages:
            raise MimecastPagingError(f"{BATCH_PATH}: more than {self.max_pages} listing pages for one window",
                                      path=BATCH_PATH)
        self._seen.add(page.next_page)
        self.next_page = page.next_page
        return True


def raise_for_listing_status(response: requests.Response, conn_id: str) -> None:
    """Nothing for a 200; the error a listing's status means otherwise (5xx: try again)."""
    from mimecast_ttp.hooks.responses import raise_unexpected

    status = response.status_code
    if status == 200:
        return
    if status == 401:
        raise MimecastAuthError(f"GET {BATCH_PATH} answered HTTP 401 even with a freshly minted token; check the "
                                f"API 2.0 application's permissions (connection {conn_id!r})",
                                path=BATCH_PATH, status=status)
    if status == 403:
        raise MimecastEndpointNotLicensed(
            f"rejections: GET {BATCH_PATH} answered HTTP 403: the account behind connection {conn_id!r} is not "
            "licensed or not permitted for the SIEM event stream", path=BATCH_PATH, status=status)
    raise_unexpected(response, BATCH_PATH, "rejections")


def read_listing(response: requests.Response, number: int) -> ListingPage:
    """A 200's body as a listing page, or the (retryable) reason it is not one."""
    where = f"rejections listing page {number}: GET {BATCH_PATH} answered HTTP {response.status_code}"
    try:
        body = loads(response.content)
    except ValueError:
        raise _UnreadableBody(f"{where} with a body that is not JSON ({len(response.content)} bytes)",
                              status=response.status_code) from None
    if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
        raise _UnreadableBody(f"{where} with a body that is not a batch listing (no 'value' array)",
                              status=response.status_code)
    files = []
    for index, entry in enumerate(body.get("value") or []):
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise _UnreadableBody(f"{where}: value[{index}] has no http(s) 'url'", status=response.status_code)
        size = entry.get("size")
        files.append(BatchFile(url=url, expiry=str(entry["expiry"]) if entry.get("expiry") is not None else None,
                               size=size if isinstance(size, int) and not isinstance(size, bool) else None))
    next_page = body.get("@nextPage")
    return ListingPage(number=number, files=files, next_page=str(next_page) if next_page else None,
                       caught_up=body.get("isCaughtUp") is True)


def fetch_batch_file(session: requests.Session, batch: BatchFile, timeout: float) -> bytes:
    """One attempt at a batch file: its gzip bytes, unchanged.

    403/404: :class:`BatchFileExpired`; 5xx, a redirect, a network error or a body that is not
    gzip: a transient failure (the retry layer asks again); a 429 goes to the retry layer with its
    reset header. A network error's own message would quote the link, signature included, so only
    its kind is kept.
    """
    from mimecast_ttp.hooks.retry import RateLimited

    try:
        response = session.get(batch.url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as err:
        raise _TransientFailure(f"batch file {batch.label}: {type(err).__name__} (the link is not shown: "
                                "it carries its signature)") from None
    status = response.status_code
    if status in (403, 404):
        raise BatchFileExpired(batch.label, status)
    if status == 429:
        raise RateLimited(batch.label, response.headers.get("X-RateLimit-Reset"))
    if status != 200:
        raise _TransientFailure(f"batch file {batch.label} answered HTTP {status}", status=status)
    content = response.content
    if content[:2] != GZIP_MAGIC:
        raise _UnreadableBody(f"batch file {batch.label} is not gzip ({len(content)} bytes)", status=status)
    return content


def batch_lines(content: bytes, label: str) -> list[bytes]:
    """The non-blank NDJSON lines of a gzipped batch file (``ValueError`` naming it if it is not gzip)."""
    try:
        text = zlib.decompress(content, wbits=31)  # 31: a gzip wrapper, as the files have
    except zlib.error as err:
        raise ValueError(f"batch file {label} is not a readable gzip file: {err}") from None
    return [line for line in text.splitlines() if line.strip()]
