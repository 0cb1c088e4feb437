"""The ``mimecast_ttp_export`` DAG: after the alerts DAG loads a window, it exports exactly that window.

The alerts DAG runs for real (``dag.test()`` against the simulator, into a SQLite store), its
loads emit their events on the ``mimecast_alerts`` asset, and the scheduler's queue then holds a
run for the export DAG. ``dag.test()`` cannot be handed asset events, so the export run it makes
is given the events the alerts run emitted, as its consumed events, exactly as the scheduler
attaches them to an asset-triggered run; the task reads them through ``triggering_asset_events``
as it does in production. ``test_export_dag_runs_after_the_alerts_dag_through_the_scheduler``
does the same through the real scheduler.

What was exported is compared with the store itself: the Parquet files read back (pyarrow and
pandas) equal the store's rows of the exported hours, every OCSF line validates, and hours
nobody asked for (another window already in the store) have no file.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from tests.dags.test_mimecast_ttp_alerts import run_dag

WINDOW_END = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # the window [11:00, 12:00), requested from 10:55
HOUR = timedelta(hours=1)
EXPORTED_HOURS = (datetime(2026, 11, 26, 10, tzinfo=UTC), datetime(2026, 11, 26, 11, tzinfo=UTC))
OTHER_WINDOW = (datetime(2026, 11, 26, 7, tzinfo=UTC), datetime(2026, 11, 26, 8, tzinfo=UTC))


@pytest.fixture
def export_url(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "export"
    monkeypatch.setenv("MIMECAST_TTP_EXPORT_URL", folder.as_uri())
    return folder


@pytest.fixture
def export_dag(airflow_db, export_url):
    """The export DAG, parsed after its export URL is set (the DAG reads its settings at parse)."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    bag = DagBag(dag_folder=str(REPO / "dags" / "mimecast_ttp_export.py"))
    assert bag.import_errors == {}
    return bag.get_dag("mimecast_ttp_export")


def _alert_events(source_run_id: str) -> list[int]:
    """Ids of the ``mimecast_alerts`` asset events a run emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(
            select(AssetEvent.id).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "mimecast_alerts", AssetEvent.source_run_id == source_run_id)
            .order_by(AssetEvent.id)))


def _queued_for_export() -> bool:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(select(AssetDagRunQueue).where(
            AssetDagRunQueue.target_dag_id == "mimecast_ttp_export")) is not None


def _unpause(dag_id: str) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=False))


def _loads(alerts_db: str) -> set[tuple[str, str]]:
    """``(run_id, endpoint)`` of every load in the store (none yet: an empty set)."""
    import sqlite3

    path = alerts_db.removeprefix("sqlite:///")
    if not Path(path).is_file():
        return set()
    with sqlite3.connect(path, timeout=30) as database:
        try:
            return set(database.execute("SELECT run_id, endpoint FROM mimecast_run_stats").fetchall())
        except sqlite3.OperationalError:  # no tables yet
            return set()


def run_with_asset_events(dag, event_ids: list[int], monkeypatch, **kwargs):
    """``dag.test()`` with ``event_ids`` as the run's consumed asset events, as the scheduler sets them."""
    import airflow.models.dagrun as dagrun_module
    from airflow.models.asset import AssetEvent
    from sqlalchemy import select

    create = dagrun_module.get_or_create_dagrun

    def create_with_events(**arguments):
        dag_run = create(**arguments)
        session = arguments["session"]
        dag_run.consumed_asset_events.extend(session.scalars(select(AssetEvent).where(AssetEvent.id.in_(event_ids))))
        session.commit()
        return dag_run

    with monkeypatch.context() as patch:
        patch.setattr(dagrun_module, "get_or_create_dagrun", create_with_events)
        return run_dag(dag, **kwargs)


