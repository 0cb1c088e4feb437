"""The demo connection round-trips through Airflow's connection format to the simulator's address."""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.simulator.client import logs_body, v1_headers
from mimecast_ttp.simulator.credentials import (
    DEMO_ACCESS_KEY,
    DEMO_APP_ID,
    DEMO_APP_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SECRET_KEY,
    demo_connection,
)
from tests.plugins.mimecast_ttp.simulator.windows import hour_window


def test_api_2_connection():
    conn = demo_connection("http://127.0.0.1:8089")
    assert conn == {"conn_type": "mimecast", "host": "127.0.0.1", "schema": "http", "port": 8089,
                    "login": DEMO_CLIENT_ID, "password": DEMO_CLIENT_SECRET, "extra": {"api_version": "2"}}
    json.dumps(conn)


def test_api_1_connection():
    conn = demo_connection("http://127.0.0.1:8089", api_version=1)
    assert (conn["login"], conn["password"]) == (DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    assert conn["extra"] == {"api_version": "1", "app_id": DEMO_APP_ID, "app_key": DEMO_APP_KEY}


def test_bad_arguments():
    with pytest.raises(ValueError, match="api_version"):
        demo_connection("http://127.0.0.1:1", api_version=3)
    with pytest.raises(ValueError, match="scheme"):
        demo_connection("127.0.0.1:8089")


def test_round_trip_through_the_environment_to_the_http_hook(simulator, monkeypatch):
    from airflow.providers.http.hooks.http import HttpHook

    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(demo_connection(simulator.url, api_version=1)))
    # login/password are Mimecast keys, not HTTP basic credentials: no basic auth over the signed headers
    hook = HttpHook(method="POST", http_conn_id="mimecast_default", auth_type=lambda *_: None)
    conn = hook.get_connection("mimecast_default")
    assert (conn.login, conn.password) == (DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    assert conn.extra_dejson == {"api_version": "1", "app_id": DEMO_APP_ID, "app_key": DEMO_APP_KEY}
    hook.get_conn()
    assert hook.base_url == simulator.url
    path = "/api/ttp/url/get-logs"  # a signed 1.0 call built from the connection's fields alone
    headers = v1_headers(path, access_key=conn.login, secret_key=conn.password,
                         app_id=conn.extra_dejson["app_id"], app_key=conn.extra_dejson["app_key"])
    response = hook.run(path, json=logs_body(*hour_window()), headers=headers)
    assert response.status_code == 200 and response.json()["fail"] == []
