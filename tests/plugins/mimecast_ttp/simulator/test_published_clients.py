"""The simulator talks to clients written the way published Mimecast clients are, and they end with the truth.

``NaiveClient`` does what the published clients do (Mimecast's API 1.0 sample, the Sentinel
connectors, SIEM collectors): index ``data[0]`` without a check, follow ``next`` until it is absent,
post ``str(payload)`` (a Python literal) as the API 1.0 body, sleep ``X-RateLimit-Reset``
milliseconds on a 429, read ``fail[0].code`` for ``token_expired``, and call
``/api/login/login`` for fresh keys on a 418. Against every quirk, with both API versions, it must
stop (a call budget turns an endless loop into a failure) and return exactly the ground truth.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

import pytest
import requests

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.client import API_DATE_FORMAT, V1_DATE_FORMAT
from mimecast_ttp.simulator.credentials import (
    DEMO_ACCESS_KEY,
    DEMO_APP_ID,
    DEMO_APP_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SECRET_KEY,
    DEMO_USER_NAME,
    DEMO_USER_PASSWORD,
    hmac_signature,
)
from tests.plugins.mimecast_ttp.simulator.windows import hour_window

CALL_BUDGET = 200  # far more than any window here needs: reaching it means paging would not end


class NaiveClient:
    def __init__(self, url: str, api_version: int) -> None:
        self.url, self.api_version = url, api_version
        self.session = requests.Session()
        self.token: str | None = None
        self.access_key, self.secret_key = DEMO_ACCESS_KEY, DEMO_SECRET_KEY
        self.calls = self.waits = self.logins = self.tokens = 0

    def _headers(self, path: str) -> dict[str, str]:
        if self.api_version == 2:
            while self.token is None:
                answer = self.session.post(self.url + "/oauth/token", timeout=10, data={
                    "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                    "grant_type": "client_credentials"})
                if answer.status_code == 429:  # the token call shares the bucket
                    self.waits += 1
                    time.sleep(int(answer.headers["X-RateLimit-Reset"]) / 1000)
                    continue
                self.token, self.tokens = answer.json()["access_token"], self.tokens + 1
            return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        date, request_id = time.strftime(V1_DATE_FORMAT, time.gmtime()), str(uuid.uuid4())
        signature = hmac_signature(self.secret_key, date, request_id, path, DEMO_APP_KEY)
        return {"Authorization": f"MC {self.access_key}:{signature}", "x-mc-date": date, "x-mc-req-id": request_id,
                "x-mc-app-id": DEMO_APP_ID, "Content-Type": "application/json"}

    def _login(self) -> None:
        """What the published 1.0 clients do on a 418: Basic-Cloud login for new keys."""
        basic = base64.b64encode(f"{DEMO_USER_NAME}:{DEMO_USER_PASSWORD}".encode()).decode()
        answer = self.session.post(self.url + "/api/login/login", timeout=10, data=str(
            {"data": [{"userName": DEMO_USER_NAME}]}), headers={
            "Authorization": f"Basic-Cloud {basic}", "x-mc-app-id": DEMO_APP_ID, "x-mc-api-version": "2014.6.1",
            "x-mc-date": time.strftime(V1_DATE_FORMAT, time.gmtime()), "x-mc-req-id": str(uuid.uuid4())})
        keys = answer.json()["data"][0]
        self.access_key, self.secret_key, self.logins = keys["accessKey"], keys["secretKey"], self.logins + 1

    def get_logs(self, endpoint: str, start, end, page_size: int) -> list:
        spec = get_endpoint(endpoint)
        records, token = [], None
        while True:
            self.calls += 1
            assert self.calls <= CALL_BUDGET, "paging did not end"
            pagination = {"pageSize": page_size, **({"pageToken": token} if token else {})}
            payload = {"meta": {"pagination": pagination}, "data": [{
                "from": start.strftime(API_DATE_FORMAT), "to": end.strftime(API_DATE_FORMAT), "oldestFirst": True}]}
            body = str(payload) if self.api_version == 1 else None  # the 1.0 samples post a Python literal
            answer = self.session.post(self.url + spec.path, headers=self._headers(spec.path), timeout=10,
                                       **({"data": body} if body else {"json": payload}))
            if answer.status_code == 429:
                self.waits += 1
                time.sleep(int(answer.headers["X-RateLimit-Reset"]) / 1000)  # documented: milliseconds
                continue
            if answer.status_code == 401 and answer.json()["fail"][0].get("code") == "token_expired":
                self.token = None
                continue
            if answer.status_code == 418:
                self._login()
                continue
            assert answer.status_code == 200, answer.text
            content = answer.json()
            records += content["data"][0][spec.records_key]  # index data[0], as they all do
            token = (content["meta"].get("pagination") or {}).get("next")
            if not token:
                return records


QUIRKS = {
    "none": {},
    "empty last page with next": {"empty_last_page_with_next": True},
    "no pagination block": {"omit_pagination": True},
    "exclusive to": {"to_inclusive": False},
}


def _truth(server, endpoint: str, start, end) -> list:
    inclusive = server.config.to_inclusive
    return ground_truth(server.config, endpoint, start, end + (timedelta(seconds=1) if inclusive else timedelta(0)))


@pytest.mark.parametrize("api_version", [1, 2])
@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_a_naive_client_ends_with_the_ground_truth(simulator_factory, api_version, quirk):
    server = simulator_factory(volume=90, **QUIRKS[quirk])
    start, end = hour_window(2)
    for endpoint in ENDPOINT_KEYS:
        client = NaiveClient(server.url, api_version)
        assert client.get_logs(endpoint, start, end, page_size=25) == _truth(server, endpoint, start, end)
        assert client.calls <= 180 // 25 + 3  # the pages, plus at most two empty ones at the end


@pytest.mark.parametrize("api_version", [1, 2])
def test_an_empty_window_answers_data_0_with_an_empty_array(simulator, api_version):
    start = hour_window()[0].replace(year=2020)
    assert NaiveClient(simulator.url, api_version).get_logs("url", start, start, page_size=10) == []


def test_the_bare_list_shape_breaks_naive_clients_so_it_is_a_switch(simulator_factory):
    server = simulator_factory(empty_data_shape="list")
    start = hour_window()[0].replace(year=2020)
    with pytest.raises(IndexError):
        NaiveClient(server.url, 2).get_logs("url", start, start, page_size=10)


def test_a_429_tells_a_naive_client_how_long_to_wait_in_milliseconds(simulator_factory):
    server = simulator_factory(volume=60, rate_limit=120)
    while requests.post(server.url + "/oauth/token", timeout=10, data={}).status_code != 429:
        pass  # empty the shared bucket
    client = NaiveClient(server.url, 2)
    start, end = hour_window()
    assert client.get_logs("attachment", start, end, page_size=10) == _truth(server, "attachment", start, end)
    assert client.waits > 0


def test_an_expired_token_is_read_from_fail_0_code_and_minted_again(simulator):
    client = NaiveClient(simulator.url, 2)
    start, end = hour_window()
    first = client.get_logs("url", start, end, page_size=100)
    simulator.faults.expire_tokens()
    assert client.get_logs("url", start, end, page_size=100) == first == _truth(simulator, "url", start, end)
    assert client.tokens == 2


def test_expired_1_0_keys_are_replaced_through_the_login_api(simulator_factory):
    server = simulator_factory(keys_expired=True)
    client = NaiveClient(server.url, 1)
    start, end = hour_window()
    assert client.get_logs("impersonation", start, end, page_size=50) == _truth(server, "impersonation", start, end)
    assert client.logins == 1 and client.access_key != DEMO_ACCESS_KEY


def test_the_login_api_refuses_a_wrong_password(simulator):
    basic = base64.b64encode(f"{DEMO_USER_NAME}:not-the-password-0x51".encode()).decode()
    answer = requests.post(simulator.url + "/api/login/login", timeout=10, headers={
        "Authorization": f"Basic-Cloud {basic}", "x-mc-app-id": DEMO_APP_ID, "x-mc-date": "x", "x-mc-req-id": "y"})
    assert answer.status_code == 401
    assert answer.json()["fail"][0]["errors"][0]["code"] == "err_xdk_invalid_credentials"
    assert "not-the-password-0x51" not in answer.text


def test_a_python_literal_body_is_read_and_anything_else_is_still_a_400(simulator):
    client = NaiveClient(simulator.url, 1)
    path = get_endpoint("url").path
    literal = str({"meta": {"pagination": {"pageSize": 5}}, "data": [{"oldestFirst": True}]})
    assert "'" in literal and "True" in literal
    assert requests.post(simulator.url + path, data=literal, headers=client._headers(path), timeout=10).status_code == 200
    for body in ("{'meta': __import__('os')}", "{not json}", "[1, 2"):
        answer = requests.post(simulator.url + path, data=body, headers=client._headers(path), timeout=10)
        assert answer.status_code == 400 and answer.json()["fail"][0]["errors"][0]["code"] == "err_validation_invalid_body"
