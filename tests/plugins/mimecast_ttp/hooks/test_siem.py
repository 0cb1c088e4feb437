"""The SIEM batch listing's paging strategy and the batch-file fetch, alone and over loopback."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest

from mimecast_ttp.hooks.mimecast import MimecastHook, MimecastPagingError, MimecastRetryableError
from mimecast_ttp.hooks.siem import BatchFile, BatchListing, ListingPage, listing_dates
from mimecast_ttp.simulator.credentials import demo_connection

START = datetime(2026, 11, 26, 23, 55, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end", "dates"), [
    (START, datetime(2026, 11, 27, 1, tzinfo=UTC), ("2026-11-26", "2026-11-27")),
    (datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC), ("2026-11-26", "2026-11-26")),
])
def test_the_listing_asks_for_the_days_the_window_touches_both_inclusive(start, end, dates):
    assert listing_dates(start, end) == dates


def page(next_page: str | None, caught_up: bool = False) -> ListingPage:
    return ListingPage(number=1, files=[], next_page=next_page, caught_up=caught_up)


def test_paging_ends_when_caught_up_or_without_a_token_and_refuses_a_token_seen_twice():
    listing = BatchListing("receipt", START, START.replace(hour=23, minute=59))
    assert listing.params()["dateRangeStartsAt"] == listing.params()["dateRangeEndsAt"] == "2026-11-26"
    assert listing.advance(page("a")) and listing.params()["nextPage"] == "a"
    assert not BatchListing("receipt", START, START).advance(page("b", caught_up=True))
    assert not BatchListing("receipt", START, START).advance(page(None))
    with pytest.raises(MimecastPagingError, match="came back twice"):
        listing.advance(page("a"))
    bounded = BatchListing("receipt", START, START, max_pages=2)
    bounded.advance(page("x"))
    with pytest.raises(MimecastPagingError, match="more than 2 listing pages"):
        bounded.advance(page("y"))


def test_a_network_error_on_a_batch_file_never_shows_its_signed_link(monkeypatch, simulator, logs):
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(demo_connection(simulator.url)))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    batch = BatchFile(url=f"http://127.0.0.1:{port}/files/receipt-1.json.gz?expires=1&signature=SIGNED-SECRET")
    hook = MimecastHook(retry_attempts=2, retry_wait_initial=0.01, retry_wait_max=0.02)
    with pytest.raises(MimecastRetryableError) as raised:
        hook.download_batch_file(batch)
    assert "127.0.0.1" in str(raised.value) and "ConnectionError" in str(raised.value)
    assert "SIGNED-SECRET" not in str(raised.value) + logs() + repr(batch)
