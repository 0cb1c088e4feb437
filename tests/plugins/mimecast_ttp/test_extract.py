"""extract_window against the real simulator over loopback HTTP: every record of a window, exactly once.

Each scenario compares the staged records of the window with the simulator's ground truth as
multisets of canonical JSON: nothing lost, nothing twice, whatever the API did on the way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.extract import extract_window, read_staged_pages, record_time
from mimecast_ttp.hooks.mimecast import (
    MimecastEndpointNotLicensed,
    MimecastHook,
    MimecastKeysExpired,
    MimecastRateLimitExceeded,
    MimecastResponseError,
    MimecastRetryableError,
)
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.credentials import (
    demo_connection,
)
from tests.plugins.mimecast_ttp.leak_check import assert_no_secret, canonical, staged_bytes
from tests.scripted_server import ScriptedServer, envelope

END = datetime(2026, 11, 26, 12, tzinfo=UTC)
START = END - timedelta(hours=1)
pytestmark = pytest.mark.usefixtures("no_secret_leaks")  # tests/plugins/mimecast_ttp/conftest.py


# ------------------------------------------------------------------------------------ helpers


def connect(monkeypatch, server, api_version: int = 2, page_size: int = 20) -> None:
    conn = demo_connection(server.url, api_version=api_version)
    conn["extra"] = {**conn["extra"], "page_size": page_size}
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(conn))


def new_hook(**kwargs) -> MimecastHook:
    kwargs.setdefault("retry_wait_initial", 0.01)
    kwargs.setdefault("retry_wait_max", 0.05)
    kwargs.setdefault("max_rate_limit_wait", 30)
    kwargs.setdefault("max_pages", 1000)
    return MimecastHook(**kwargs)


def staged_in_window(manifest: dict, start: datetime, end: datetime) -> list:
    """Staged records the validate step keeps for ``[start, end)`` (an unreadable time is kept)."""
    endpoint = get_endpoint(manifest["endpoint"])
    kept = []
    for _name, body in read_staged_pages(manifest["staging_dir"]):
        for record in endpoint.records_of(body):
            moment = record_time(endpoint, record)
            if moment is None or start <= moment < end:
                kept.append(record)
    assert len(kept) == manifest["records_in_window"]
    return kept


def assert_window_complete(manifest: dict, server, start: datetime = START, end: datetime = END) -> None:
    truth = ground_truth(server.config, manifest["endpoint"], start, end)
    assert truth, "the scenario should hold records"
    assert canonical(staged_in_window(manifest, start, end)) == canonical(truth)


def exhaust_quota(server) -> None:
    """Spend the simulator's call bucket with cheap refused calls, so the next calls meet 429s."""
    with requests.Session() as session:
        while session.post(f"{server.url}/oauth/token", data={"grant_type": "none"}).status_code != 429:
            pass


# ------------------------------------------------------------------------------------ scenarios


@pytest.mark.parametrize("api_version", [1, 2])
@pytest.mark.parametrize("endpoint", ["attachment", "impersonation", "url"])
def test_window_is_staged_whole_and_unchanged(monkeypatch, simulator_factory, tmp_path, logs,
                                              api_version, endpoint):
    server = simulator_factory(volume=150)  # default share of malformed records included
    connect(monkeypatch, server, api_version)
    hook = new_hook()
    manifest = extract_window(hook, endpoint, START, END, tmp_path.as_uri())

    assert_window_complete(manifest, server)
    folder = tmp_path / endpoint / "20261126T110000Z_20261126T120000Z"
    assert manifest["staging_dir"] == folder.as_uri()
    assert manifest["page_files"] == [f"page-{n:06d}.json" for n in range(1, manifest["pages"] + 1)]
    assert manifest["pages"] >= 8 and manifest["api_version"] == str(api_version)
    assert manifest["request_from"] == START.isoformat() and manifest["request_to"] == END.isoformat()
    assert manifest["records"] == sum(len(get_endpoint(endpoint).records_of(body))
                                      for _name, body in read_staged_pages(manifest["staging_dir"]))
    # the staged bytes are the response body exactly as the API sends it (asked again, signed the same way)
    raw = hook.session.post(f"{server.url}{get_endpoint(endpoint).path}",
                            json=hook.paging(endpoint, START, END).request(), timeout=10)
    assert (folder / "page-000001.json").read_bytes() == raw.content
    token = hook.session.auth.token() if api_version == 2 else "no-token"
    assert_no_secret(logs(), json.dumps(manifest), *staged_bytes(tmp_path), extra=(token,))


