"""``mimecast-ttp stats``: recent runs read back from a real store, in-process and as a command."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from mimecast_ttp import cli
from mimecast_ttp.store import AlertStore
from tests.plugins.mimecast_ttp.store_samples import (
    W1,
    W3,
    broken_copies,
    load,
    postgres_schema,
    sample_records,
    window_batch,
)

COMMAND = Path(__file__).resolve().parents[4] / ".venv" / "bin" / "mimecast-ttp"


def fill(url: str, fixtures_dir: Path) -> None:
    """Three endpoint-windows from the real samples, a later url window, and a not-licensed one."""
    store = AlertStore.from_url(url)
    for endpoint in ("attachment", "url"):
        records = sample_records(fixtures_dir, endpoint)
        load(store, window_batch(records + broken_copies(records, endpoint), endpoint, W1))
    load(store, window_batch(sample_records(fixtures_dir, "url", pages=(2,)), "url", W3))
    store.record_status(endpoint="impersonation", window_start=W1[0], window_end=W1[1], status="not_licensed")
    store.engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path, fixtures_dir) -> str:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    fill(url, fixtures_dir)
    return url


def table_lines(output: str) -> list[list[str]]:
    """The data lines of the table, split on runs of two or more spaces."""
    lines = output.strip().splitlines()
    assert lines[0].startswith("window (UTC)") and set(lines[1]) <= {"-", " "}
    return [re.split(r"\s{2,}", line.strip()) for line in lines[2:] if line.strip() and "run(s)" not in line]


def test_table_shows_each_endpoint_window_newest_first(sqlite_store, capsys):
    assert cli.main(["stats", "--db", sqlite_store]) == 0
    out = capsys.readouterr().out

    rows = table_lines(out)
    assert [row[:3] for row in rows] == [
        ["2024-11-18 00:00..01:00", "url", "loaded"],
        ["2024-11-17 00:00..12:00", "attachment", "loaded"],
        ["2024-11-17 00:00..12:00", "impersonation", "not_licensed"],
        ["2024-11-17 00:00..12:00", "url", "loaded"],
    ]
    # window, endpoint, status, fetched, quarantined, clean dropped, alerts, new, 429 waits
    # attachment: 4 real records + 3 broken copies; 3 of the 4 are "safe", one is malicious
    assert rows[1][3:] == ["7", "3", "3", "1", "1", "1 (2.5s)"]
    # url: 4 malicious clicks
    assert rows[3][3:] == ["7", "3", "0", "4", "4", "1 (2.5s)"]
    assert rows[0][6:8] == ["2", "0"]  # the later url window re-read two known clicks
    assert rows[2][3:] == ["-", "0", "-", "0", "0", "-"]
    assert max(len(line) for line in out.splitlines() if "run(s) loaded" not in line) <= 100
    assert "4 run(s) loaded in the last 1 day(s), from sqlite:///" in out


def test_json_format_is_the_stats_rows(sqlite_store, capsys):
    assert cli.main(["stats", "--db", sqlite_store, "--format", "json", "--days", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)

    assert [(r["endpoint"], r["window_start"]) for r in rows][0] == ("url", "2024-11-18T00:00:00Z")
    attachment = next(r for r in rows if r["endpoint"] == "attachment")
    assert attachment["dropped_by_verdict"] == {"safe": 3}
    assert attachment["quarantined_by_reason"] == {"missing:date": 1, "bad_timestamp:date": 1, "not_an_object": 1}
    assert attachment["newest_event_time"] == "2024-11-17T00:52:30Z"
    assert attachment == {**attachment, "alerts": 1, "alerts_new": 1, "status": "loaded", "api_version": "2"}


def test_the_command_reads_the_store_named_by_the_environment(sqlite_store, tmp_path):
    env = {**os.environ, "MIMECAST_TTP_ALERTS_DB_URL": sqlite_store, "MIMECAST_TTP_DATA_DIR": str(tmp_path / "x")}
    done = subprocess.run([str(COMMAND), "stats"], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert [row[1] for row in table_lines(done.stdout)] == ["url", "attachment", "impersonation", "url"]


def test_a_missing_database_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere" / "alerts.db"
    done = subprocess.run([str(COMMAND), "stats", "--db", f"sqlite:///{missing}"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip

    assert done.returncode == 1
    assert done.stdout == ""
    assert f"no alert store at {missing} (from --db)" in done.stderr
    assert not missing.parent.exists()  # looking did not create it


def test_without_db_or_environment_it_reads_the_data_directory(tmp_path, fixtures_dir, monkeypatch, capsys):
    monkeypatch.delenv("MIMECAST_TTP_ALERTS_DB_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", raising=False)
    monkeypatch.setenv("MIMECAST_TTP_DATA_DIR", str(tmp_path))

    assert cli.main(["stats"]) == 1
    assert f"no alert store at {tmp_path / 'alerts.db'} (from the default SQLite file" in capsys.readouterr().err

    fill(f"sqlite:///{tmp_path / 'alerts.db'}", fixtures_dir)
    assert cli.main(["stats"]) == 0
    assert len(table_lines(capsys.readouterr().out)) == 4


@pytest.mark.postgres
def test_the_airflow_connection_names_a_postgresql_store(postgres_url, fixtures_dir, monkeypatch, capsys):
    monkeypatch.delenv("MIMECAST_TTP_ALERTS_DB_URL", raising=False)
    with postgres_schema(postgres_url) as url:
        fill(url, fixtures_dir)
        monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", url.replace("postgresql+psycopg2://", "postgres://"))

        assert cli.main(["stats", "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)

    assert [r["endpoint"] for r in rows] == ["url", "attachment", "impersonation", "url"]


def test_an_empty_store_says_so(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    AlertStore.from_url(url).ensure_tables()
    assert cli.main(["stats", "--db", url, "--days", "0.5"]) == 0
    assert capsys.readouterr().out.startswith("no runs loaded in the last 0.5 day(s) in sqlite:///")


def test_an_unreachable_server_is_reported_without_its_password(capsys):
    assert cli.main(["stats", "--db", "postgresql://alerts:s3cret-pw@127.0.0.1:9/alerts"]) == 1
    err = capsys.readouterr().err
    assert "cannot read the alert store at postgresql+psycopg2://alerts:***@127.0.0.1:9/alerts" in err
    assert "s3cret" not in err


def test_days_must_be_a_positive_number(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["stats", "--days", "-1"])
    assert exited.value.code == 2
    assert "the number of days must be more than 0" in capsys.readouterr().err
