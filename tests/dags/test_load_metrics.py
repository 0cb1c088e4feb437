"""The DAG's loads send their endpoint-window gauges to a real StatsD listener on loopback (metrics on)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.airflow_services import free_port
from tests.dags.test_mimecast_ttp_alerts import WINDOW_END, dump, run_dag


@pytest.fixture
def statsd(monkeypatch):
    """A UDP socket standing in for StatsD, and Airflow's metrics pointed at it for this test."""
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils

    port = free_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", port))
    listener.settimeout(0.2)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(port))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)  # as a task process does
    yield listener
    monkeypatch.undo()
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)  # metrics off again
    listener.close()


def _received(listener: socket.socket, wanted: set[str], timeout: float = 30) -> dict[str, float]:
    """Gauges read off the socket until every ``wanted`` name has arrived (or the deadline passes)."""
    gauges: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while not wanted <= gauges.keys() and time.monotonic() < deadline:
        try:
            packet = listener.recv(65536).decode()
        except TimeoutError:
            continue
        for line in packet.splitlines():
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if kind.startswith("g"):
                gauges[name] = float(value)
    return gauges


def test_each_load_sends_its_window_gauges(dag, simulator_factory, mimecast_connection, alerts_db, statsd):
    mimecast_connection(simulator_factory(seed=7, volume=60))
    run_dag(dag, logical_date=WINDOW_END)
    rows = {row["endpoint"]: row for row in dump(alerts_db, "mimecast_run_stats")}
    wanted = {f"airflow.mimecast_ttp.{e}.{n}" for e in rows for n in
              ("records_fetched", "alerts", "quarantined", "rate_limit_waits", "lag_seconds")}
    gauges = _received(statsd, wanted)
    assert wanted <= gauges.keys(), sorted(wanted - gauges.keys())
    for endpoint, row in rows.items():
        assert gauges[f"airflow.mimecast_ttp.{endpoint}.records_fetched"] == row["records_fetched"] > 0
        assert gauges[f"airflow.mimecast_ttp.{endpoint}.alerts"] == row["alerts"]
        assert gauges[f"airflow.mimecast_ttp.{endpoint}.quarantined"] == row["quarantined"]
        assert gauges[f"airflow.mimecast_ttp.{endpoint}.lag_seconds"] > 0