def test_records_on_the_window_edges_are_read_exactly_once(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=200, malformed_share=0)
    connect(monkeypatch, server, page_size=7)
    times = sorted({record_time(get_endpoint("url"), r) for r in ground_truth(server.config, "url", START, END)})
    edges = [times[10], times[60], times[140]]  # each edge is the time of a record
    hook = new_hook()
    staged = []
    for start, end in zip(edges, edges[1:], strict=False):
        manifest = extract_window(hook, "url", start, end, tmp_path.as_uri())
        assert manifest["records"] > manifest["records_in_window"]  # `to` is inclusive: the edge came too
        assert_window_complete(manifest, server, start, end)
        staged += staged_in_window(manifest, start, end)
    # adjacent windows: the records on the shared edge belong to exactly one of them
    assert canonical(staged) == canonical(ground_truth(server.config, "url", edges[0], edges[-1]))


def test_overlap_widens_the_request_and_the_count(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=120, malformed_share=0)
    connect(monkeypatch, server)
    request_start = START - timedelta(minutes=5)
    manifest = extract_window(new_hook(), "attachment", START, END, tmp_path.as_uri(), request_start=request_start)
    assert manifest["request_from"] == request_start.isoformat()
    assert manifest["staging_dir"].endswith("/attachment/20261126T110000Z_20261126T120000Z")
    assert_window_complete(manifest, server, request_start, END)
    with pytest.raises(ValueError, match="only widen"):
        extract_window(new_hook(), "attachment", START, END, tmp_path.as_uri(), request_start=START + timedelta(1))


def test_a_token_expiring_mid_window_is_minted_again_once(monkeypatch, simulator_factory, tmp_path, logs):
    server = simulator_factory(volume=150, malformed_share=0)
    connect(monkeypatch, server)
    hook = new_hook()
    pages_seen = []

    def expire_after_second_page(response, *args, **kwargs):
        if response.request.path_url.endswith("/get-logs") and response.status_code == 200:
            pages_seen.append(response)
            if len(pages_seen) == 2:
                server.faults.expire_tokens()

    hook.session.hooks["response"].append(expire_after_second_page)
    manifest = extract_window(hook, "url", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    assert manifest["token_refreshes"] == 1 and manifest["tokens_minted"] == server.stats.tokens_issued == 2
    assert server.stats.auth_failures == 1
    assert_no_secret(logs(), *staged_bytes(tmp_path), extra=(hook.session.auth.token(),))


@pytest.mark.parametrize("reset_as_epoch", [False, True], ids=["reset-ms", "reset-epoch-ms"])
def test_429s_wait_what_the_reset_header_says(monkeypatch, simulator_factory, tmp_path, reset_as_epoch):
    server = simulator_factory(volume=60, malformed_share=0, rate_limit=300, reset_as_epoch=reset_as_epoch)
    connect(monkeypatch, server)
    exhaust_quota(server)
    limited_before = server.stats.rate_limited
    manifest = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    assert manifest["rate_limit_waits"] == server.stats.rate_limited - limited_before > 0
    assert manifest["rate_limit_wait_seconds"] > 0
    assert manifest["retries"] == 0  # a 429 is waited out, not counted against the retries


def test_429s_beyond_the_budget_raise_a_retryable_error_and_a_rerun_completes(monkeypatch, simulator_factory,
                                                                              tmp_path):
    server = simulator_factory(volume=100, malformed_share=0, rate_limit=300)
    connect(monkeypatch, server, page_size=50)
    exhaust_quota(server)
    with pytest.raises(MimecastRateLimitExceeded, match="429.*budget.*retry the task later") as excinfo:
        extract_window(new_hook(max_rate_limit_wait=0.1), "url", START, END, tmp_path.as_uri())
    assert isinstance(excinfo.value, MimecastRetryableError)
    # the task's retry: a fresh attempt with the normal budget reads the window whole
    manifest = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)


def test_5xx_bursts_are_retried(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=100, malformed_share=0)
    connect(monkeypatch, server)
    server.faults.error_burst(status=503, count=2).error_burst(status=500, count=1)
    server.faults.error_every(4, status=502)
    manifest = extract_window(new_hook(retry_attempts=5), "impersonation", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    assert manifest["retries"] >= 3


def test_a_read_timeout_is_retried(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=60, malformed_share=0)
    conn = demo_connection(server.url)
    # A timeout far above a normal answer even on a loaded machine, and a slow answer far above it.
    conn["extra"] = {"timeout": 2.0}
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(conn))
    server.faults.slow(seconds=5.0, count=1, endpoint="url")
    manifest = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    assert manifest["retries"] == 1


