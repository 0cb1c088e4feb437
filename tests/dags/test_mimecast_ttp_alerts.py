"""The real DAG, run in-process with ``dag.test()`` against the simulator, into real databases.

Expected alerts are never hand-counted: they are what the rules imply for the simulator's own
records of the window (its ground truth), so a lost page, a duplicated edge record or a wrong
mapping shows up as a difference.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from tests.clocks import at_every_clock, fixed_clock
from tests.dags.conftest import expected_alerts

WINDOW_END = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
OVERLAP = timedelta(minutes=5)  # the default MIMECAST_TTP_OVERLAP_MINUTES
VOLATILE = frozenset({"first_loaded_at", "last_loaded_at", "loaded_at", "duration_seconds", "run_id", "id"})
TABLES = ("mimecast_alerts", "mimecast_quarantine", "mimecast_run_stats")


def run_dag(dag, **kwargs):
    from airflow.utils.state import DagRunState

    dag_run = dag.test(**kwargs)
    assert dag_run.state == DagRunState.SUCCESS, f"DAG run ended {dag_run.state}"
    return dag_run


def dump(url: str, table: str, ignore: frozenset[str] = VOLATILE) -> list[dict]:
    """A table's rows without load timestamps, in a stable order, for before/after comparisons."""
    from mimecast_ttp.store import normalise_url

    engine = sa.create_engine(normalise_url(url))
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {table}"))]
    engine.dispose()
    cleaned = [{k: v for k, v in row.items() if k not in ignore} for row in rows]
    return sorted(cleaned, key=lambda row: json.dumps(row, sort_keys=True, default=str))


def alerts_in_store(url: str) -> dict[str, dict]:
    return {row["alert_id"]: row for row in dump(url, "mimecast_alerts")}


def assert_store_matches(url: str, expected: dict[str, dict]) -> None:
    stored = alerts_in_store(url)
    assert stored.keys() == expected.keys()
    for alert_id, alert in expected.items():
        row = stored[alert_id]
        for column in ("endpoint", "alert_type", "threat_id", "threat_name", "mapped_by", "recipient", "verdict"):
            assert row[column] == alert[column], (alert_id, column)


@pytest.fixture
def simulator_two_api(simulator_factory):
    return simulator_factory(seed=7, volume=120)


def test_scheduled_window_loads_exactly_the_alerts_the_rules_imply(dag, simulator_two_api, mimecast_connection,
                                                                   alerts_db):
    mimecast_connection(simulator_two_api)
    run_dag(dag, logical_date=WINDOW_END)  # infers the data interval [11:00, 12:00)

    expected = expected_alerts(simulator_two_api.config, WINDOW_END - HOUR - OVERLAP, WINDOW_END)
    assert len(expected) > 50
    assert_store_matches(alerts_db, expected)

    stats = {row["endpoint"]: row for row in dump(alerts_db, "mimecast_run_stats")}
    assert stats.keys() == set(ENDPOINT_KEYS)
    for endpoint, row in stats.items():
        assert row["status"] == "loaded"
        assert row["alerts"] == sum(1 for a in expected.values() if a["endpoint"] == endpoint)
        assert row["records_fetched"] >= row["alerts"] + row["quarantined"] + row["clean_dropped"]
    assert sum(row["quarantined"] for row in stats.values()) == len(dump(alerts_db, "mimecast_quarantine")) > 0
    assert stats["url"]["clean_dropped"] > 0 and stats["attachment"]["clean_dropped"] > 0
    assert stats["impersonation"]["clean_dropped"] == 0


def test_api_1_0_into_postgresql(dag, simulator_factory, mimecast_connection, postgres_alerts_db):
    simulator = simulator_factory(seed=3, volume=90)
    mimecast_connection(simulator, api_version=1)
    run_dag(dag, logical_date=WINDOW_END)

    assert_store_matches(postgres_alerts_db, expected_alerts(simulator.config, WINDOW_END - HOUR - OVERLAP, WINDOW_END))
    api_versions = {row["api_version"] for row in dump(postgres_alerts_db, "mimecast_run_stats")}
    assert api_versions == {"1"}


