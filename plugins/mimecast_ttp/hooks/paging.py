"""How a window is paged: the get-logs request body and where paging goes next, as a small strategy.

Mimecast pages get-logs with an opaque cursor: every page repeats the same filter and carries
``meta.pagination.pageToken`` from the previous page's ``meta.pagination.next``. Two published
quirks shape the stop rule: ``next`` is sometimes absent on the last page, and sometimes present on
an *empty* last page. Paging that would not end (a token seen before, more pages than the budget)
is an error, never a loop. The hook drives a :class:`TokenPaging` per window; tests drive it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mimecast_ttp.endpoints import Endpoint
from mimecast_ttp.hooks.errors import MimecastPagingError
from mimecast_ttp.utc import as_utc

REQUEST_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S+0000"
DEFAULT_MAX_PAGES = 10_000  # the default of MIMECAST_TTP_MAX_PAGES too


@dataclass(frozen=True)
class Page:
    """One get-logs page: the body exactly as received (what gets staged) and its parsed records."""

    number: int
    body: bytes = field(repr=False)
    records: list[Any] = field(repr=False)
    next_token: str | None
    status: int


def format_request_time(moment: datetime) -> str:
    """``2026-11-26T00:00:00+0000``: the documented form, always in UTC."""
    return as_utc(moment, "time").strftime(REQUEST_TIME_FORMAT)


def request_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The ``from``/``to`` sent for ``[start, end)``: whole seconds, widened (never narrowed)."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    if end <= start:
        raise ValueError(f"empty window: end {end.isoformat()} is not after start {start.isoformat()}")
    request_from = start.replace(microsecond=0)
    request_to = end if end.microsecond == 0 else end.replace(microsecond=0) + timedelta(seconds=1)
    return request_from, request_to


@dataclass
class TokenPaging:
    """The pages of one endpoint and window: the first request, then each next one until the end.

    :param max_pages: pages the window may take before paging counts as broken.
    :param page_token: the token of the first request (None: from the start of the window).
    """

    endpoint: Endpoint
    start: datetime
    end: datetime
    page_size: int
    max_pages: int = DEFAULT_MAX_PAGES
    page_token: str | None = None
    pages_read: int = 0
    _seen: set[str] = field(default_factory=set, repr=False)

    def request(self) -> dict[str, Any]:
        """The documented get-logs body for the next page: the same filter, plus the token after the first."""
        request_from, request_to = request_bounds(self.start, self.end)
        pagination: dict[str, Any] = {"pageSize": self.page_size}
        if self.page_token is not None:
            pagination["pageToken"] = self.page_token
        data = {"from": format_request_time(request_from), "to": format_request_time(request_to),
                "oldestFirst": True, **self.endpoint.request_filters}
        return {"meta": {"pagination": pagination}, "data": [data]}

    def next_token(self, page: Page) -> str | None:
        """Where paging goes after ``page``: its ``next``, unless the page is empty."""
        return page.next_token if page.records and page.next_token else None

    def advance(self, page: Page) -> bool:
        """Take ``page`` in; True when there is another page to read, False at the end."""
        self.pages_read = page.number
        token = self.next_token(page)
        if token is None:
            return False
        key, path = self.endpoint.key, self.endpoint.path
        if token in self._seen:
            raise MimecastPagingError(
                f"{key}: POST {path} page {page.number} returned a page token already followed; "
                f"stopping rather than reading pages twice", path=path)
        if page.number >= self.max_pages:
            raise MimecastPagingError(
                f"{key}: POST {path} still has a next page after {page.number} pages, the page budget "
                f"(MIMECAST_TTP_MAX_PAGES={self.max_pages}); raise it or use shorter windows", path=path)
        self._seen.add(token)
        self.page_token = token
        return True

    def window_text(self) -> str:
        """``[from, to]`` as sent, for messages about this window."""
        data = self.request()["data"][0]
        return f"[{data['from']}, {data['to']}]"
