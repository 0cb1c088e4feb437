"""The Airflow plugin (``plugins/mimecast_ttp_ui.py``): what loading plugins imports, and the report page.

The page is tested against a real API server (``tests/airflow_services.py``) over HTTP: a signed-in
user gets the HTML report of the store, an anonymous caller is refused, and the UI lists the views.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from tests.airflow_services import AirflowServices
from tests.conftest import REPO
from tests.plugins.mimecast_ttp.store_samples import load, window_batch

HOUR = timedelta(hours=1)
LOADED = [datetime(2026, 11, 26, h, tzinfo=UTC) for h in (9, 11)]  # 10:00 is a gap


def test_loading_plugins_imports_the_plugin_module_and_nothing_else_of_ours(tmp_path):
    code = (
        "import sys, json; from airflow import plugins_manager; before = set(sys.modules);"
        "plugins_manager.ensure_plugins_loaded(); added = sorted(set(sys.modules) - before);"
        "print(json.dumps({'added': added, 'errors': plugins_manager.get_import_errors(),"
        " 'plugins': [p['name'] for p in plugins_manager.get_plugin_info()]}))"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    ours = {path.stem for path in (REPO / "plugins" / "mimecast_ttp").rglob("*.py")}
    assert result["errors"] == {} and result["plugins"] == ["mimecast_ttp"]
    assert "mimecast_ttp_ui" in result["added"]
    assert not ours & set(result["added"]), "a module of the package was loaded as a top-level plugin module"
    heavy = [m for m in result["added"] if m.split(".")[0] in {"uvicorn", "starlette", "fastapi", "pandas",
                                                                  "matplotlib", "mimecast_ttp"}]
    assert heavy == []


@pytest.mark.scheduler
def test_the_report_page_answers_signed_in_users_only(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    from mimecast_ttp.store import AlertStore

    store, config = AlertStore.from_url(store_url), SimulatorConfig(seed=9, volume=60)
    for start in LOADED:
        for endpoint in ENDPOINT_KEYS:
            load(store, window_batch(ground_truth(config, endpoint, start, start + HOUR), endpoint, (start, start + HOUR)))
    store.engine.dispose()
    home = tmp_path / "airflow"
    services = AirflowServices(home, f"sqlite:///{home / 'airflow.db'}", env={"MIMECAST_TTP_ALERTS_DB_URL": store_url})
    with services:
        page = f"{services.base_url}/mimecast-ttp/report"
        period = {"from": "2026-11-26T09:00:00Z", "to": "2026-11-26T12:00:00Z"}
        assert requests.get(page, params=period, timeout=30).status_code in (401, 403)
        assert requests.get(page, params=period, headers={"Authorization": "Bearer not-a-token"},
                            timeout=30).status_code in (401, 403)
        signed_in = requests.get(page, params=period, headers={"Authorization": f"Bearer {services.token()}"},
                                 timeout=120)
        assert signed_in.status_code == 200, signed_in.text[:2000]
        html = signed_in.text
        assert html.count("<svg") >= 3
        assert "--from-date 2026-11-26T10:00:00 --to-date 2026-11-26T10:00:00" in html  # the gap, with its fix
        bad = requests.get(page, params={"from": "yesterday"}, headers={"Authorization": f"Bearer {services.token()}"},
                           timeout=30)
        assert bad.status_code == 400 and "from" in bad.text
        [plugin] = [p for p in services.api("GET", "/plugins")["plugins"] if p["name"] == "mimecast_ttp"]
        assert {(v["destination"], v["href"]) for v in plugin["external_views"]} == {
            ("nav", "/mimecast-ttp/report"), ("dag", "/mimecast-ttp/report")}
