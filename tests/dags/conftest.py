"""Fixtures for running the real DAG in-process (``dag.test()``) against the simulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS


@pytest.fixture
def dag(airflow_db):
    """The DAG, parsed afresh per test: ``dag.test(run_conf=...)`` leaves the conf in the object's params."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("mimecast_ttp_alerts")


@pytest.fixture
def alerts_db(tmp_path, monkeypatch) -> str:
    """A fresh SQLite alert store for one test, wired in as the ``mimecast_alerts_db`` connection."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", url)
    return url


@pytest.fixture
def postgres_alerts_db(postgres_url, monkeypatch) -> Iterator[str]:
    """A fresh PostgreSQL database as the alert store, dropped afterwards."""
    import psycopg2

    name = f"mimecast_dag_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_ALERTS_DB", url)
    yield url
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def mimecast_connection(monkeypatch):
    """Point ``mimecast_default`` at a running simulator."""
    from mimecast_ttp.simulator.credentials import demo_connection

    def connect(server, api_version: int = 2) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_MIMECAST_DEFAULT", json.dumps(demo_connection(server.url, api_version)))

    return connect


def expected_alerts(config, start: datetime, end: datetime) -> dict[str, dict]:
    """The alerts the rules imply for the simulator's own records of ``[start, end)``, by id."""
    from mimecast_ttp.rules import load_threat_table, transform_records
    from mimecast_ttp.simulator import ground_truth

    table = load_threat_table()
    alerts: dict[str, dict] = {}
    for endpoint in ENDPOINT_KEYS:
        records = ground_truth(config, endpoint, start, end)
        for alert in transform_records(endpoint, records, table, window=(start, end)).alerts:
            alerts[alert["alert_id"]] = alert
    return alerts
