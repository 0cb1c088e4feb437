"""``mimecast-ttp export``: the demo's store out as OCSF lines that validate and Parquet equal to the store."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mimecast_ttp import cli
from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.export.ocsf import validation_errors
from mimecast_ttp.store import AlertStore
from tests.plugins.mimecast_ttp.export.test_writer import END, START, assert_parquet_equals_store, files, fill

EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
def demo_store(tmp_path, fixtures_dir) -> str:
    """What `make demo` leaves (seed 1, 200 records/endpoint/hour, three windows), plus the real samples."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    store = AlertStore.from_url(url)
    fill(store, fixtures_dir)
    store.engine.dispose()
    return url


def export(*args: str) -> int:
    return cli.main(["export", *args])


def test_the_whole_store_as_parquet_reads_back_equal_to_it(demo_store, tmp_path, capsys):
    out = tmp_path / "parquet"
    assert export("--format", "parquet", "--db", demo_store, "--out", str(out)) == 0
    store = AlertStore.from_url(demo_store)
    assert assert_parquet_equals_store(out, store, *EVERYTHING) == store.count_alerts()
    store.engine.dispose()
    err = capsys.readouterr().err
    assert err.startswith("mimecast-ttp export: parquet: ")
    assert f"to {out}: " in err and "removed (from sqlite:///" in err


def test_the_whole_store_as_ocsf_lines_that_all_validate(demo_store, tmp_path, capsys):
    out = tmp_path / "ocsf"
    assert export("--format", "ocsf", "--validate", "--db", demo_store, "--out", out.as_uri()) == 0
    events = [json.loads(line) for path in out.rglob("*.jsonl") for line in path.read_text().splitlines()]
    store = AlertStore.from_url(demo_store)
    assert len(events) == store.count_alerts()
    store.engine.dispose()
    assert all(validation_errors(event) == [] for event in events)
    assert f"ocsf: {len(events)} alert(s)" in capsys.readouterr().err


def test_a_period_and_an_endpoint(demo_store, tmp_path):
    out = tmp_path / "parquet"
    assert export("--format", "parquet", "--db", demo_store, "--out", str(out), "--endpoint", "url",
                  "--from", "2026-12-01T07:10:00Z", "--to", "2026-12-01T08:00:00") == 0
    assert sorted(files(out)) == ["event_date=2026-12-01/endpoint=url/part-07.parquet"]  # widened to the hour
    again = tmp_path / "again"
    assert export("--format", "parquet", "--db", demo_store, "--out", str(again), "--from", START.isoformat(),
                  "--to", END.isoformat()) == 0
    store = AlertStore.from_url(demo_store)
    assert_parquet_equals_store(again, store, START, END)
    store.engine.dispose()
    assert len(files(again)) == 3 * len(ENDPOINT_KEYS)


def test_exporting_twice_changes_nothing(demo_store, tmp_path):
    out = tmp_path / "ocsf"
    assert export("--format", "ocsf", "--db", demo_store, "--out", str(out)) == 0
    first = files(out)
    assert export("--format", "ocsf", "--db", demo_store, "--out", str(out)) == 0
    assert files(out) == first


def test_errors_are_named_and_exit_1(tmp_path, capsys, demo_store):
    out = str(tmp_path / "out")
    assert export("--format", "ocsf", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--out", out) == 1
    assert "no alert store at" in capsys.readouterr().err
    assert export("--format", "ocsf", "--db", demo_store, "--out", out, "--from", "2026-12-02", "--to", "2026-12-01") == 1
    assert "is not after --from" in capsys.readouterr().err
    assert export("--format", "ocsf", "--db", demo_store, "--out", out, "--from", "yesterday") == 1
    assert "--from='yesterday' is not an ISO 8601 date-time" in capsys.readouterr().err
    assert export("--format", "ocsf", "--db", demo_store, "--out", "nosuchprotocol://bucket/x") == 1
    assert "cannot write to 'nosuchprotocol://bucket/x'" in capsys.readouterr().err
    assert not Path(out).exists()


def test_an_empty_store_has_nothing_to_export(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    AlertStore.from_url(url).ensure_tables()
    assert export("--format", "parquet", "--db", url, "--out", str(tmp_path / "out")) == 0
    assert "holds no alerts: nothing to export" in capsys.readouterr().err


def test_the_command_does_not_import_airflow_when_told_where_the_store_is(demo_store, tmp_path):
    code = ("import sys; from mimecast_ttp import cli; "
            f"code = cli.main(['export', '--format', 'parquet', '--db', {demo_store!r}, '--out', {str(tmp_path / 'o')!r}]);"
            "print(code, any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["0", "False"], result.stderr
