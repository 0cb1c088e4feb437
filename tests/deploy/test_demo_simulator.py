"""scripts/demo-simulator.sh, the `demo` profile's service, run natively on a throwaway Airflow.

In compose it shares the scheduler's network namespace; here it shares the test's loopback. It
must register ``mimecast_default`` pointing at the simulator with the demo credentials, and then
be the simulator, answering HTTP on the port it was given.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from mimecast_ttp.simulator.credentials import DEMO_CLIENT_ID
from tests.airflow_services import AIRFLOW_BIN, free_port
from tests.deploy.compose_file import REPO


@pytest.fixture
def airflow_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "airflow"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "MIMECAST_TTP_"))}
    env.update(
        PATH=f"{AIRFLOW_BIN.parent}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "no-dags"),
        MIMECAST_TTP_DATA_DIR=str(tmp_path / "data"),
    )
    subprocess.run([str(AIRFLOW_BIN), "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)
    return env


def test_demo_service_registers_the_connection_and_serves(airflow_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**airflow_env, "MIMECAST_SIMULATOR_PORT": str(port)}
    log = tmp_path / "demo-simulator.log"
    with log.open("wb") as output:
        service = subprocess.Popen(["bash", str(REPO / "scripts" / "demo-simulator.sh")], env=env,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert service.poll() is None, log.read_text(errors="replace")
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the simulator never answered"
                time.sleep(0.5)

        got = subprocess.run([str(AIRFLOW_BIN), "connections", "get", "mimecast_default", "-o", "json"],
                             env=airflow_env, capture_output=True, text=True, check=True, timeout=120)
        [conn] = json.loads(got.stdout)
        assert (conn["conn_type"], conn["host"], int(conn["port"]), conn["login"]) == (
            "mimecast", "127.0.0.1", port, DEMO_CLIENT_ID)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