def test_a_non_json_page_is_fetched_again(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=100, malformed_share=0)
    connect(monkeypatch, server)
    server.faults.non_json_every(3)
    manifest = extract_window(new_hook(), "attachment", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    assert manifest["retries"] >= 1
    for _name, body in read_staged_pages(manifest["staging_dir"]):
        assert isinstance(body, dict)  # the HTML answer was never staged as a page


def test_a_retryable_fail_entry_recovers(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=100, malformed_share=0)
    connect(monkeypatch, server, api_version=1)
    server.faults.fail_entry(retryable=True, count=2)
    manifest = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    assert manifest["retries"] == 2


def test_a_non_retryable_fail_entry_fails_naming_the_code(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=100, malformed_share=0)
    connect(monkeypatch, server)
    server.faults.fail_entry(retryable=False, count=1)
    with pytest.raises(MimecastResponseError, match="err_validation_blocked: simulated failure"):
        extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert server.stats.faults_injected["fail_entry"] == 1  # not repeated


@pytest.mark.parametrize("shape", ["list", "object"])
def test_an_empty_last_page_with_next_ends_paging(monkeypatch, simulator_factory, tmp_path, shape):
    server = simulator_factory(volume=100, malformed_share=0, empty_last_page_with_next=True,
                               empty_data_shape=shape)
    connect(monkeypatch, server)
    manifest = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert_window_complete(manifest, server)
    last = list(read_staged_pages(manifest["staging_dir"]))[-1][1]
    assert get_endpoint("url").records_of(last) == [] and last["meta"]["pagination"]["next"]
    assert server.stats.pages_served == manifest["pages"]  # the empty page was the last call


def test_an_empty_window_stages_its_one_empty_page(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=0)
    connect(monkeypatch, server)
    manifest = extract_window(new_hook(), "attachment", START, END, tmp_path.as_uri())
    assert (manifest["pages"], manifest["records"], manifest["records_in_window"]) == (1, 0, 0)


@pytest.mark.parametrize("api_version", [1, 2])
def test_403_stops_that_endpoint_only(monkeypatch, simulator_factory, tmp_path, api_version):
    server = simulator_factory(volume=60, unlicensed={"url"})
    connect(monkeypatch, server, api_version)
    hook = new_hook()
    with pytest.raises(MimecastEndpointNotLicensed, match="url: POST /api/ttp/url/get-logs answered HTTP 403"):
        extract_window(hook, "url", START, END, tmp_path.as_uri())
    assert_window_complete(extract_window(hook, "attachment", START, END, tmp_path.as_uri()), server)


def test_418_keys_expired_is_not_retried(monkeypatch, simulator_factory, tmp_path, logs):
    server = simulator_factory(keys_expired=True)
    connect(monkeypatch, server, api_version=1)
    with pytest.raises(MimecastKeysExpired, match="issue new access and secret keys") as excinfo:
        extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert server.stats.requests == 1
    assert_no_secret(str(excinfo.value), repr(excinfo.value), logs())


def test_a_rerun_replaces_the_pages_of_an_earlier_attempt(monkeypatch, simulator_factory, tmp_path):
    server = simulator_factory(volume=100, malformed_share=0)
    connect(monkeypatch, server, page_size=10)
    first = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    folder = tmp_path / "url" / "20261126T110000Z_20261126T120000Z"
    (folder / ".page-000003.json.partial").write_text('{"half": ')  # a crashed attempt's leftover
    (folder / "steps").mkdir()  # and a later step's output of the old pages
    connect(monkeypatch, server, page_size=500)
    second = extract_window(new_hook(), "url", START, END, tmp_path.as_uri())
    assert first["pages"] > 5 and second["pages"] == 1
    assert sorted(p.name for p in folder.iterdir()) == ["_manifest.json", "page-000001.json"]
    assert_window_complete(second, server)
    assert json.loads((folder / "_manifest.json").read_text()) == second


def test_read_staged_pages_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no staged pages"):
        list(read_staged_pages((tmp_path / "nothing").as_uri()))


def test_a_failed_extraction_leaves_no_files_behind(monkeypatch, simulator, tmp_path):
    records = ground_truth(simulator.config, "url", START, END)
    with ScriptedServer() as api:  # pages 1 and 2 stage, then every attempt at page 3 is HTML
        api.pages["/api/ttp/url/get-logs"] = [envelope("clickLogs", records[:10]), envelope("clickLogs", records[10:]),
                                              b"<html>502 Bad Gateway</html>"]
        connect(monkeypatch, api)
        staging = tmp_path / "staging"
        with pytest.raises(MimecastResponseError, match="url page 3"):
            extract_window(new_hook(retry_attempts=2), "url", START, END, staging.as_uri())
    assert [path for path in staging.rglob("*") if path.is_file()] == []
    assert not (staging / "url").exists() or list((staging / "url").iterdir()) == []
