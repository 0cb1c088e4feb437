"""Benchmark of a backfill through the real scheduler, against the API's own pace.

A typical tenant (the simulator at 200 records per endpoint and hour, its rate limit on: 120 calls
a minute shared by the endpoints and the token calls) is backfilled for ``days`` whole days with
``airflow backfill create`` on the daily DAG (``mimecast_ttp_alerts_daily``): scheduler,
dag-processor and API server as real processes (``tests/airflow_services.py``), LocalExecutor,
the ``mimecast_api`` pool at 2. The floor is the API's: the pages the range needs (each
endpoint's records divided by 500, rounded up, summed) at the sustained rate, the time no client
can beat. The stored alerts are checked against what the rules imply for the simulator's records.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DAG_ID = "mimecast_ttp_alerts_daily"
VOLUME, RATE_PER_MINUTE, PAGE_SIZE = 200, 120, 500
OVERLAP = timedelta(minutes=5)


def run(days: int = 7) -> dict:
    from mimecast_ttp.endpoints import ENDPOINT_KEYS
    from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer, ground_truth
    from mimecast_ttp.simulator.credentials import demo_connection
    from tests.airflow_services import AirflowServices
    from tests.dags.conftest import expected_alerts

    first_day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)
    end = first_day + timedelta(days=days)
    server = SimulatorServer(SimulatorConfig(seed=31, volume=VOLUME, rate_limit=RATE_PER_MINUTE)).start()
    try:
        pages = sum(math.ceil(len(ground_truth(server.config, endpoint, first_day - OVERLAP, end)) / PAGE_SIZE)
                    for endpoint in ENDPOINT_KEYS)
        floor_seconds = pages / (RATE_PER_MINUTE / 60)
        with tempfile.TemporaryDirectory() as folder:
            home, alerts_db = Path(folder) / "airflow", f"sqlite:///{Path(folder) / 'alerts.db'}"
            services = AirflowServices(home, f"sqlite:///{Path(folder) / 'airflow.db'}", migrate=False, env={
                "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(server.url)),
                "AIRFLOW_CONN_MIMECAST_ALERTS_DB": alerts_db,
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "airflow_local_settings.connect_args",
                "MIMECAST_TTP_TASK_RETRIES": "0",
            })
            (home / "config").mkdir(parents=True)
            (home / "config" / "airflow_local_settings.py").write_text("connect_args = {'timeout': 120}\n")
            services.airflow("db", "migrate", timeout=300)
            with sqlite3.connect(Path(folder) / "airflow.db") as database:
                database.execute("PRAGMA journal_mode=WAL")
            services.airflow("dags", "reserialize")
            services.airflow("dags", "unpause", DAG_ID)
            services.airflow("pools", "set", "mimecast_api", "2", "Mimecast API quota")
            services.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", first_day.isoformat(),
                             "--to-date", (end - timedelta(days=1)).isoformat(), "--max-active-runs", "4")
            requests_before = server.stats.snapshot()
            started = time.monotonic()
            with services:
                runs = services.wait_for_runs(DAG_ID, count=days, timeout=600 + 120 * days)
                seconds = time.monotonic() - started
                if any(run["state"] != "success" for run in runs):
                    print(services.logs_tail(lines=80, task_logs=6), file=sys.stderr)
            states = sorted({run["state"] for run in runs})
            calls = server.stats.snapshot()
            expected = expected_alerts(server.config, first_day - OVERLAP, end)
            from tests.dags.test_mimecast_ttp_alerts import alerts_in_store

            stored = alerts_in_store(alerts_db)
    finally:
        server.stop()
    return {
        "days": days, "volume_per_endpoint_hour": VOLUME, "rate_limit_per_minute": RATE_PER_MINUTE,
        "pages": pages, "floor_seconds": round(floor_seconds, 1), "seconds": round(seconds, 1),
        "ratio_to_floor": round(seconds / floor_seconds, 2), "run_states": states,
        "api_calls": calls["requests"] - requests_before["requests"],
        "answered_429": calls["rate_limited"] - requests_before["rate_limited"],
        "tokens_issued": calls.get("tokens_issued"),
        "alerts_expected": len(expected), "alerts_stored": len(stored),
        "alerts_equal": stored.keys() == expected.keys(),
    }


def markdown(summary: dict) -> str:
    s = summary
    return "\n".join([
        "## backfill", "",
        f"`airflow backfill create` of {s['days']} days on `{DAG_ID}` through the real scheduler, a tenant of "
        f"{s['volume_per_endpoint_hour']} records per endpoint and hour, the API's rate limit on "
        f"({s['rate_limit_per_minute']} calls a minute). Floor: {s['pages']} pages at the sustained rate.", "",
        "| days | wall | page floor | ratio | API calls | 429s | alerts stored = expected |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {s['days']} | {s['seconds']} s | {s['floor_seconds']} s | {s['ratio_to_floor']} | {s['api_calls']} | "
        f"{s['answered_429']} | {s['alerts_stored']:,} = {s['alerts_expected']:,}: {s['alerts_equal']} |", ""])


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 7), indent=2))
