"""Both auth schemes as the docs describe them: 2.0 OAuth tokens (and their expiry), 1.0 HMAC headers."""

from __future__ import annotations

import json

import requests

from mimecast_ttp.simulator.client import ReferenceClient, logs_body, v1_headers
from mimecast_ttp.simulator.credentials import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SECRET_KEY,
    hmac_signature,
)
from tests.clocks import CLOCK_INSTANTS, ManualClock
from tests.plugins.mimecast_ttp.simulator.windows import HOUR_START, hour_window

URL_PATH = "/api/ttp/url/get-logs"


def _token_response(url: str, **overrides: str) -> requests.Response:
    form = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
            "grant_type": "client_credentials", **overrides}
    return requests.post(f"{url}/oauth/token", data=form, timeout=10)


def _get_logs(url: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(url + URL_PATH, json=logs_body(*hour_window()), headers=headers, timeout=10)


def test_documented_hmac_check_value():
    signature = hmac_signature("ZXhhbXBsZS1zZWNyZXQta2V5LWJ5dGVzLTAxMjM0NTY3ODk=", "Tue, 24 Nov 2015 12:50:11 UTC",
                               "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297", "/api/ttp/url/get-logs",
                               "00000000-0000-0000-0000-000000000000")
    assert signature == "zLISe7ce18/hkoqRDVzYlQhoKLo="


def test_server_verifies_the_documented_check_value(simulator_factory):
    server = simulator_factory(secret_key="ZXhhbXBsZS1zZWNyZXQta2V5LWJ5dGVzLTAxMjM0NTY3ODk=",
                               app_key="00000000-0000-0000-0000-000000000000", access_key="AK", app_id="APP")
    headers = {"x-mc-date": "Tue, 24 Nov 2015 12:50:11 UTC", "x-mc-req-id": "8578FCFC-A305-4D9A-99CB-F4D5ECEFE297",
               "x-mc-app-id": "APP", "Authorization": "MC AK:zLISe7ce18/hkoqRDVzYlQhoKLo="}
    assert _get_logs(server.url, headers).status_code == 200
    headers["Authorization"] = "MC AK:zLISe7ce18/hkoqRDVzYlQhoKLp="
    assert _get_logs(server.url, headers).status_code == 401


def test_token_flow_matches_the_documented_response(simulator, fixtures_dir):
    response = _token_response(simulator.url)
    assert response.status_code == 200
    body = response.json()
    sample = json.loads((fixtures_dir / "elastic_v2mock_oauth_token_response.json").read_text())
    assert body.keys() == sample.keys()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 1799, "")
    assert _get_logs(simulator.url, {"Authorization": f"Bearer {body['access_token']}"}).status_code == 200
    assert simulator.stats.tokens_issued == 1


def test_each_token_is_new(simulator):
    first, second = (_token_response(simulator.url).json()["access_token"] for _ in range(2))
    assert first != second


def test_bad_client_credentials_and_grant_type_are_refused(simulator):
    assert _token_response(simulator.url, client_secret="wrong").status_code == 401
    assert _token_response(simulator.url, client_id="someone-else").status_code == 401
    assert _token_response(simulator.url, grant_type="password").status_code == 400


def test_unknown_or_missing_credentials_get_401(simulator):
    assert _get_logs(simulator.url, {"Authorization": "Bearer not-a-token"}).status_code == 401
    response = _get_logs(simulator.url, {})
    assert response.status_code == 401
    assert response.json()["fail"][0]["errors"][0]["retryable"] is False


def test_token_expires_after_its_ttl(simulator_factory):
    clock = ManualClock(CLOCK_INSTANTS[0])
    server = simulator_factory(token_ttl=60, clock=clock)
    token = _token_response(server.url).json()
    assert token["expires_in"] == 60
    clock.advance(59.9)
    assert _get_logs(server.url, {"Authorization": f"Bearer {token['access_token']}"}).status_code == 200
    clock.advance(0.1)
    response = _get_logs(server.url, {"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 401
    assert response.json()["fail"][0]["errors"][0]["code"] == "token_expired"


def test_expired_tokens_fault_then_a_new_token_works(simulator):
    client = ReferenceClient(simulator.url)
    assert client.post_logs("url", logs_body(*hour_window())).status_code == 200
    simulator.faults.expire_tokens()
    response = client.post_logs("url", logs_body(*hour_window()))
    assert response.status_code == 401
    assert response.json()["fail"][0]["errors"][0]["code"] == "token_expired"
    client.token(refresh=True)
    assert client.post_logs("url", logs_body(*hour_window())).status_code == 200


def test_api_1_signed_request_is_served_like_api_2(simulator):
    v1 = ReferenceClient(simulator.url, api_version=1).fetch_all("attachment", *hour_window())
    v2 = ReferenceClient(simulator.url, api_version=2).fetch_all("attachment", *hour_window())
    assert v1 == v2 and v1[0]


def test_bad_signature_gives_the_documented_401(simulator, fixtures_dir):
    sample = json.loads((fixtures_dir / "rapid7v1_error_401_invalid_signature.json").read_text())
    wrong_secret = "d3Jvbmctc2VjcmV0LWtleQ=="
    for headers in (v1_headers(URL_PATH, secret_key=wrong_secret),
                    v1_headers("/api/ttp/attachment/get-logs"),  # signed for another path
                    v1_headers(URL_PATH, access_key="another-key")):
        response = _get_logs(simulator.url, headers)
        assert response.status_code == 401
        assert response.json() == sample


def test_missing_hmac_headers_are_refused(simulator):
    headers = v1_headers(URL_PATH)
    del headers["x-mc-date"]
    response = _get_logs(simulator.url, headers)
    assert response.status_code == 401


def test_expired_keys_answer_418(simulator_factory):
    server = simulator_factory(keys_expired=True)
    response = _get_logs(server.url, v1_headers(URL_PATH))
    assert response.status_code == 418
    error = response.json()["fail"][0]["errors"][0]
    assert (error["code"], error["retryable"]) == ("err_xdk_binding_expired", False)
    # API 2.0 is unaffected by a 1.0 key binding
    assert ReferenceClient(server.url).post_logs("url", logs_body(*hour_window())).status_code == 200


def test_changed_credentials_replace_the_demo_ones(simulator_factory):
    server = simulator_factory(client_secret="rotated")
    assert _token_response(server.url).status_code == 401
    assert _token_response(server.url, client_secret="rotated").status_code == 200
    assert HOUR_START.tzinfo is not None


def test_no_secret_reaches_the_server_output(simulator, capfd):
    token = _token_response(simulator.url).json()["access_token"]
    _get_logs(simulator.url, {"Authorization": f"Bearer {token}"})
    _get_logs(simulator.url, v1_headers(URL_PATH))
    out, err = capfd.readouterr()
    for secret in (token, DEMO_CLIENT_SECRET, DEMO_SECRET_KEY):
        assert secret not in out + err
