"""``mimecast-ttp fetch`` against the real simulator: in-process through ``cli.main``, and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimecast_ttp import cli
from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.extract import read_staged_pages, record_time
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.credentials import (
    demo_connection,
)
from tests.plugins.mimecast_ttp.leak_check import assert_no_secret, canonical

END = datetime(2026, 11, 26, 12, tzinfo=UTC)
START = END - timedelta(hours=1)
WINDOW = ["--from", "2026-11-26T11:00:00Z", "--to", "2026-11-26T12:00:00+00:00"]


def connect(monkeypatch, server, api_version: int = 2, conn_id: str = "mimecast_default") -> None:
    conn = demo_connection(server.url, api_version=api_version)
    conn["extra"] = {**conn["extra"], "page_size": 25}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def manifest_line(stderr: str) -> dict:
    lines = [line for line in stderr.splitlines() if line.startswith('{"endpoint"')]
    assert len(lines) == 1, stderr
    return json.loads(lines[0])


def test_fetch_with_out_stages_the_window_and_prints_the_manifest(monkeypatch, simulator_factory, tmp_path, capfd):
    server = simulator_factory(volume=100)
    connect(monkeypatch, server, conn_id="tenant_eu")
    code = cli.main(["fetch", "--endpoint", "attachment", *WINDOW, "--conn-id", "tenant_eu",
                     "--out", str(tmp_path)])
    out, err = capfd.readouterr()
    assert code == 0, err
    manifest = json.loads(out)
    assert manifest["staging_dir"] == (tmp_path / "attachment" / "20261126T110000Z_20261126T120000Z").as_uri()
    endpoint = get_endpoint("attachment")
    staged = [r for _name, body in read_staged_pages(manifest["staging_dir"]) for r in endpoint.records_of(body)]
    kept = [r for r in staged if (t := record_time(endpoint, r)) is None or START <= t < END]
    assert len(kept) == manifest["records_in_window"]
    assert canonical(kept) == canonical(ground_truth(server.config, "attachment", START, END))
    assert "attachment page 1" in err  # logs go to stderr, stdout is only the manifest
    assert_no_secret(out, err)


@pytest.mark.parametrize("api_version", [1, 2])
def test_fetch_without_out_prints_the_window_records(monkeypatch, simulator_factory, capfd, api_version):
    server = simulator_factory(volume=100)
    connect(monkeypatch, server, api_version)
    code = cli.main(["fetch", "--endpoint", "url", *WINDOW])
    out, err = capfd.readouterr()
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert canonical(records) == canonical(ground_truth(server.config, "url", START, END))
    manifest = manifest_line(err)
    assert manifest["records_in_window"] == len(records) and manifest["api_version"] == str(api_version)
    assert "staging_dir" not in manifest  # nothing is kept without --out
    assert_no_secret(out, err)


def test_fetch_rejections_prints_the_window_receipt_events_and_refuses_a_window_past_the_horizon(
        monkeypatch, simulator_factory, capfd, travel):
    from mimecast_ttp.endpoints import REJECTIONS

    now = END + timedelta(hours=2)
    travel(now)  # the SIEM keeps 7 days: the window must be recent on the clock fetch reads
    server = simulator_factory(siem_now=now)
    connect(monkeypatch, server)
    code = cli.main(["fetch", "--endpoint", REJECTIONS, *WINDOW])
    out, err = capfd.readouterr()
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert canonical(records) == canonical(ground_truth(server.config, REJECTIONS, START, END)) != []
    assert manifest_line(err)["batch_files"] > 0
    assert_no_secret(out, err)

    travel(now + timedelta(days=8))
    assert cli.main(["fetch", "--endpoint", REJECTIONS, *WINDOW]) == 1
    assert "Mimecast keeps SIEM batches for about 7 days" in capfd.readouterr().err


def test_fetch_errors_are_clear_and_non_zero(monkeypatch, simulator_factory, capfd):
    server = simulator_factory(unlicensed={"impersonation"})
    connect(monkeypatch, server)
    assert cli.main(["fetch", "--endpoint", "impersonation", *WINDOW]) == 1
    assert "MimecastEndpointNotLicensed: impersonation: POST /api/ttp/impersonation/get-logs answered HTTP 403" in (
        capfd.readouterr().err)

    assert cli.main(["fetch", "--endpoint", "url", *WINDOW, "--conn-id", "nowhere"]) == 1
    assert "no Airflow connection 'nowhere'" in capfd.readouterr().err

    assert cli.main(["fetch", "--endpoint", "url", "--from", "2026-11-26T12:00:00Z", "--to", "2026-11-26T11:00:00Z"]) == 1
    assert "is not after --from" in capfd.readouterr().err

    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(
        {**demo_connection(server.url), "host": "api.example.com", "schema": "http", "port": None}))
    assert cli.main(["fetch", "--endpoint", "url", *WINDOW]) == 1
    assert "plain http:// to api.example.com is refused" in capfd.readouterr().err

    with pytest.raises(SystemExit) as excinfo:
        cli.main(["fetch", "--endpoint", "url", "--from", "yesterday", "--to", "2026-11-26T11:00:00Z"])
    assert excinfo.value.code == 2
    assert "'yesterday' is not an ISO 8601 time" in capfd.readouterr().err


def test_fetch_as_a_real_process_with_the_connection_in_the_environment(simulator_factory):
    server = simulator_factory(volume=100)
    env = {**os.environ, "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(server.url, api_version=1))}
    command = Path(sys.executable).with_name("mimecast-ttp")
    done = subprocess.run([str(command), "fetch", "--endpoint", "impersonation", *WINDOW],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert canonical(records) == canonical(ground_truth(server.config, "impersonation", START, END))
    assert manifest_line(done.stderr)["api_version"] == "1"
    assert_no_secret(done.stdout, done.stderr)
