"""The ``mimecast_ttp_health`` DAG: fails on a stale store, naming the check and its fix; passes on a fresh one.

The store is filled through the product's own rules and store (the simulator's records of each
window, ``transform_records``, ``AlertStore.load_window``), as the pipeline would fill it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.simulator import SimulatorConfig, ground_truth
from tests.plugins.mimecast_ttp.store_samples import load, window_batch

RUN_AT = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)  # checks [09:00, 12:00) with hours=3, grace 30 min
HOUR = timedelta(hours=1)


@pytest.fixture
def health_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    bag = DagBag(dag_folder=str(REPO / "dags" / "mimecast_ttp_health.py"))
    assert bag.import_errors == {}
    return bag.get_dag("mimecast_ttp_health")


def _load_windows(alerts_db: str, starts: list[datetime]) -> None:
    from mimecast_ttp.store import AlertStore

    store, config = AlertStore.from_url(alerts_db), SimulatorConfig(seed=9, volume=60)
    for start in starts:
        for endpoint in ENDPOINT_KEYS:
            load(store, window_batch(ground_truth(config, endpoint, start, start + HOUR), endpoint, (start, start + HOUR)))
    store.engine.dispose()


def test_a_fresh_store_passes(health_dag, alerts_db):
    from airflow.utils.state import DagRunState

    _load_windows(alerts_db, [datetime(2026, 11, 26, h, tzinfo=UTC) for h in (9, 10, 11)])
    run = health_dag.test(logical_date=RUN_AT, run_conf={"hours": 3})
    assert run.state == DagRunState.SUCCESS


def test_a_stale_store_fails_naming_the_check_and_the_command_that_fixes_it(health_dag, alerts_db, caplog, capfd):
    from airflow.utils.state import DagRunState

    _load_windows(alerts_db, [datetime(2026, 11, 26, h, tzinfo=UTC) for h in (9, 10)])  # 11:00 never loaded
    run = health_dag.test(logical_date=RUN_AT, run_conf={"hours": 3})
    assert run.state == DagRunState.FAILED
    logged = caplog.text + capfd.readouterr().out  # the task log goes to the test's output
    assert "1 health check(s) failed for [2026-11-26T09:00:00Z, 2026-11-26T12:00:00Z)" in logged
    assert ("coverage: 1 window(s) missing [2026-11-26T11:00:00Z, 2026-11-26T12:00:00Z) for attachment, "
            "impersonation, url") in logged
    assert "airflow backfill create --dag-id mimecast_ttp_alerts --from-date 2026-11-26T11:00:00" in logged
