"""Backfills over date ranges through the real scheduler: every window loaded once, re-runs change nothing.

Scheduler, dag-processor and API server run as real processes on a temporary SQLite metadata
database (``tests/airflow_services.py``), the DAG talks to the simulator over loopback HTTP, and
each backfill is created with ``airflow backfill create`` exactly as an operator would.

Two backfills overlap: the first covers the first two thirds of the range, the second the last two
thirds with ``--reprocess-behavior completed``, so the middle third is loaded twice and the last
third once. Every endpoint-window must then hold exactly one statistics row, the alerts must equal
what the rules imply for the simulator's records of the whole range, and the re-run windows must
come out as they were, with nothing new. 12 windows prove it in ``make test``; the 48-window
variant (marker ``long``) runs in ``make test-long``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.simulator.credentials import demo_connection
from tests.airflow_services import AirflowServices
from tests.dags.conftest import expected_alerts
from tests.dags.test_mimecast_ttp_alerts import TABLES, VOLATILE, dump

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(3600)]

DAG_ID = "mimecast_ttp_alerts"
FROM = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OVERLAP = timedelta(minutes=5)
# Which window last loaded an alert of an overlap depends on the order concurrent runs finish in.
IGNORED = {table: VOLATILE | {"alerts_new"} for table in TABLES} | {
    "mimecast_alerts": VOLATILE | {"window_start", "window_end"}}


@pytest.mark.parametrize("hours", [12, pytest.param(48, marks=pytest.mark.long)], ids=lambda h: f"{h}-windows")
def test_overlapping_backfills_load_every_window_once_and_reprocessing_changes_nothing(
        tmp_path, simulator_factory, hours):
    first_hours, second_from = hours * 2 // 3, hours // 3  # windows [0, 2/3) then [1/3, 1)
    simulator = simulator_factory(seed=21, volume=12)
    alerts_db = f"sqlite:///{tmp_path / 'alerts.db'}"
    services = _services(tmp_path, simulator)

    # Each backfill is created while no service runs: SQLite has one writer, and a transaction that
    # read before another process's commit cannot write (SQLITE_BUSY at once, no waiting), which
    # the scheduler's and dag-processor's steady writes would otherwise make likely. PostgreSQL,
    # the production metadata database, has no such limit (tests/deploy/test_production_smoke.py).
    started = time.monotonic()
    services.airflow(*_backfill(FROM, FROM + (first_hours - 1) * HOUR))
    with services:
        runs = services.wait_for_runs(DAG_ID, count=first_hours, timeout=60 * hours)
        _wait_for_backfills_to_complete(services)
        print(f"backfill of {first_hours} hourly windows: {time.monotonic() - started:.0f}s")
        assert [run["state"] for run in runs] == ["success"] * first_hours, services.logs_tail()
        assert all(run["dag_run_id"].startswith("backfill__") for run in runs)
    first = {table: dump(alerts_db, table, IGNORED[table]) for table in TABLES}
    assert len(first["mimecast_run_stats"]) == first_hours * 3

    started_again, started = datetime.now(UTC).isoformat(), time.monotonic()
    services.airflow(*_backfill(FROM + second_from * HOUR, FROM + (hours - 1) * HOUR),
                     "--reprocess-behavior", "completed")
    with services:
        _wait_for_backfills_to_complete(services, timeout=60 * hours)
        print(f"overlapping reprocessing backfill of {hours - second_from} windows: {time.monotonic() - started:.0f}s")
        runs = services.dag_runs(DAG_ID)
        assert [run["state"] for run in runs] == ["success"] * hours, services.logs_tail()
        reran = [run for run in runs if run["end_date"] > run["start_date"] > started_again]
        assert len(reran) == hours - second_from  # the overlap re-ran, the rest ran for the first time
    again = {table: dump(alerts_db, table, IGNORED[table]) for table in TABLES}

    stats = dump(alerts_db, "mimecast_run_stats")
    windows = {(row["window_start"], row["endpoint"]) for row in stats}
    assert len(stats) == len(windows) == hours * 3  # every endpoint-window exactly once
    expected = expected_alerts(simulator.config, FROM - OVERLAP, FROM + hours * HOUR)
    assert {row["alert_id"] for row in again["mimecast_alerts"]} == expected.keys()

    # What the first backfill loaded is untouched by the second: alerts, quarantine, statistics.
    for table in TABLES:
        after = {json.dumps(row, sort_keys=True, default=str) for row in again[table]}
        lost_or_changed = [row for row in first[table] if json.dumps(row, sort_keys=True, default=str) not in after]
        assert lost_or_changed == [], table
    overlap_starts = {_stored(FROM + h * HOUR) for h in range(second_from, first_hours)}
    assert len(overlap_starts) > 0
    assert [row["alerts_new"] for row in stats if row["window_start"] in overlap_starts] == [0] * len(
        overlap_starts) * 3  # the re-run windows found nothing new


def _services(tmp_path, simulator) -> AirflowServices:
    metadata_db = tmp_path / "airflow.db"
    services = AirflowServices(
        tmp_path / "airflow",
        f"sqlite:///{metadata_db}",
        migrate=False,
        env={
            "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(simulator.url)),
            "AIRFLOW_CONN_MIMECAST_ALERTS_DB": f"sqlite:///{tmp_path / 'alerts.db'}",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the backfills' runs, no "latest hour" run
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
    return services


def _backfill(first: datetime, last: datetime) -> list[str]:
    """``--to-date`` is inclusive: ``last`` is the last run's logical date (its window's start)."""
    return ["backfill", "create", "--dag-id", DAG_ID, "--from-date", first.isoformat(),
            "--to-date", last.isoformat(), "--max-active-runs", "4"]


def _stored(moment: datetime) -> str:
    """A window bound as the SQLite store holds it (naive UTC text)."""
    return f"{moment:%Y-%m-%d %H:%M:%S.%f}"


def _wait_for_backfills_to_complete(services: AirflowServices, timeout: float = 120) -> None:
    """A backfill is done when the scheduler marks it completed (only one may run per DAG)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backfills = services.api("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"]
        if backfills and all(backfill["completed_at"] for backfill in backfills):
            return
        time.sleep(1)
    raise AssertionError(f"backfill not completed after {timeout:.0f}s\n{services.logs_tail()}")