def assert_exported_exactly(alerts_db: str, export_url: Path, hours: dict[str, set[datetime]]) -> int:
    """The export holds exactly ``hours`` per endpoint (those with alerts), equal to the store; its count."""
    import pandas as pd
    import pyarrow.dataset as ds

    from mimecast_ttp.export.layout import relative_path
    from mimecast_ttp.export.ocsf import validation_errors
    from mimecast_ttp.export.reading import alert_rows
    from mimecast_ttp.store import AlertStore

    store = AlertStore.from_url(alerts_db)
    expected: dict[str, dict] = {}
    expected_files = set()
    for endpoint, endpoint_hours in hours.items():
        for hour in endpoint_hours:
            rows = list(alert_rows(store, endpoint, hour, hour + HOUR))
            expected.update((row["alert_id"], row) for row in rows)
            if rows:
                expected_files |= {relative_path(endpoint, hour, "parquet"), relative_path(endpoint, hour, "ocsf")}
    store.engine.dispose()
    assert expected, "the window loaded no alert"
    written = {str(path.relative_to(export_url / fmt)) for fmt in ("parquet", "ocsf")
               for path in (export_url / fmt).rglob("part-*")}
    assert written == expected_files

    table = ds.dataset(export_url / "parquet", format="parquet", partitioning="hive").to_table()
    frame = pd.read_parquet(export_url / "parquet")
    assert table.num_rows == len(frame) == len(expected)
    for row in table.to_pylist():
        stored = expected[row["alert_id"]]
        assert row["endpoint"] == stored["endpoint"]
        assert row["event_date"] == f"{stored['event_time']:%Y-%m-%d}"
        assert json.loads(row["raw"]) == stored["raw"]
        assert {k: v for k, v in row.items() if k not in ("raw", "event_date")} == {
            k: v for k, v in stored.items() if k != "raw"}

    events = [json.loads(line) for path in sorted((export_url / "ocsf").rglob("part-*.jsonl"))
              for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(event["finding_info"]["uid"] for event in events) == sorted(expected)
    for event in events:
        assert validation_errors(event) == []
    return len(expected)


def test_export_dag_exports_exactly_the_windows_the_asset_events_name(
        dag, export_dag, simulator_factory, mimecast_connection, alerts_db, export_url, monkeypatch, capfd):
    from mimecast_ttp.simulator import ground_truth
    from mimecast_ttp.store import AlertStore
    from tests.plugins.mimecast_ttp.store_samples import load, window_batch

    simulator = simulator_factory(seed=7, volume=120)
    mimecast_connection(simulator)
    store = AlertStore.from_url(alerts_db)  # another window already in the store: it must not be exported
    for endpoint in ENDPOINT_KEYS:
        load(store, window_batch(ground_truth(simulator.config, endpoint, *OTHER_WINDOW), endpoint, OTHER_WINDOW))
    store.engine.dispose()

    # A run with no event has nothing to do (and puts the export DAG in the metadata DB, to unpause:
    # the scheduler queues runs on an asset event only for unpaused DAGs).
    run_dag(export_dag, logical_date=None)
    assert "nothing to export" in capfd.readouterr().out
    _unpause("mimecast_ttp_export")

    alerts_run = run_dag(dag, logical_date=WINDOW_END)
    events = _alert_events(alerts_run.run_id)
    assert len(events) == len(ENDPOINT_KEYS)  # one per endpoint's load
    assert _queued_for_export()  # the scheduler would now start an asset-triggered export run

    run_with_asset_events(export_dag, events, monkeypatch, logical_date=None)
    exported = assert_exported_exactly(alerts_db, export_url, {e: set(EXPORTED_HOURS) for e in ENDPOINT_KEYS})
    out = capfd.readouterr().out
    assert f"mimecast_ttp_export: {len(ENDPOINT_KEYS)} asset event(s), {len(ENDPOINT_KEYS)} window(s) exported" in out
    assert "url [2026-11-26T10:55:00Z, 2026-11-26T12:00:00Z)" in out
    assert f"parquet: {exported} alert(s) of 6 hour(s)" in out

    # The same events again (a re-run, a retry): the same files, nothing duplicated.
    before = {path: path.read_bytes() for path in export_url.rglob("part-*.jsonl")}
    run_with_asset_events(export_dag, events, monkeypatch, logical_date=None)
    assert assert_exported_exactly(alerts_db, export_url, {e: set(EXPORTED_HOURS) for e in ENDPOINT_KEYS}) == exported
    assert {path: path.read_bytes() for path in export_url.rglob("part-*.jsonl")} == before


def test_a_manual_run_exports_the_period_of_its_params(export_dag, alerts_db, export_url, fixtures_dir):
    from mimecast_ttp.store import AlertStore
    from tests.plugins.mimecast_ttp.store_samples import W1, load, sample_records, window_batch

    store = AlertStore.from_url(alerts_db)  # the real samples: alerts of 2024-11-13 to 17
    for endpoint in ENDPOINT_KEYS:
        load(store, window_batch(sample_records(fixtures_dir, endpoint), endpoint, W1))
    store.engine.dispose()
    day = datetime(2024, 11, 17, tzinfo=UTC)
    run_dag(export_dag, logical_date=None, run_conf={"start": day.isoformat(), "end": (day + 24 * HOUR).isoformat(),
                                                     "formats": ["parquet", "ocsf"]})
    hours = {day + h * HOUR for h in range(24)}
    assert assert_exported_exactly(alerts_db, export_url, {e: hours for e in ENDPOINT_KEYS}) > 0


def test_a_not_licensed_window_and_a_hand_made_event_export_nothing():
    from mimecast_ttp.export.layout import windows_from_asset_events

    windows = windows_from_asset_events([
        {"endpoint": "url", "status": "not_licensed", "window_start": "2026-11-26T11:00:00+00:00",
         "window_end": "2026-11-26T12:00:00+00:00"},
        {},  # created in the UI without an extra
        {"endpoint": "attachment", "status": "loaded", "window_start": "2026-11-26T11:00:00+00:00",
         "request_from": "2026-11-26T10:55:00+00:00", "window_end": "2026-11-26T12:00:00+00:00"},
    ])
    assert windows.hours == {"attachment": set(EXPORTED_HOURS)}
    assert len(windows.skipped) == 2 and "not_licensed" in windows.skipped[0]


@pytest.mark.scheduler
@pytest.mark.timeout(900)
def test_export_dag_runs_after_the_alerts_dag_through_the_scheduler(tmp_path, simulator_factory):
    """Data-aware scheduling for real: the scheduler starts exports on the loads' asset events.

    Airflow 3.3 gives an asset-triggered run the events queued up to the one that queued it; an
    event landing while that run is being created waits for the next event (apache/airflow#56050).
    Three loads finish close together, so once the exports are idle with a load's event still
    unconsumed, the test posts an event by hand, as the next load would: its run consumes whatever
    waited, and skips the hand-made event itself (it names no window). The unpaused alerts DAG also
    runs its latest hourly window (and the next, should an hour begin meanwhile): every load counts.
    """
    from mimecast_ttp.export.layout import hours_covering
    from mimecast_ttp.simulator.credentials import demo_connection
    from mimecast_ttp.store import AlertStore
    from tests.airflow_services import TERMINAL_RUN_STATES, AirflowServices

    simulator = simulator_factory(seed=5, volume=30)
    alerts_db = f"sqlite:///{tmp_path / 'alerts.db'}"
    export = tmp_path / "export"
    env = {
        "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(simulator.url)),
        "AIRFLOW_CONN_MIMECAST_ALERTS_DB": alerts_db,
        "MIMECAST_TTP_EXPORT_URL": export.as_uri(),
        "MIMECAST_TTP_TASK_RETRIES": "0",
    }
    with AirflowServices(tmp_path / "airflow", f"sqlite:///{tmp_path / 'airflow.db'}", env=env) as services:
        services.airflow("pools", "set", "mimecast_api", "2", "Mimecast API quota")
        services.wait_for_dag("mimecast_ttp_export")
        services.wait_for_dag("mimecast_ttp_alerts")
        services.unpause("mimecast_ttp_export")
        services.unpause("mimecast_ttp_alerts")
        services.trigger("mimecast_ttp_alerts", conf={"start": (WINDOW_END - HOUR).isoformat(),
                                                      "end": WINDOW_END.isoformat()})
        alert_runs = services.wait_for_runs("mimecast_ttp_alerts", count=2, timeout=420)
        (asset,) = services.api("GET", "/assets", params={"name_pattern": "mimecast_alerts"})["assets"]

        deadline, flushed = time.monotonic() + 300, 0.0
        while True:  # until every load's event is consumed by a finished export run
            alert_runs = services.dag_runs("mimecast_ttp_alerts")
            export_runs = services.dag_runs("mimecast_ttp_export")
            idle = all(run["state"] in TERMINAL_RUN_STATES for run in alert_runs + export_runs)
            loads = _loads(alerts_db)  # (run id, endpoint) of every load: one event each
            consumed = [(event["source_run_id"], event["extra"].get("endpoint"))
                        for run in export_runs if run["state"] == "success"
                        for event in services.api("GET", f"/dags/mimecast_ttp_export/dagRuns/{run['dag_run_id']}"
                                                         "/upstreamAssetEvents")["asset_events"]
                        if event["source_dag_id"] == "mimecast_ttp_alerts"]
            if idle and loads and set(consumed) == loads:
                break
            if idle and time.monotonic() - flushed > 15:  # a load's event waits for the next event
                services.api("POST", "/assets/events", {"asset_id": asset["id"], "extra": {}})
                flushed = time.monotonic()
            assert time.monotonic() < deadline, f"exports not done: {export_runs}\n{services.logs_tail()}"
            time.sleep(2)
        assert {run["state"] for run in alert_runs} == {"success"}, services.logs_tail()
        assert {run["state"] for run in export_runs} == {"success"}, services.logs_tail()
        assert {run["run_type"] for run in export_runs} == {"asset_triggered"}
        assert len(consumed) == len(loads) == len(ENDPOINT_KEYS) * len(alert_runs)  # each consumed once

    # Exactly the hours of the loaded windows (each from its request start), equal to the store.
    store = AlertStore.from_url(alerts_db)
    stats = store.recent_stats(days=1)
    store.engine.dispose()
    assert len(stats) == len(ENDPOINT_KEYS) * len(alert_runs)
    assert {row["window_start"] for row in stats} >= {WINDOW_END - HOUR}
    hours: dict[str, set[datetime]] = {}
    for row in stats:
        hours.setdefault(row["endpoint"], set()).update(hours_covering(row["request_from"], row["window_end"]))
    assert_exported_exactly(alerts_db, export, hours)
