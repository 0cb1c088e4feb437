"""``make demo``: the whole product on a laptop, with no Mimecast account.

Starts the simulator, runs the real DAG (``airflow dags test``, one process per window, as an
operator would) for the last few complete hours against it, prints what landed in the SQLite
alert store, checks it against an independent reading of the simulator's records for the same
span, stops the simulator and exits 0 only if everything matched.

Everything lives under ``./data/demo`` (Airflow home, staging, alerts.db), recreated each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.paths import PROJECT_DIR

DAG_ID = "mimecast_ttp_alerts"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mimecast_ttp.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=3, help="complete hourly windows to run (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument("--volume", type=int, default=200, help="records per endpoint per hour (default 200)")
    parser.add_argument("--dir", type=Path, default=Path.cwd() / "data" / "demo", help="working folder")
    args = parser.parse_args(argv)

    from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer
    from mimecast_ttp.simulator.credentials import demo_connection

    home = args.dir.resolve()
    shutil.rmtree(home, ignore_errors=True)
    (home / "logs").mkdir(parents=True)
    env = local_airflow_env(home)

    config = SimulatorConfig(seed=args.seed, volume=args.volume)
    with SimulatorServer(config) as simulator:
        print(f"simulator: {simulator.url} (seed {args.seed}, {args.volume} records/endpoint/hour, "
              f"rate limit {config.rate_limit}/min)")
        env["AIRFLOW_CONN_MIMECAST_DEFAULT"] = json.dumps(demo_connection(simulator.url))
        run_airflow(env, home, "db", "migrate")
        run_airflow(env, home, "pools", "set", "mimecast_api", "2", "Mimecast API quota (all endpoints)")

        last_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        window_ends = [last_end - timedelta(hours=n) for n in range(args.hours - 1, -1, -1)]
        for end in window_ends:
            started = time.monotonic()
            run_airflow(env, home, "dags", "test", DAG_ID, end.isoformat(), log_name=f"dags-test-{end:%Y%m%dT%H%M}")
            print(f"window [{end - timedelta(hours=1):%Y-%m-%d %H:%M}, {end:%H:%M}) UTC: "
                  f"DAG run succeeded in {time.monotonic() - started:.1f}s")
        span_start = window_ends[0] - timedelta(hours=1) - _overlap(env)
        ok = _report(home, config, span_start, window_ends[-1])
    print(f"simulator stopped; Airflow home and logs: {home}")
    return 0 if ok else 1


def local_airflow_env(home: Path) -> dict[str, str]:
    """Environment for Airflow commands on a throwaway home: SQLite metadata database in
    ``home/airflow/airflow.db``, this repository's DAG and plugins, data under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_DIR / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PROJECT_DIR / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow' / 'airflow.db'}",
        MIMECAST_TTP_DATA_DIR=str(home),
    )
    return env


def _overlap(env: dict[str, str]) -> timedelta:
    from mimecast_ttp.settings import Settings

    return Settings.from_env(env).overlap


def run_airflow(env: dict[str, str], home: Path, *args: str, log_name: str | None = None) -> None:
    """``airflow <args>`` in ``env``, output to ``home/logs``; exit with the log's tail if it fails."""
    log_file = home / "logs" / f"{log_name or args[0] + '-' + args[1]}.log"
    airflow = Path(sys.executable).with_name("airflow")
    with log_file.open("w") as log:
        done = subprocess.run([str(airflow), *args], env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log_file.read_text().splitlines()[-25:]
        raise SystemExit(f"`airflow {' '.join(args)}` failed (exit {done.returncode}); last lines of {log_file}:\n"
                         + "\n".join(tail))


def _report(home: Path, config, span_start: datetime, span_end: datetime) -> bool:
    """Print what landed and compare it with the rules applied to the simulator's own records."""
    from mimecast_ttp.rules import load_threat_table, transform_records
    from mimecast_ttp.simulator import ground_truth
    from mimecast_ttp.store import AlertStore

    store = AlertStore.from_url(f"sqlite:///{home / 'alerts.db'}")
    summary = store.alert_summary()
    print(f"\nalert store: {store.location}")
    print(_table("alerts by type and threat", summary["alerts_by_type_and_threat"]))
    print(_table("quarantined by reason", summary["quarantined_by_reason"]))
    print(_table("clean dropped by verdict", summary["clean_dropped_by_verdict"]))

    table = load_threat_table()
    expected: Counter[str] = Counter()
    for endpoint in ENDPOINT_KEYS:
        records = ground_truth(config, endpoint, span_start, span_end)
        result = transform_records(endpoint, records, table, window=(span_start, span_end))
        expected.update(alert["alert_id"] for alert in result.alerts)
    landed = set(store.alert_ids())
    missing, unexpected = set(expected) - landed, landed - set(expected)
    print(f"\nindependent check over [{span_start:%Y-%m-%d %H:%M}, {span_end:%H:%M}) UTC: "
          f"{len(expected)} alerts expected from the simulator's records, {len(landed)} in the store, "
          f"{len(missing)} missing, {len(unexpected)} unexpected")
    return not missing and not unexpected


def _table(title: str, rows: dict) -> str:
    lines = [f"\n{title}:"]
    if not rows:
        lines.append("  (none)")
    width = max((len(str(k)) for k in rows), default=0)
    lines.extend(f"  {str(key):<{width}}  {count:>7}" for key, count in sorted(rows.items(), key=lambda kv: -kv[1]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
