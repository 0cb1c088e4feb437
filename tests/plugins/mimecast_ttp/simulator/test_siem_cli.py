"""``mimecast-ttp simulate``'s SIEM flags reach the server and the ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from mimecast_ttp.simulator.client import ReferenceClient

COMMAND = [str(Path(sys.executable).with_name("mimecast-ttp")), "simulate"]
FLAGS = ["--seed", "9", "--siem-volume", "40", "--siem-now", "2026-11-21T00:30:00Z", "--siem-url-ttl", "90",
         "--siem-page-size-max", "5"]
CONFIG = SimulatorConfig(seed=9, siem_volume=40, siem_now=datetime(2026, 11, 21, 0, 30, tzinfo=UTC))


def test_siem_flags_reach_the_server():
    process = subprocess.Popen([*COMMAND, "--port", "0", *FLAGS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=os.environ.copy())
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("listening on http://"), first_line + process.stderr.read()
        client = ReferenceClient(first_line.split()[-1])
        body = client.list_batches(page_size=50, start=date(2026, 11, 20), end=date(2026, 11, 20)).json()
        assert len(body["value"]) == 5 and body["value"][0]["expiry"] == "2026-11-21T00:31:30.000Z"
        events = [e for entry in body["value"] for e in client.download_batch(entry["url"])]
        start = datetime(2026, 11, 20, tzinfo=UTC)
        assert events == ground_truth(CONFIG, REJECTIONS, start, datetime(2026, 11, 20, 1, 15, tzinfo=UTC))
    finally:
        process.kill()
        process.wait(10)


def test_ground_truth_of_rejections_from_the_command_line():
    done = subprocess.run([*COMMAND, *FLAGS, "--ground-truth", "--endpoint", "rejections", "--from",
                           "2026-11-20T10:00:00Z", "--to", "2026-11-20T11:00:00Z"], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    expected = ground_truth(CONFIG, REJECTIONS, datetime(2026, 11, 20, 10, tzinfo=UTC),
                            datetime(2026, 11, 20, 11, tzinfo=UTC))
    assert lines == expected and len(lines) == 40


def test_a_bad_siem_flag_is_a_usage_error():
    done = subprocess.run([*COMMAND, "--siem-volume", "3"], capture_output=True, text=True, timeout=60,
                          env=os.environ.copy())
    assert done.returncode == 2 and "siem_volume" in done.stderr
