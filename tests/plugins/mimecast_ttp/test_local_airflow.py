"""``make airflow`` (``python -m mimecast_ttp.local_airflow``), started for real and stopped with Ctrl-C.

The module is a long-running launcher, so the test is what a user does: start it (its own ports
and folder), wait for its banner, check through the REST API what it promises (the DAG listed and
unpaused, the ``mimecast`` connection pointing at the simulator and passing the Test button's
check, the pool), then send SIGINT and require that every process it started has exited and
nothing listens any more.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.airflow_services import free_port

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(300)]

STARTUP_DEADLINE = 150.0
STOP_DEADLINE = 60.0


class Launcher:
    """The module as a subprocess, its output collected line by line by a reader thread."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mimecast_ttp.local_airflow", *args], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, deadline: float) -> re.Match:
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.process.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"local_airflow exited with {self.process.returncode} before {pattern!r}:\n{self.output}")
            time.sleep(0.5)
        pytest.fail(f"no line matching {pattern!r} within the deadline; output so far:\n{self.output}")

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def kill(self) -> None:
        """Last resort when the test failed: nothing of it outlives the test."""
        try:
            tree = self.tree()
        except psutil.NoSuchProcess:
            return
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_airflow_serves_the_unpaused_dag_with_the_mimecast_connection_and_stops_on_ctrl_c(tmp_path: Path):
    port, log_port = free_port(), free_port()
    folder = tmp_path / "local-airflow"
    started = time.monotonic()
    launcher = Launcher("--port", str(port), "--log-server-port", str(log_port), "--dir", str(folder))
    try:
        simulator_port = int(launcher.wait_for_line(r"^simulator: http://127\.0\.0\.1:(\d+) \(seed 1,",
                                                    started + 30).group(1))
        launcher.wait_for_line(rf"^Airflow UI: +http://127\.0\.0\.1:{port}$", started + STARTUP_DEADLINE)
        shown_password = launcher.wait_for_line(r"^sign in: +admin / (\S+) ", started + STARTUP_DEADLINE).group(1)
        ready_after = time.monotonic() - started

        password_file = folder / "airflow" / "simple_auth_manager_passwords.json.generated"
        password = json.loads(password_file.read_text())["admin"]
        assert shown_password == password
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/api/v2/dags", timeout=30).status_code == 401  # sign-in is required
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        assert token.status_code == 201, token.text
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

        dags = http.get(f"{base}/api/v2/dags", params={"dag_id_pattern": "mimecast_ttp_alerts"}, timeout=30).json()
        [dag] = [d for d in dags["dags"] if d["dag_id"] == "mimecast_ttp_alerts"]
        assert dag["is_paused"] is False
        connection = http.get(f"{base}/api/v2/connections/mimecast_default", timeout=30).json()
        assert (connection["conn_type"], connection["host"], connection["port"]) == ("mimecast", "127.0.0.1",
                                                                                     simulator_port)
        tested = http.post(f"{base}/api/v2/connections/test", json=connection, timeout=60)  # the form's Test button
        assert tested.status_code == 200 and tested.json()["status"] is True, tested.text
        assert "credentials accepted" in tested.json()["message"]
        pool = http.get(f"{base}/api/v2/pools/mimecast_api", timeout=30).json()
        assert pool["slots"] == 2

        tree = launcher.tree()
        assert len(tree) > 3  # the launcher, its three services and their children
        stopping = time.monotonic()
        launcher.process.send_signal(signal.SIGINT)
        assert launcher.process.wait(timeout=STOP_DEADLINE) == 0, launcher.output
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert alive == [], f"left running after Ctrl-C: {[p.pid for p in alive]}"
        assert not _listening(port) and not _listening(simulator_port) and not _listening(log_port)
        launcher._reader.join(5)
        assert launcher.lines[-1] == "stopped: Airflow services and simulator"
        print(f"ready after {ready_after:.1f}s, stopped in {time.monotonic() - stopping:.1f}s")
    finally:
        launcher.kill()
