"""``mimecast-ttp simulate`` as a user runs it: a subprocess that prints its address, serves, and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.simulator.client import ReferenceClient, logs_body
from tests.plugins.mimecast_ttp.simulator.windows import hour_window

COMMAND = [str(Path(sys.executable).with_name("mimecast-ttp")), "simulate"]


@pytest.fixture
def run_simulator():
    started: list[subprocess.Popen] = []

    def start(*flags: str) -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen([*COMMAND, "--port", "0", *flags], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        started.append(process)
        first_line = process.stdout.readline()
        assert first_line.startswith("listening on http://127.0.0.1:"), first_line + process.stderr.read()
        return process, first_line.split()[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_a_signal_then_exits_0(run_simulator, signum):
    process, url = run_simulator("--seed", "4", "--volume", "30")
    records, _ = ReferenceClient(url).fetch_all("url", *hour_window(), page_size=7)
    expected = ground_truth(SimulatorConfig(seed=4, volume=30), "url", hour_window()[0], hour_window()[1])
    assert records[:len(expected)] == expected
    process.send_signal(signum)
    assert process.wait(10) == 0


def test_flags_reach_the_server(run_simulator):
    _, url = run_simulator("--rate-limit", "7", "--reset-as-epoch", "--fault-5xx-every", "2",
                           "--fault-5xx-status", "502", "--unlicensed", "impersonation", "--empty-data-shape",
                           "object", "--client-secret", "rotated")
    client = ReferenceClient(url)
    with pytest.raises(Exception, match="401"):
        client.token()
    responses = [client.session.post(f"{url}/oauth/token", data={
        "client_id": "mimecast-ttp-simulator-client", "client_secret": "rotated",
        "grant_type": "client_credentials"}, timeout=10)]
    client._token = responses[0].json()["access_token"]
    responses += [client.post_logs(e, logs_body(*hour_window())) for e in ("url", "url", "impersonation")]
    assert [r.status_code for r in responses] == [200, 200, 502, 403]
    assert responses[0].headers["X-RateLimit-Limit"] == "7"
    assert int(responses[0].headers["X-RateLimit-Reset"]) > 10**11


def test_ground_truth_prints_json_lines():
    result = subprocess.run([*COMMAND, "--ground-truth", "--seed", "9", "--endpoint", "attachment",
                             "--from", "2026-11-20T10:00:00Z", "--to", "2026-11-20T12:00:00+00:00"],
                            capture_output=True, text=True, timeout=60, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == ground_truth(SimulatorConfig(seed=9), "attachment", *hour_window(2))
    assert len(lines) == 120


@pytest.mark.parametrize(("flags", "message"), [
    (["--ground-truth", "--endpoint", "url", "--from", "2026-11-20 at ten", "--to", "2026-11-20T11:00:00Z"],
     "--from='2026-11-20 at ten' is not an ISO 8601 date-time"),
    (["--volume", "-1"], "volume"),
])
def test_bad_flags_exit_2_with_a_message(flags, message):
    result = subprocess.run([*COMMAND, *flags], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_help_documents_faults_and_ground_truth():
    result = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=60, check=True)
    for text in ("--ground-truth", "--fault-5xx-every", "--empty-last-page-with-next", "--rate-limit",
                 "listening on", "/_simulator/ground-truth"):
        assert text in result.stdout
    assert datetime.now(UTC)
