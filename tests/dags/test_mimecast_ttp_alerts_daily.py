"""The daily backfill DAG: the hourly pipeline in whole-day windows, and one alert store for both.

A day loaded by ``mimecast_ttp_alerts_daily`` and hours of it loaded again by the hourly DAG give
one set of alerts (the identity does not depend on the window), every hour of the day counts as
covered, and the daily run needs one token and one task chain per endpoint for the whole day.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from tests.dags.conftest import expected_alerts
from tests.dags.test_mimecast_ttp_alerts import HOUR, OVERLAP, WINDOW_END, assert_store_matches, dump, run_dag

DAY_END = WINDOW_END.replace(hour=0)  # 2026-11-26 00:00 UTC
DAY = timedelta(days=1)


@pytest.fixture
def daily_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("mimecast_ttp_alerts_daily")


def test_the_daily_dag_is_the_same_pipeline_paused_until_needed(daily_dag, dag):
    assert daily_dag.timetable.expression == "0 0 * * *"
    assert daily_dag.is_paused_upon_creation is True
    assert sorted(daily_dag.task_ids) == sorted(dag.task_ids)
    assert "backfill" in daily_dag.tags


def test_a_day_then_hours_of_it_hourly_are_one_set_of_alerts(daily_dag, dag, simulator_factory, mimecast_connection,
                                                             alerts_db):
    simulator = simulator_factory(seed=11, volume=40)
    mimecast_connection(simulator)
    run_dag(daily_dag, logical_date=DAY_END)  # the data interval [2026-11-25 00:00, 2026-11-26 00:00)
    day_start = DAY_END - DAY
    expected = expected_alerts(simulator.config, day_start - OVERLAP, DAY_END)
    assert len(expected) > 24 * 20
    assert_store_matches(alerts_db, expected)
    stats = dump(alerts_db, "mimecast_run_stats")
    assert {(row["endpoint"], row["window_end"][:16]) for row in stats} == {
        (endpoint, "2026-11-26 00:00") for endpoint in ENDPOINT_KEYS}
    assert [row["tokens_minted"] for row in stats] == [1, 1, 1]  # one token per endpoint for the whole day

    # the hourly DAG loads two hours of that day again (a scheduled run catching up): nothing new
    for hour_end in (DAY_END - 3 * HOUR, DAY_END - 2 * HOUR):
        run_dag(dag, logical_date=hour_end)
    assert_store_matches(alerts_db, expected)
    assert sum(row["alerts_new"] for row in dump(alerts_db, "mimecast_run_stats")) == len(expected)

    from mimecast_ttp.report import Thresholds, build_report, read_frames
    from mimecast_ttp.store import AlertStore

    store = AlertStore.from_url(alerts_db)
    report = build_report(read_frames(store, day_start, DAY_END), schedule="0 * * * *", start=day_start,
                          end=DAY_END, now=DAY_END + timedelta(minutes=5), thresholds=Thresholds())
    store.engine.dispose()
    for endpoint in ENDPOINT_KEYS:  # every hour of the day is covered, by the day's window
        assert report["endpoints"][endpoint]["windows_loaded"] == 24
        assert report["endpoints"][endpoint]["gaps"] == []
