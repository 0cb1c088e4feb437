"""MimecastHook against the real simulator over loopback HTTP: auth, paging, status codes, secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mimecast_ttp.hooks.mimecast import (
    MIMECAST_EXTRAS,
    MimecastAuthError,
    MimecastConfigurationError,
    MimecastEndpointNotLicensed,
    MimecastHook,
    MimecastKeysExpired,
    MimecastPagingError,
    MimecastRedirectRefused,
    MimecastResponseError,
    MimecastRetryableError,
    MimecastTLSError,
    MimecastUnreadablePage,
    TokenPaging,
    hmac_signature,
    mc_date,
    rate_limit_delay,
    request_bounds,
)
from mimecast_ttp.hooks.responses import envelope_problem, fail_errors
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.credentials import (
    DEMO_APP_KEY,
    demo_connection,
)
from tests.clocks import at_every_clock
from tests.plugins.mimecast_ttp.leak_check import assert_no_secret, canonical
from tests.scripted_server import Answer, ScriptedServer, envelope, self_signed_tls_context

END = datetime(2026, 11, 26, 12, tzinfo=UTC)
START = END - timedelta(hours=1)
pytestmark = pytest.mark.usefixtures("no_secret_leaks")  # tests/plugins/mimecast_ttp/conftest.py


def use_connection(monkeypatch, conn: dict, conn_id: str = "mimecast_default") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def fast_hook(conn_id: str = "mimecast_default", **kwargs) -> MimecastHook:
    kwargs.setdefault("retry_wait_initial", 0.01)
    kwargs.setdefault("retry_wait_max", 0.05)
    kwargs.setdefault("max_rate_limit_wait", 30)
    kwargs.setdefault("max_pages", 1000)
    return MimecastHook(conn_id, **kwargs)


def read_config():
    return fast_hook().config


def paged_records(hook: MimecastHook, endpoint: str, start=START, end=END) -> list:
    return [record for page in hook.iter_pages(endpoint, start, end) for record in page.records]


def error_text(excinfo: pytest.ExceptionInfo) -> str:
    """What an exception says (str and repr), through its whole cause chain."""
    texts, error = [], excinfo.value
    while error is not None:
        texts += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    return "\n".join(texts)


# ----------------------------------------------------------------------------- pure helpers


def test_signature_matches_the_documented_check_value():
    signature = hmac_signature("ZXhhbXBsZS1zZWNyZXQta2V5LWJ5dGVzLTAxMjM0NTY3ODk=",
                               "Tue, 24 Nov 2015 12:50:11 UTC", "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297",
                               "/api/ttp/url/get-logs", "00000000-0000-0000-0000-000000000000")
    assert signature == "zLISe7ce18/hkoqRDVzYlQhoKLo="


def test_mc_date_is_english_and_utc():
    moment = datetime(2015, 11, 24, 14, 50, 11, tzinfo=timezone(timedelta(hours=1)))
    assert mc_date(moment) == "Tue, 24 Nov 2015 13:50:11 UTC"


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        ("1500", 1.5),  # documented: milliseconds from now
        (str(1_700_000_000_000 + 2_500), 2.5),  # epoch milliseconds
        (str(1_700_000_000 + 3), 3.0),  # epoch seconds
        ("0", 0.05),  # never a zero wait: a stream of 429s cannot spin
        (str(1_700_000_000_000 - 10_000), 0.05),  # an epoch already past
        (None, 4.0),  # no header: the caller's backoff
        ("soon", 4.0),
    ],
)
def test_rate_limit_reset_is_read_in_both_readings(reset, expected):
    assert rate_limit_delay(reset, now=1_700_000_000.0, fallback=4.0) == pytest.approx(expected)


def test_request_bounds_widen_to_whole_seconds_and_read_naive_times_as_utc():
    start = datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    end = datetime(2026, 1, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert request_bounds(start, end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, 0, 1, tzinfo=UTC))
    paris = timezone(timedelta(hours=1))  # the package's one rule (mimecast_ttp.utc): naive is UTC
    assert request_bounds(datetime(2026, 1, 1), datetime(2026, 1, 1, 2, tzinfo=paris)) == (
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="empty window"):
        request_bounds(end, start)


@pytest.mark.parametrize("name", [
    "elastic_v1mock_attachment_1.json", "elastic_v1mock_attachment_2_no_next.json",
    "elastic_v1mock_impersonation_1.json", "elastic_v1mock_url_1_clean.json", "elastic_v2mock_attachment_1.json",
    "elastic_v2mock_attachment_3_lastpage_empty.json", "elastic_v2mock_impersonation_2.json",
    "elastic_v2mock_impersonation_3_lastpage_empty_with_next.json", "elastic_v2mock_url_1.json",
    "elastic_v2mock_url_3_lastpage_empty_with_next.json", "rapid7v1_url_empty_response.json",
])
def test_real_get_logs_bodies_pass_the_envelope_check(fixtures_dir, name):
    body = json.loads((fixtures_dir / name).read_text())
    assert envelope_problem(body) is None
    assert fail_errors(body) == []


def test_real_error_bodies_are_read_for_their_codes(fixtures_dir):
    throttled = json.loads((fixtures_dir / "elastic_issue11460_v2_429_body.json").read_text())
    assert envelope_problem(throttled) == "no 'data' array"  # never mistaken for an empty page
    refused = json.loads((fixtures_dir / "rapid7v1_error_401_invalid_signature.json").read_text())
    assert [e["code"] for e in fail_errors(refused)] == ["err_xdk_invalid_signature"]
    assert not any(e["retryable"] for e in fail_errors(refused))


# ----------------------------------------------------------------------------- connection


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": {"api_version": "3"}}, "api_version"),
        ({"extra": {"api_version": "2", "page_size": "many"}}, "page_size"),
        ({"extra": {"api_version": "2", "page_size": 0}}, "page_size"),
        ({"extra": {"api_version": "2", "timeout": -1}}, "timeout"),
        ({"extra": {"api_version": "2", "verify": "maybe"}}, "verify"),
        ({"login": ""}, "login"),
        ({"password": ""}, "password"),
        ({"host": "api.example.com", "schema": "ftp"}, "scheme"),
    ],
)
def test_a_wrong_setting_is_named(monkeypatch, change, message):
    conn = {**demo_connection("http://127.0.0.1:9"), **change}
    use_connection(monkeypatch, conn)
    with pytest.raises(MimecastConfigurationError, match=message) as excinfo:
        read_config()
    assert_no_secret(str(excinfo.value))


def test_api1_needs_app_id_app_key_and_a_base64_secret_key(monkeypatch):
    conn = demo_connection("http://127.0.0.1:9", api_version=1)
    use_connection(monkeypatch, {**conn, "extra": {"api_version": "1", "app_key": DEMO_APP_KEY}})
    with pytest.raises(MimecastConfigurationError, match="app_id"):
        read_config()
    use_connection(monkeypatch, {**conn, "password": "not base64 !"})
    with pytest.raises(MimecastConfigurationError, match="not valid base64") as excinfo:
        read_config()
    assert "not base64 !" not in str(excinfo.value)


@pytest.mark.parametrize("host", ["api.services.mimecast.com", "http://api.services.mimecast.com",
                                  "http://10.0.0.8:8080"])
def test_plain_http_is_refused_off_loopback(monkeypatch, host):
    use_connection(monkeypatch, {**demo_connection("http://127.0.0.1:9"), "host": host, "schema": "http"})
    with pytest.raises(MimecastConfigurationError, match="http:// .* refused"):
        read_config()


@pytest.mark.parametrize(
    ("host", "schema", "port", "base_url"),
    [
        ("127.0.0.1", "http", 8089, "http://127.0.0.1:8089"),
        ("localhost", "http", None, "http://localhost"),
        ("http://[::1]:8089", None, None, "http://[::1]:8089"),
        ("127.10.0.1", "http", 80, "http://127.10.0.1:80"),
        ("uk-api.services.mimecast.com", None, None, "https://uk-api.services.mimecast.com"),
        ("https://us-api.services.mimecast.com/", None, None, "https://us-api.services.mimecast.com"),
        ("", None, None, "https://api.services.mimecast.com"),
    ],
)
def test_base_url_from_the_connection(monkeypatch, host, schema, port, base_url):
    conn = {**demo_connection("http://127.0.0.1:9"), "host": host, "schema": schema, "port": port}
    use_connection(monkeypatch, conn)
    hook = fast_hook()
    assert hook.config.base_url == base_url
    assert hook.config.verify is True
    assert hook.session.verify is True


def test_api1_without_a_host_asks_for_the_regional_one(monkeypatch):
    use_connection(monkeypatch, {**demo_connection("http://127.0.0.1:9", api_version=1), "host": ""})
    with pytest.raises(MimecastConfigurationError, match="region"):
        read_config()


def test_the_connection_is_read_once_per_hook(monkeypatch, simulator):
    use_connection(monkeypatch, demo_connection(simulator.url))
    reads: list[str] = []
    original = MimecastHook.get_connection.__func__

    def counting(cls, conn_id):
        reads.append(conn_id)
        return original(cls, conn_id)

    monkeypatch.setattr(MimecastHook, "get_connection", classmethod(counting))
    hook = fast_hook()
    for endpoint in ("url", "attachment"):
        paged_records(hook, endpoint)
    assert hook.test_connection()[0]
    assert reads == ["mimecast_default"]


def test_the_http_providers_session_extras_shape_the_session_and_are_never_headers(monkeypatch, simulator):
    conn = demo_connection(simulator.url)
    proxies = {"https": "http://user:proxy-password@proxy.internal:3128"}
    conn["extra"] = {**conn["extra"], "proxies": proxies, "cert": "/etc/ssl/client.pem", "trust_env": "false",
                     "max_redirects": 30}
    use_connection(monkeypatch, conn)
    hook = fast_hook()
    session = hook.session
    assert session.proxies == proxies and session.cert == "/etc/ssl/client.pem" and session.trust_env is False
    assert not {"proxies", "cert", "trust_env", "max_redirects"} & {name.lower() for name in session.headers}
    assert "proxy-password" not in repr(hook.config)


def test_the_budgets_default_to_the_settings_defaults():
    from mimecast_ttp.settings import Settings

    settings, hook = Settings.from_env({}), MimecastHook()
    assert hook.max_pages == settings.max_pages
    assert hook.retry_policy.rate_limit_budget == settings.max_rate_limit_wait.total_seconds()


@pytest.mark.parametrize("api_version", [1, 2])
def test_settings_in_extra_never_travel_as_headers(monkeypatch, simulator, api_version):
    conn = demo_connection(simulator.url, api_version=api_version)
    conn["extra"] = {**conn["extra"], "page_size": 7, "timeout": 5, "verify": "false", "X-Custom": "kept"}
    use_connection(monkeypatch, conn)
    hook = fast_hook()
    sent: list[dict] = []
    hook.session.hooks["response"].append(lambda response, *a, **k: sent.append(dict(response.request.headers)))
    records = paged_records(hook, "url")

    assert canonical(records) == canonical(ground_truth(simulator.config, "url", START, END))
    assert hook.config.page_size == 7 and hook.config.timeout == 5 and hook.config.verify is False
    assert sent, "no request reached the simulator"
    for headers in sent:
        names = {name.lower() for name in headers}
        assert not names & {name.lower() for name in MIMECAST_EXTRAS}
        assert headers.get("X-Custom") == "kept"  # HttpHook's own contract for other extras stays
        assert_no_secret(json.dumps(headers, default=str))  # no Basic auth with the secret either
        assert not headers.get("Authorization", "").startswith("Basic")


def test_page_size_argument_overrides_the_connection(monkeypatch, simulator_factory):
    server = simulator_factory(volume=100, malformed_share=0)
    use_connection(monkeypatch, {**demo_connection(server.url), "extra": {"page_size": 7}})
    pages = list(fast_hook(page_size=40).iter_pages("url", START, END))
    assert [len(page.records) for page in pages[:-1]] == [40] * (len(pages) - 1)
    assert canonical([r for page in pages for r in page.records]) == canonical(
        ground_truth(server.config, "url", START, END))
    with pytest.raises(ValueError, match="page_size"):
        fast_hook(page_size=0)


# ----------------------------------------------------------------------------- auth


def test_api2_token_is_cached_across_pages_and_endpoints(monkeypatch, simulator_factory):
    server = simulator_factory(volume=120, malformed_share=0)
    use_connection(monkeypatch, {**demo_connection(server.url), "extra": {"page_size": 25}})
    hook = fast_hook()
    for endpoint in ("attachment", "url"):
        assert canonical(paged_records(hook, endpoint)) == canonical(
            ground_truth(server.config, endpoint, START, END))
    assert server.stats.tokens_issued == 1
    assert hook.stats.token_refreshes == 0


def test_api2_token_refreshed_before_it_runs_out(monkeypatch, simulator_factory):
    server = simulator_factory(volume=120, malformed_share=0, token_ttl=1)
    server.faults.slow_every(1, seconds=0.35, endpoint="url")  # six pages take ~2 s: two token lifetimes
    use_connection(monkeypatch, {**demo_connection(server.url), "extra": {"page_size": 20}})
    hook = fast_hook()
    records = paged_records(hook, "url")
    assert canonical(records) == canonical(ground_truth(server.config, "url", START, END))
    assert hook.stats.token_refreshes >= 1
    assert server.stats.auth_failures == 0  # refreshed ahead of expiry, never refused


def test_api2_wrong_client_secret_is_a_clear_auth_error(monkeypatch, simulator, logs):
    use_connection(monkeypatch, {**demo_connection(simulator.url), "password": "a-wrong-client-secret"})
    with pytest.raises(MimecastAuthError, match="/oauth/token.*HTTP 401") as excinfo:
        paged_records(fast_hook(), "url")
    assert_no_secret(error_text(excinfo), logs(), extra=("a-wrong-client-secret",))


def test_api2_a_second_401_names_the_endpoint(monkeypatch, simulator, logs):
    use_connection(monkeypatch, demo_connection(simulator.url))
    hook = fast_hook()

    def expire_every_token(response, *args, **kwargs):
        if response.request.path_url == "/oauth/token":
            simulator.faults.expire_tokens()  # the fresh token is refused too

    hook.session.hooks["response"].append(expire_every_token)
    with pytest.raises(MimecastAuthError, match=r"url: POST /api/ttp/url/get-logs answered HTTP 401") as excinfo:
        paged_records(hook, "url")
    assert "token_expired" in str(excinfo.value)
    assert hook.stats.token_refreshes == 1  # minted again once, not in a loop
    assert simulator.stats.tokens_issued == 2
    seen = logs()
    assert "minting a new token" in seen  # the hook's log lines are captured here
    assert_no_secret(error_text(excinfo), seen, extra=(hook.session.auth.token(),))


def test_api1_signs_every_request(monkeypatch, simulator_factory):
    server = simulator_factory(volume=90, malformed_share=0)
    conn = demo_connection(server.url, api_version=1)
    use_connection(monkeypatch, {**conn, "extra": {**conn["extra"], "page_size": 10}})
    hook = fast_hook()
    sent: list[dict] = []
    hook.session.hooks["response"].append(lambda response, *a, **k: sent.append(dict(response.request.headers)))
    pages = list(hook.iter_pages("impersonation", START, END))
    assert canonical([r for page in pages for r in page.records]) == canonical(
        ground_truth(server.config, "impersonation", START, END))
    assert len(pages) > 5 and len(sent) == len(pages) and server.stats.auth_failures == 0
    assert len({headers["x-mc-req-id"] for headers in sent}) == len(sent)
    assert all(headers["Authorization"].startswith("MC ") for headers in sent)


def test_api1_bad_signature_is_an_auth_error(monkeypatch, simulator, logs):
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleQ=="
    use_connection(monkeypatch, {**demo_connection(simulator.url, api_version=1), "password": wrong_key})
    with pytest.raises(MimecastAuthError, match="HTTP 401.*err_xdk_invalid_signature") as excinfo:
        paged_records(fast_hook(), "url")
    assert not isinstance(excinfo.value, MimecastRetryableError)
    assert_no_secret(error_text(excinfo), logs(), extra=(wrong_key,))


def test_api1_expired_keys_fail_without_retry(monkeypatch, simulator_factory, logs):

    server = simulator_factory(keys_expired=True)
    use_connection(monkeypatch, demo_connection(server.url, api_version=1))
    hook = fast_hook()
    with pytest.raises(MimecastKeysExpired, match="418.*err_xdk_binding_expired.*issue new") as excinfo:
        paged_records(hook, "attachment")
    assert isinstance(excinfo.value, AirflowFailException)  # the task's own retries are skipped too
    assert hook.stats.retries == 0 and server.stats.requests == 1
    assert_no_secret(error_text(excinfo), logs())


# ----------------------------------------------------------------------------- statuses, paging


@pytest.mark.parametrize("api_version", [1, 2])
def test_403_is_its_own_error_naming_the_endpoint(monkeypatch, simulator_factory, api_version):
    server = simulator_factory(unlicensed={"impersonation"})
    use_connection(monkeypatch, demo_connection(server.url, api_version=api_version))
    hook = fast_hook()
    with pytest.raises(MimecastEndpointNotLicensed, match="impersonation: POST /api/ttp/impersonation/get-logs"):
        paged_records(hook, "impersonation")
    assert hook.stats.retries == 0
    assert canonical(paged_records(hook, "url")) == canonical(ground_truth(server.config, "url", START, END))


def test_a_5xx_burst_longer_than_the_retries_is_retryable_and_names_the_status(monkeypatch, simulator):
    use_connection(monkeypatch, demo_connection(simulator.url))
    simulator.faults.error_burst(status=502, count=10, endpoint="url")
    hook = fast_hook(retry_attempts=3)
    with pytest.raises(MimecastRetryableError, match="POST /api/ttp/url/get-logs answered HTTP 502.*3 attempts"):
        paged_records(hook, "url")
    assert hook.stats.retries == 2


def test_a_page_that_never_becomes_json_fails_naming_path_and_status(monkeypatch, simulator):
    use_connection(monkeypatch, demo_connection(simulator.url))
    simulator.faults.non_json(count=5, endpoint="attachment")
    with pytest.raises(MimecastUnreadablePage, match="attachment page 1: POST /api/ttp/attachment/get-logs answered "
                                                     "HTTP 200 with a body that is not JSON") as raised:
        paged_records(fast_hook(retry_attempts=2), "attachment")
    assert isinstance(raised.value, AirflowFailException)  # the hook asked again already: the task does not
    assert "the same after 2 attempts" in str(raised.value) and "the window [" in str(raised.value)
    assert simulator.stats.faults_injected["non_json"] == 2


def test_omitted_pagination_is_one_page(monkeypatch, simulator_factory):
    server = simulator_factory(volume=80, omit_pagination=True)
    use_connection(monkeypatch, {**demo_connection(server.url), "extra": {"page_size": 10}})
    pages = list(fast_hook().iter_pages("attachment", START, END))
    assert len(pages) == 1
    assert canonical(pages[0].records) == canonical(ground_truth(server.config, "attachment", START, END))


def test_page_budget_is_an_error_not_an_endless_loop(monkeypatch, simulator_factory):
    server = simulator_factory(volume=100)
    use_connection(monkeypatch, {**demo_connection(server.url), "extra": {"page_size": 10}})
    pages = []
    with pytest.raises(MimecastPagingError, match="after 3 pages.*MIMECAST_TTP_MAX_PAGES=3"):
        pages.extend(fast_hook(max_pages=3).iter_pages("url", START, END))
    assert len(pages) == 3


class _RepeatingTokenPaging(TokenPaging):
    """Pluggable paging in use: a server that hands out its first ``next`` token again and again."""

    first_token: str | None = None

    def next_token(self, page):
        token = super().next_token(page)
        self.first_token = self.first_token or token
        return self.first_token if token else None


class _RepeatingTokenHook(MimecastHook):
    paging_class = _RepeatingTokenPaging


def test_a_repeated_page_token_is_an_error(monkeypatch, simulator_factory):
    server = simulator_factory(volume=100)
    use_connection(monkeypatch, {**demo_connection(server.url), "extra": {"page_size": 10}})
    hook = _RepeatingTokenHook(max_pages=100, max_rate_limit_wait=1, retry_wait_initial=0.01)
    pages = []
    with pytest.raises(MimecastPagingError, match="page 2 returned a page token already followed"):
        pages.extend(hook.iter_pages("url", START, END))
    assert [page.number for page in pages] == [1, 2]


def test_paging_stops_at_an_empty_page_even_with_a_next_token():
    from mimecast_ttp.endpoints import get_endpoint
    from mimecast_ttp.hooks.paging import Page

    paging = TokenPaging(get_endpoint("url"), START, END, page_size=10, max_pages=3)
    assert "pageToken" not in paging.request()["meta"]["pagination"]
    assert paging.advance(Page(1, b"", [{"a": 1}], next_token="t1", status=200))
    assert paging.request()["meta"]["pagination"] == {"pageSize": 10, "pageToken": "t1"}
    assert not paging.advance(Page(2, b"", [], next_token="t2", status=200))  # the published empty-last-page quirk
    assert paging.window_text() == "[2026-11-26T11:00:00+0000, 2026-11-26T12:00:00+0000]"


def test_400_is_not_retried(monkeypatch, simulator):
    use_connection(monkeypatch, demo_connection(simulator.url))
    hook = fast_hook()
    forged = hook.paging("url", START, END)
    forged.page_token = "forged.token"
    with pytest.raises(MimecastResponseError, match="HTTP 400.*err_invalid_page_token"):
        list(hook.iter_pages("url", START, END, paging=forged))
    assert hook.stats.retries == 0 and hook.stats.requests == 2  # the token call and the refused page


# ----------------------------------------------------------------------------- test_connection


@at_every_clock
@pytest.mark.parametrize("api_version", [1, 2])
def test_test_connection_reports_version_host_and_licences(monkeypatch, simulator_factory, api_version, travel,
                                                           now):
    travel(now)  # "the last hour" it asks for, and what the simulator holds, at any hour of any day
    server = simulator_factory(unlicensed={"url"})
    use_connection(monkeypatch, demo_connection(server.url, api_version=api_version))
    ok, message = fast_hook().test_connection()
    assert ok, message
    assert f"API {api_version}.0 at {server.url}" in message
    assert "attachment, impersonation" in message and "not licensed: url" in message


def test_test_connection_says_what_failed(monkeypatch, simulator):
    use_connection(monkeypatch, {**demo_connection(simulator.url), "password": "another-wrong-secret"})
    ok, message = fast_hook().test_connection()
    assert not ok
    assert "/oauth/token" in message and "401" in message
    assert "another-wrong-secret" not in message


# ----------------------------------------------------------------------------- hostile servers


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_on_the_token_call_is_refused_and_the_secret_goes_nowhere(monkeypatch, status):
    with ScriptedServer() as api, ScriptedServer() as elsewhere:
        api.respond["/oauth/token"] = Answer(status, headers={"Location": f"{elsewhere.url}/steal?k=v"})
        use_connection(monkeypatch, demo_connection(api.url))
        with pytest.raises(MimecastRedirectRefused) as raised:
            paged_records(fast_hook(), "url")
        assert elsewhere.requests == []  # nothing, let alone the client secret, reached the other origin
        assert len(api.requests_to("/oauth/token")) == 1  # not retried either
    assert isinstance(raised.value, AirflowFailException)
    message = str(raised.value)
    assert f"HTTP {status}" in message and elsewhere.url in message and "steal" not in message
    assert_no_secret(error_text(raised))


@pytest.mark.parametrize("api_version", [1, 2])
def test_a_redirect_on_get_logs_is_refused_not_taken_for_an_empty_window(monkeypatch, api_version):
    with ScriptedServer() as api, ScriptedServer() as elsewhere:
        elsewhere.pages["/api/ttp/url/get-logs"] = [envelope("clickLogs", [])]  # an empty page, if followed
        api.respond["/api/ttp/url/get-logs"] = Answer(302, headers={"Location": f"{elsewhere.url}/api/ttp/url/get-logs"})
        use_connection(monkeypatch, demo_connection(api.url, api_version=api_version))
        with pytest.raises(MimecastRedirectRefused, match="answered HTTP 302, a redirect to http://127.0.0.1:"):
            paged_records(fast_hook(), "url")
        assert elsewhere.requests == []


def test_a_certificate_that_does_not_verify_is_not_retried_and_says_how_to_set_verify(monkeypatch, tmp_path):
    with ScriptedServer(tls=self_signed_tls_context(tmp_path)) as api:
        use_connection(monkeypatch, demo_connection(api.url))
        hook = fast_hook()
        with pytest.raises(MimecastTLSError) as raised:
            paged_records(hook, "url")
    assert isinstance(raised.value, AirflowFailException)
    assert hook.stats.requests == 1 and hook.stats.retries == 0
    assert "did not verify" in str(raised.value) and '"verify"' in str(raised.value)


def test_the_same_server_with_its_ca_bundle_in_verify_is_read(monkeypatch, tmp_path):
    with ScriptedServer(tls=self_signed_tls_context(tmp_path)) as api:
        api.pages["/api/ttp/url/get-logs"] = [envelope("clickLogs", [{"date": "2026-11-26T11:00:00+0000"}])]
        conn = demo_connection(api.url)
        use_connection(monkeypatch, {**conn, "extra": {**conn.get("extra", {}), "verify": str(tmp_path / "cert.pem")}})
        assert paged_records(fast_hook(), "url") == [{"date": "2026-11-26T11:00:00+0000"}]


def test_a_page_nested_deeper_than_the_parser_takes_is_a_named_page_error(monkeypatch):
    with ScriptedServer() as api:
        api.pages["/api/ttp/url/get-logs"] = [envelope("clickLogs", "[" + "[" * 1500 + "]" * 1500 + "]")]
        use_connection(monkeypatch, demo_connection(api.url))
        with pytest.raises(MimecastUnreadablePage) as raised:
            paged_records(fast_hook(retry_attempts=3), "url")
        assert len(api.requests_to("/api/ttp/url/get-logs")) == 3
    message = str(raised.value)
    assert message.startswith("url page 1: POST /api/ttp/url/get-logs answered HTTP 200 with a body that is JSON "
                              "nested deeper than the parser takes")
    assert "the window [2026-11-26T11:00:00+0000, 2026-11-26T12:00:00+0000]" in message


@pytest.mark.parametrize("page_size", [0, 1001, "2000", True])
def test_a_page_size_beyond_1000_is_refused_from_the_connection(monkeypatch, simulator, page_size):
    conn = demo_connection(simulator.url)
    use_connection(monkeypatch, {**conn, "extra": {**conn.get("extra", {}), "page_size": page_size}})
    with pytest.raises(MimecastConfigurationError, match="page_size=.* is not a whole number from 1 to 1000"):
        read_config()
    with pytest.raises(ValueError, match="from 1 to 1000"):
        MimecastHook(page_size=1001)
