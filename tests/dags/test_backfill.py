"""A backfill over a date range through the real scheduler: every window loaded once, twice over.

Scheduler, dag-processor and API server run as real processes on a temporary SQLite metadata
database (``tests/airflow_services.py``), the DAG talks to the simulator over loopback HTTP, and the
backfill is created with ``airflow backfill create`` exactly as an operator would. The same backfill
is then run again with ``--reprocess-behavior completed``: the tables must come out the same.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.simulator.credentials import demo_connection
from tests.airflow_services import AirflowServices
from tests.dags.conftest import expected_alerts
from tests.dags.test_mimecast_ttp_alerts import TABLES, VOLATILE, dump

# Two passes of 48 hourly runs through a real scheduler on two cores: minutes, not seconds.
pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(3600)]

DAG_ID = "mimecast_ttp_alerts"
FROM = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
HOURS = int(os.environ.get("MIMECAST_TTP_BACKFILL_TEST_HOURS", "48"))  # two days of hourly windows
TO = FROM + timedelta(hours=HOURS - 1)  # --to-date is inclusive: the last run's logical date
OVERLAP = timedelta(minutes=5)
# Which window last loaded an alert of an overlap depends on the order concurrent runs finish in.
IGNORED = {table: VOLATILE | {"alerts_new"} for table in TABLES} | {
    "mimecast_alerts": VOLATILE | {"window_start", "window_end"}}


def test_backfill_loads_every_window_once_and_reprocessing_changes_nothing(tmp_path, simulator_factory):
    simulator = simulator_factory(seed=21, volume=12)
    alerts_db = f"sqlite:///{tmp_path / 'alerts.db'}"
    metadata_db = tmp_path / "airflow.db"
    services = AirflowServices(
        tmp_path / "airflow",
        f"sqlite:///{metadata_db}",
        migrate=False,
        env={
            "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(simulator.url)),
            "AIRFLOW_CONN_MIMECAST_ALERTS_DB": alerts_db,
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the backfill's runs, no "latest hour" run
            # SQLite's busy timeout (airflow_local_settings below): wait for the write lock, not fail.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "airflow_local_settings.connect_args",
            "MIMECAST_TTP_TASK_RETRIES": "0",
        },
    )
    settings_module = tmp_path / "airflow" / "config" / "airflow_local_settings.py"
    settings_module.parent.mkdir(parents=True)
    settings_module.write_text("connect_args = {'timeout': 120}\n")  # $AIRFLOW_HOME/config is on sys.path
    services.airflow("db", "migrate", timeout=300)
    with sqlite3.connect(metadata_db) as database:  # WAL persists in the file: readers stop blocking writers
        database.execute("PRAGMA journal_mode=WAL")
    services.airflow("dags", "reserialize")  # the backfill command needs the DAG in the database
    services.airflow("dags", "unpause", DAG_ID)  # nothing of a backfill starts while the DAG is paused
    services.airflow("pools", "set", "mimecast_api", "2", "Mimecast API quota")
    backfill = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", FROM.isoformat(),
                "--to-date", TO.isoformat(), "--max-active-runs", "4"]

    # Each backfill is created while no service runs: SQLite has one writer, and a transaction that
    # read before another process's commit cannot write (SQLITE_BUSY at once, no waiting), which
    # the scheduler's and dag-processor's steady writes would otherwise make likely. PostgreSQL,
    # the production metadata database, has no such limit (tests/deploy/test_production_smoke.py).
    started = time.monotonic()
    services.airflow(*backfill)
    with services:
        runs = services.wait_for_runs(DAG_ID, count=HOURS, timeout=60 * HOURS)
        _wait_for_backfills_to_complete(services)
        print(f"backfill of {HOURS} hourly windows: {time.monotonic() - started:.0f}s")
        assert [run["state"] for run in runs] == ["success"] * HOURS, services.logs_tail()
        assert all(run["dag_run_id"].startswith("backfill__") for run in runs)
    first = {table: dump(alerts_db, table, IGNORED[table]) for table in TABLES}

    started_again, started = datetime.now(UTC).isoformat(), time.monotonic()
    services.airflow(*backfill, "--reprocess-behavior", "completed")
    with services:
        _wait_for_backfills_to_complete(services, timeout=60 * HOURS)
        print(f"reprocessing backfill: {time.monotonic() - started:.0f}s")
        runs = services.dag_runs(DAG_ID)
        assert [run["state"] for run in runs] == ["success"] * HOURS, services.logs_tail()
        assert all(run["end_date"] > run["start_date"] > started_again for run in runs)  # each window re-ran
    again = {table: dump(alerts_db, table, IGNORED[table]) for table in TABLES}
    alerts_new_again = [row["alerts_new"] for row in dump(alerts_db, "mimecast_run_stats")]

    stats = first["mimecast_run_stats"]
    windows = sorted({(row["window_start"], row["endpoint"]) for row in stats})
    assert len(stats) == len(windows) == HOURS * 3  # every endpoint-window exactly once
    expected = expected_alerts(simulator.config, FROM - OVERLAP, TO + timedelta(hours=1))
    assert {row["alert_id"] for row in first["mimecast_alerts"]} == expected.keys()

    assert alerts_new_again == [0] * HOURS * 3  # the second pass found nothing new
    for table in TABLES:
        for before, after in zip(first[table], again[table], strict=True):
            changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            assert not changed, (table, changed)


def _wait_for_backfills_to_complete(services: AirflowServices, timeout: float = 120) -> None:
    """A backfill is done when the scheduler marks it completed (only one may run per DAG)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backfills = services.api("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"]
        if backfills and all(backfill["completed_at"] for backfill in backfills):
            return
        time.sleep(1)
    raise AssertionError(f"backfill not completed after {timeout:.0f}s\n{services.logs_tail()}")
