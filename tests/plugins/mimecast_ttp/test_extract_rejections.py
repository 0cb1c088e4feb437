"""extract_rejections_window against the real simulator's SIEM batch API over loopback HTTP.

Every receipt event of a window is staged exactly once, through expired links, empty listings
and 429s; what cannot be read (a window past the horizon, an API 1.0 connection, an unlicensed
account) fails before anything is staged, with a message that says why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.extract_rejections import (
    MAX_RELISTINGS,
    WindowBeyondHorizon,
    extract_rejections_window,
    read_staged_batches,
)
from mimecast_ttp.hooks.mimecast import (
    MimecastConfigurationError,
    MimecastEndpointNotLicensed,
    MimecastRetryableError,
)
from mimecast_ttp.rules.validation import readable_time
from mimecast_ttp.simulator import ground_truth
from tests.plugins.mimecast_ttp.leak_check import assert_no_secret, canonical, staged_bytes
from tests.plugins.mimecast_ttp.test_extract import connect, exhaust_quota, new_hook

END = datetime(2026, 11, 26, 12, tzinfo=UTC)
START = END - timedelta(hours=1)
REQUEST_START = START - timedelta(minutes=5)
NOW = END + timedelta(hours=2)  # the SIEM's clock and the extraction's: the window's batches are published
pytestmark = pytest.mark.usefixtures("no_secret_leaks")


def staged_events(manifest: dict, start: datetime = START, end: datetime = END) -> tuple[list, list]:
    """(events with a readable time in the request window, events and lines without one) as staged."""
    timed, untimed = [], []
    for _name, events, unreadable, _set_aside in read_staged_batches(manifest["staging_dir"], start, end):
        for event in events:
            stamp = readable_time(REJECTIONS, event)
            if stamp is None:
                untimed.append(event)
            elif REQUEST_START <= datetime.fromisoformat(stamp) < end:
                timed.append(event)
        untimed += unreadable
    return timed, untimed


def truth_with_time(server, start: datetime, end: datetime) -> list:
    return [event for event in ground_truth(server.config, REJECTIONS, start, end)
            if readable_time(REJECTIONS, event) is not None]


def extract(hook, tmp_path, **kwargs):
    kwargs.setdefault("request_start", REQUEST_START)
    kwargs.setdefault("now", NOW)
    return extract_rejections_window(hook, START, END, tmp_path.as_uri(), **kwargs)


def test_every_event_of_the_window_is_staged_once_and_unchanged(monkeypatch, simulator_factory, tmp_path, logs):
    server = simulator_factory(siem_now=NOW)
    connect(monkeypatch, server)
    hook = new_hook()
    manifest = extract(hook, tmp_path)

    timed, untimed = staged_events(manifest)
    assert canonical(timed) == canonical(truth_with_time(server, REQUEST_START, END)) != []
    # an event without a readable time is staged with its file and belongs to that file's window
    assert canonical(untimed) == canonical(
        event for event in ground_truth(server.config, REJECTIONS, START, END)
        if readable_time(REJECTIONS, event) is None)
    assert manifest["records_in_window"] == len(timed) + len(untimed)
    folder = tmp_path / REJECTIONS / "20261126T110000Z_20261126T120000Z"
    assert manifest["staging_dir"] == folder.as_uri()
    # the whole day up to the SIEM's now is listed (the API lists by date): 14 hours of 15-minute files
    assert manifest["batch_files"] == len(manifest["page_files"]) == 14 * 4
    assert manifest["pages"] == manifest["listing_pages"] >= 1 and manifest["relistings"] == 0
    first = hook.iter_batch_listing("receipt", REQUEST_START, END).__next__().files[0]
    assert (folder / "batch-000001.ndjson.gz").read_bytes() == hook.download_batch_file(first)
    assert_no_secret(logs(), json.dumps(manifest), *staged_bytes(tmp_path), extra=(hook.session.auth.token(),))
    assert "signature=" not in logs() + json.dumps(manifest)  # a pre-signed link is a secret of its own


def test_expired_links_are_listed_again_and_nothing_is_lost(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW)
    connect(monkeypatch, server)
    server.faults.expire_siem_urls(count=2)
    manifest = extract(new_hook(), tmp_path)

    assert manifest["relistings"] == 2
    assert manifest["batch_files"] == 14 * 4
    timed, _untimed = staged_events(manifest)
    assert canonical(timed) == canonical(truth_with_time(server, REQUEST_START, END))


def test_links_that_keep_expiring_fail_retryably_and_stage_nothing(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW)
    connect(monkeypatch, server)
    server.faults.expire_siem_urls(count=MAX_RELISTINGS + 1)
    with pytest.raises(MimecastRetryableError, match=r"expired.*again after 3 fresh listings"):
        extract(new_hook(), tmp_path)
    assert not (tmp_path / REJECTIONS / "20261126T110000Z_20261126T120000Z").exists()


def test_an_empty_listing_is_an_empty_window_not_an_error(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW, siem_volume=0)
    connect(monkeypatch, server)
    manifest = extract(new_hook(), tmp_path)
    assert (manifest["batch_files"], manifest["records"], manifest["listing_pages"]) == (0, 0, 1)


def test_429s_on_the_listing_wait_for_the_reset_and_the_window_completes(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW, rate_limit=300, siem_page_size_max=10)
    connect(monkeypatch, server)
    exhaust_quota(server)
    manifest = extract(new_hook(), tmp_path)
    assert manifest["rate_limit_waits"] >= 1 and manifest["listing_pages"] >= 6
    timed, _untimed = staged_events(manifest)
    assert canonical(timed) == canonical(truth_with_time(server, REQUEST_START, END))


def test_a_window_past_the_seven_day_horizon_is_refused_before_any_call(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW)
    connect(monkeypatch, server)
    before = server.stats.requests
    with pytest.raises(WindowBeyondHorizon, match=r"keeps SIEM batches for about 7 days.*MIMECAST_TTP_SOURCES"):
        extract(new_hook(), tmp_path, now=REQUEST_START + timedelta(days=7, seconds=1))
    assert server.stats.requests == before
    extract(new_hook(), tmp_path, now=REQUEST_START + timedelta(days=7))  # the last instant still readable


def test_api_1_0_and_an_unlicensed_account_say_what_is_wrong(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW)
    connect(monkeypatch, server, api_version=1)
    with pytest.raises(MimecastConfigurationError, match=r"API 1.0; the SIEM event stream .* API 2.0 only"):
        extract(new_hook(), tmp_path)
    unlicensed = simulator_factory(siem_now=NOW, unlicensed={REJECTIONS})
    connect(monkeypatch, unlicensed)
    with pytest.raises(MimecastEndpointNotLicensed, match="not licensed or not permitted for the SIEM event stream"):
        extract(new_hook(), tmp_path)


def test_events_without_a_readable_time_belong_to_one_window_only(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(siem_now=NOW)
    connect(monkeypatch, server)
    manifest = extract(new_hook(), tmp_path)  # the whole day's files are staged for [11:00, 12:00)

    def untimed_and_set_aside(start: datetime, end: datetime) -> tuple[list, int]:
        untimed, set_aside = [], 0
        for _name, events, unreadable, aside in read_staged_batches(manifest["staging_dir"], start, end):
            untimed += [e for e in events if readable_time(REJECTIONS, e) is None] + unreadable
            set_aside += aside
        return untimed, set_aside

    everything, _ = untimed_and_set_aside(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    hours = [START + timedelta(hours=offset) for offset in range(-11, 2)]
    untimed = []
    for start in hours:  # read as each hourly window of the day would read the same files
        here, set_aside = untimed_and_set_aside(start, start + timedelta(hours=1))
        assert len(here) + set_aside == len(everything)  # set aside here = what the other windows take
        untimed += here
    expected = [e for e in ground_truth(server.config, REJECTIONS, hours[0], hours[-1] + timedelta(hours=1))
                if readable_time(REJECTIONS, e) is None]
    assert canonical(untimed) == canonical(expected) != []
