"""The fourth chain, ``rejections``, through the real DAG (``dag.test()``) against the simulator's SIEM API.

The process runs at :data:`NOW` (``time-machine``): the SIEM keeps seven days of batches, so the
window must be recent for the clock the DAG reads, whatever today's date is. Expected alerts are
what the rules imply for the simulator's own events (its ground truth), never hand-counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, REJECTIONS, SOURCE_KEYS
from tests.dags.conftest import expected_alerts
from tests.dags.test_mimecast_ttp_alerts import (
    HOUR,
    OVERLAP,
    TABLES,
    VOLATILE,
    assert_store_matches,
    dump,
    run_dag,
)

WINDOW_END = datetime(2026, 11, 26, 12, tzinfo=UTC)
NOW = WINDOW_END + timedelta(hours=1, minutes=10)  # the window's batches are published; well within 7 days
SEED_TYPES = ("IP Temporarily Blacklisted", "Submitter failed to authenticate",
              "Anti-Spoofing policy - Inbound not allowed", "Invalid Recipient", "Exceeding outbound thread limit",
              "Message bounced due to Content Examination Policy")


@pytest.fixture
def rejections_dag(airflow_db, monkeypatch, travel):
    """The alerts DAG parsed with every source enabled, in a process standing at :data:`NOW`."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    monkeypatch.setenv("MIMECAST_TTP_SOURCES", ",".join(SOURCE_KEYS))
    travel(NOW)
    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("mimecast_ttp_alerts")


def expected_rejections(config, start: datetime, end: datetime) -> dict[str, dict]:
    from mimecast_ttp.rules import load_threat_table, transform_records
    from mimecast_ttp.simulator import ground_truth

    events = ground_truth(config, REJECTIONS, start, end)
    result = transform_records(REJECTIONS, events, load_threat_table(), window=(start, end))
    return {alert["alert_id"]: alert for alert in result.alerts}


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_rejections_load_exactly_the_alerts_the_rules_imply_idempotently(rejections_dag, simulator_factory,
                                                                         mimecast_connection, store, request):
    from mimecast_ttp.rules import load_threat_table

    alerts_db = request.getfixturevalue("alerts_db" if store == "sqlite" else "postgres_alerts_db")
    simulator = simulator_factory(seed=11, volume=60, siem_volume=150, siem_now=NOW)
    mimecast_connection(simulator)
    assert [group for group in rejections_dag.task_group.children if group in SOURCE_KEYS] == list(SOURCE_KEYS)
    run_dag(rejections_dag, logical_date=WINDOW_END)

    request_start = WINDOW_END - HOUR - OVERLAP
    rejections = expected_rejections(simulator.config, request_start, WINDOW_END)
    expected = {**expected_alerts(simulator.config, request_start, WINDOW_END), **rejections}
    assert_store_matches(alerts_db, expected)
    # every seed rejection type is mapped to its own threat-table row
    table = {row.alert_type: row for row in load_threat_table().rows}
    stored = [row for row in dump(alerts_db, "mimecast_alerts") if row["endpoint"] == REJECTIONS]
    for alert_type in SEED_TYPES:
        rows = [row for row in stored if row["alert_type"] == alert_type]
        assert rows, alert_type
        assert {(row["threat_id"], row["threat_name"], row["mapped_by"]) for row in rows} == {
            (table[alert_type].threat_id, table[alert_type].threat_name, "table")}
    stats = {row["endpoint"]: row for row in dump(alerts_db, "mimecast_run_stats")}
    assert stats.keys() == set(SOURCE_KEYS)
    row = stats[REJECTIONS]
    assert (row["status"], row["alerts"]) == ("loaded", len(rejections))
    assert row["unmapped_alert_types"] and row["clean_dropped"] > 0 and row["quarantined"] > 0
    assert row["records_fetched"] == (row["alerts"] + row["quarantined"] + row["clean_dropped"]
                                      + row["outside_window"])  # every event accounted for

    before = {table: dump(alerts_db, table, VOLATILE | {"alerts_new"}) for table in TABLES}
    run_dag(rejections_dag, logical_date=WINDOW_END)  # again: the same rows, nothing new
    assert {table: dump(alerts_db, table, VOLATILE | {"alerts_new"}) for table in TABLES} == before
    assert [row["alerts_new"] for row in dump(alerts_db, "mimecast_run_stats")] == [0] * len(SOURCE_KEYS)


def test_a_window_past_the_horizon_fails_its_chain_only_and_says_why(rejections_dag, simulator_factory,
                                                                    mimecast_connection, alerts_db, capfd):
    from airflow.utils.state import DagRunState, TaskInstanceState

    simulator = simulator_factory(seed=11, volume=60, siem_now=NOW)
    mimecast_connection(simulator)
    old_end = WINDOW_END - timedelta(days=8)
    dag_run = rejections_dag.test(logical_date=old_end)

    assert dag_run.state == DagRunState.FAILED
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["rejections.extract"] == TaskInstanceState.FAILED
    assert all(states[f"{endpoint}.load"] == TaskInstanceState.SUCCESS for endpoint in ENDPOINT_KEYS)
    assert "Mimecast keeps SIEM batches for about 7 days" in capfd.readouterr().out
    assert {row["endpoint"] for row in dump(alerts_db, "mimecast_run_stats")} == set(ENDPOINT_KEYS)


def test_rejections_are_off_unless_asked_for(dag):
    assert not any(task_id.startswith(f"{REJECTIONS}.") for task_id in dag.task_ids)
    assert {task_id.split(".")[0] for task_id in dag.task_ids if "." in task_id} == set(ENDPOINT_KEYS)
