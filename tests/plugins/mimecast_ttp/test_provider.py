"""The package as an Airflow provider: the ``mimecast`` connection type, its form, and its real test."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from mimecast_ttp.simulator.credentials import DEMO_CLIENT_SECRET, demo_connection
from tests.airflow_services import AIRFLOW_BIN


def _airflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(AIRFLOW_BIN), *args], capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, **(env or {})})


def test_airflow_knows_the_mimecast_connection_type_and_its_hook():
    done = _airflow("providers", "hooks", "-o", "json")
    assert done.returncode == 0, done.stderr
    [hook] = [h for h in json.loads(done.stdout) if h["connection_type"] == "mimecast"]
    assert (hook["class"], hook["hook_name"], hook["package_name"]) == (
        "mimecast_ttp.hooks.mimecast.MimecastHook", "Mimecast", "mimecast-ttp-alerts")


def test_the_form_hides_what_mimecast_does_not_use_and_masks_the_app_key():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    behaviour = manager.field_behaviours["mimecast"]
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "extra"}
    assert "Client ID" in behaviour["relabeling"]["login"] and "Secret key" in behaviour["relabeling"]["password"]
    widgets = {name: w for name, w in manager.connection_form_widgets.items() if name.startswith("extra__mimecast__")}
    assert {w.field_name for w in widgets.values()} == {"api_version", "app_id", "app_key", "page_size", "timeout",
                                                         "verify"}
    assert [w.field_name for w in widgets.values() if w.is_sensitive] == ["app_key"]
    assert widgets["extra__mimecast__api_version"].field["schema"]["enum"] == ["2", "1"]


@pytest.mark.parametrize("api_version", [1, 2])
def test_airflow_connections_test_runs_the_real_check(airflow_db, simulator, api_version):
    conn = {**demo_connection(simulator.url, api_version=api_version), "conn_type": "mimecast"}
    env = {"AIRFLOW__CORE__TEST_CONNECTION": "Enabled", "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(conn)}
    done = _airflow("connections", "test", "mimecast_default", env=env)
    assert "Connection success!" in done.stdout, done.stdout + done.stderr
    assert simulator.stats.snapshot()["pages_served"] == 3  # one record asked of each endpoint

    wrong = {**conn, "password": "another-wrong-secret" if api_version == 2 else "d3Jvbmc="}
    done = _airflow("connections", "test", "mimecast_default",
                    env={**env, "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(wrong)})
    assert "Connection failed!" in done.stdout
    assert "401" in done.stdout and "another-wrong-secret" not in done.stdout + done.stderr
    assert DEMO_CLIENT_SECRET not in done.stdout + done.stderr


def test_form_fields_stored_with_the_form_prefix_are_read_and_never_sent_as_headers(monkeypatch, simulator):
    from mimecast_ttp.hooks.mimecast import MimecastHook

    conn = demo_connection(simulator.url, api_version=1)
    extra = {f"extra__mimecast__{k}": v for k, v in conn.pop("extra").items()} | {"extra__mimecast__page_size": ""}
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps({**conn, "conn_type": "mimecast", "extra": extra}))
    hook = MimecastHook()
    assert (hook.config.api_version, hook.config.page_size) == (1, 500)  # an empty form field is the default
    assert not {k.lower() for k in hook.session.headers} & {"app_key", "extra__mimecast__app_key", "app_id"}