def test_rerun_and_overlapping_windows_change_nothing(dag, simulator_two_api, mimecast_connection, alerts_db):
    mimecast_connection(simulator_two_api)
    run_dag(dag, logical_date=WINDOW_END)
    first = {table: dump(alerts_db, table, VOLATILE | {"alerts_new"}) for table in TABLES}

    run_dag(dag, logical_date=WINDOW_END)  # the same window again
    assert {table: dump(alerts_db, table, VOLATILE | {"alerts_new"}) for table in TABLES} == first
    assert [row["alerts_new"] for row in dump(alerts_db, "mimecast_run_stats")] == [0, 0, 0]  # nothing new

    # A window half over the first: its alerts join, the shared half is not duplicated.
    start, end = WINDOW_END - HOUR / 2, WINDOW_END + HOUR / 2
    run_dag(dag, logical_date=None, run_conf={"start": start.isoformat(), "end": end.isoformat()})
    expected = expected_alerts(simulator_two_api.config, WINDOW_END - HOUR - OVERLAP, end)
    assert_store_matches(alerts_db, expected)
    windows = {(row["window_start"], row["endpoint"]) for row in dump(alerts_db, "mimecast_run_stats")}
    assert len(windows) == 2 * len(ENDPOINT_KEYS)


@at_every_clock
def test_manual_run_without_logical_date_takes_the_last_complete_hour(dag, simulator_factory, mimecast_connection,
                                                                       alerts_db, now):
    # The simulator's "now" is the run's: it holds records up to that instant, as the real API would.
    simulator = simulator_factory(seed=7, volume=120, clock=fixed_clock(now))
    mimecast_connection(simulator)
    run_dag(dag, logical_date=None, run_after=now)
    end = now.replace(minute=0, second=0, microsecond=0)  # these instants sit within a minute of an hour
    windows = {(row["window_start"], row["window_end"]) for row in dump(alerts_db, "mimecast_run_stats")}
    assert windows == {(f"{end - HOUR:%Y-%m-%d %H:%M:%S.%f}", f"{end:%Y-%m-%d %H:%M:%S.%f}")}  # SQLite's text form
    expected = expected_alerts(simulator.config, end - HOUR - OVERLAP, end)
    assert len(expected) > 50
    assert_store_matches(alerts_db, expected)


def test_unlicensed_endpoint_is_reported_and_the_others_load(dag, simulator_factory, mimecast_connection, alerts_db):
    simulator = simulator_factory(seed=5, volume=60, unlicensed={"url"})
    mimecast_connection(simulator)
    run_dag(dag, logical_date=WINDOW_END)

    stats = {row["endpoint"]: row for row in dump(alerts_db, "mimecast_run_stats")}
    assert stats["url"]["status"] == "not_licensed"
    assert stats["attachment"]["status"] == stats["impersonation"]["status"] == "loaded"
    expected = {k: v for k, v in expected_alerts(simulator.config, WINDOW_END - HOUR - OVERLAP, WINDOW_END).items()
                if v["endpoint"] != "url"}
    assert_store_matches(alerts_db, expected)


def test_a_failing_load_leaves_nothing_of_its_window(dag, simulator_two_api, mimecast_connection, alerts_db):
    from airflow.utils.state import DagRunState

    from mimecast_ttp.store import AlertStore

    mimecast_connection(simulator_two_api)
    store = AlertStore.from_url(alerts_db)
    store.count_alerts()  # creates the tables
    engine = sa.create_engine(alerts_db)
    with engine.begin() as connection:  # the database refuses the statistics row: the last write of a load
        connection.execute(sa.text(
            "CREATE TRIGGER refuse_stats BEFORE INSERT ON mimecast_run_stats BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        ))
    engine.dispose()

    dag_run = dag.test(logical_date=WINDOW_END)
    assert dag_run.state == DagRunState.FAILED
    for table in ("mimecast_alerts", "mimecast_quarantine", "mimecast_run_stats"):
        assert dump(alerts_db, table) == [], table


def test_each_step_ends_its_log_with_one_summary_line(dag, simulator_two_api, mimecast_connection, alerts_db, capfd):
    import re

    mimecast_connection(simulator_two_api)
    run_dag(dag, logical_date=WINDOW_END)
    out = capfd.readouterr().out
    stats = {row["endpoint"]: row for row in dump(alerts_db, "mimecast_run_stats")}
    for endpoint, row in stats.items():
        where = re.escape(f"{endpoint} [{(WINDOW_END - HOUR).isoformat()}, {WINDOW_END.isoformat()})")
        assert re.search(where + rf": extracted \d+ page\(s\), {row['records_fetched']} record\(s\)", out), endpoint
        assert re.search(where + rf": validated {row['records_fetched']} record\(s\): \d+ valid, "
                                 rf"{row['quarantined']} quarantined", out), endpoint
        assert re.search(where + rf": kept \d+.*dropped {row['clean_dropped']} as clean/safe", out), endpoint
        assert re.search(where + rf": mapped {row['alerts']} alert\(s\) by threat", out), endpoint
        assert re.search(where + rf": loaded {row['alerts']} alert\(s\) \({row['alerts_new']} new\)", out), endpoint
    assert not [line for line in out.splitlines() if ": loaded " in line and "datetime.datetime(" in line]
