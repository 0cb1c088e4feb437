"""``make chaos``: the real DAG against a simulator with every fault on; the store must equal the truth.

The simulator serves with every switchable fault armed at once (5xx bursts, slow answers past the
client's timeout, HTML bodies, retryable ``fail`` entries, expired tokens, an empty last page that
still carries ``next``, an inclusive ``to``, a tight rate limit with epoch reset headers, tokens that
live 4 s and are revoked every 5 s). The DAG
runs as an operator runs it (``airflow dags test``, one process per run) over:

1. hourly windows in a row;
2. the same windows again (re-runs);
3. a manual window straddling two of them (an overlap);
4. one more window whose process is killed (SIGKILL) while its loads run, then that window again.

A run that fails (a fault outlasting the hook's retries) is run again, as the task's retries would.
At the end, the alert store must hold exactly the alerts the rules derive from the simulator's own
records over the whole span (0 missing, 0 unexpected), each endpoint-window one statistics row
(0 duplicated), every row's counts must add up (0 unaccounted), and the killed window must have
left nothing half-written. Exit 0 only then. Figures go to standard output and, as JSON, to
``--out`` (default ``data/chaos/result.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mimecast_ttp.endpoints import ENDPOINT_KEYS

DAG_ID = "mimecast_ttp_alerts"
FIRST_END = datetime(2026, 11, 20, 11, tzinfo=UTC)  # fixed past windows: the result does not depend on the clock
OVERLAP = timedelta(minutes=5)
ATTEMPTS = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mimecast_ttp.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=4, help="hourly windows in a row (default 4)")
    parser.add_argument("--volume", type=int, default=300, help="records per endpoint per hour (default 300)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path.cwd() / "data" / "chaos")
    parser.add_argument("--out", type=Path, default=None, help="result JSON (default DIR/result.json)")
    args = parser.parse_args(argv)

    import shutil

    from mimecast_ttp.demo import local_airflow_env, run_airflow
    from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer
    from mimecast_ttp.simulator.credentials import demo_connection

    home = args.dir.resolve()
    shutil.rmtree(home, ignore_errors=True)
    (home / "logs").mkdir(parents=True)
    env = local_airflow_env(home)
    env.update(MIMECAST_TTP_TASK_RETRIES="0", MIMECAST_TTP_OVERLAP_MINUTES=str(int(OVERLAP.total_seconds() // 60)))
    config = SimulatorConfig(seed=args.seed, volume=args.volume, rate_limit=40, reset_as_epoch=True,
                             empty_last_page_with_next=True, empty_data_shape="object", to_inclusive=True,
                             page_size_max=100, token_ttl=4)
    started = time.monotonic()
    runs: list[dict] = []
    with SimulatorServer(config) as simulator, _expiring_tokens(simulator, every=5.0):
        _arm_every_fault(simulator)
        conn = demo_connection(simulator.url)
        conn["extra"] = {**conn["extra"], "timeout": 1.5, "page_size": 100}
        env["AIRFLOW_CONN_MIMECAST_DEFAULT"] = json.dumps(conn)
        run_airflow(env, home, "db", "migrate")
        run_airflow(env, home, "pools", "set", "mimecast_api", "2", "Mimecast API quota")
        ends = [FIRST_END + timedelta(hours=n) for n in range(args.hours)]

        for end in ends:
            runs.append(_run_window(env, home, "window", end))
        for end in ends:
            runs.append(_run_window(env, home, "re-run", end))
        middle = ends[len(ends) // 2]
        runs.append(_run_window(env, home, "overlap", middle,
                                conf={"start": (middle - timedelta(minutes=90)).isoformat(),
                                      "end": (middle - timedelta(minutes=30)).isoformat()}))
        killed_end = ends[-1] + timedelta(hours=1)
        killed = _kill_during_load(env, home, killed_end)
        half_written = _half_written(home, killed_end)
        runs.append(_run_window(env, home, "after the kill", killed_end))
        served = simulator.stats.snapshot()

    span = (ends[0] - timedelta(hours=1) - OVERLAP, killed_end)
    result = _check(home, config, span)
    result.update(
        windows=len(ends) + 1, runs=len(runs), failed_attempts_rerun=sum(r["attempts"] - 1 for r in runs),
        killed=killed, half_written_after_kill=half_written, seconds=round(time.monotonic() - started, 1),
        simulator={k: served[k] for k in ("requests", "rate_limited", "tokens_issued", "faults_injected",
                                         "pages_served", "records_served")},
        client=_client_counts(home),
    )
    out = args.out or home / "result.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    _print(result)
    ok = not (result["missing"] or result["unexpected"] or result["duplicated_windows"]
              or result["unaccounted_records"] or half_written)
    print(f"chaos: {'PASSED' if ok else 'FAILED'}; details in {out}")
    return 0 if ok else 1


def _arm_every_fault(simulator) -> None:
    faults = simulator.faults
    faults.error_every(7, status=503)
    faults.error_every(23, status=500)
    faults.slow_every(19, seconds=2.0)  # past the connection's 1.5 s timeout
    faults.non_json_every(13)
    faults.fail_entry_every(17, retryable=True)


@contextlib.contextmanager
def _expiring_tokens(simulator, every: float):
    """Every ``every`` seconds the server stops taking the tokens it issued: 401s mid-window."""
    stop = threading.Event()

    def expire() -> None:
        while not stop.wait(every):
            simulator.faults.expire_tokens()

    thread = threading.Thread(target=expire, name="chaos-token-expiry", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _airflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow")), *args]


def _run_window(env, home: Path, kind: str, end: datetime, conf: dict | None = None) -> dict:
    """``airflow dags test`` for the window ending at ``end`` until it succeeds (at most ATTEMPTS)."""
    for attempt in range(1, ATTEMPTS + 1):
        args = ["dags", "test", DAG_ID, end.isoformat()]
        if conf:
            args += ["--conf", json.dumps(conf)]
        log = home / "logs" / f"{kind.replace(' ', '-')}-{end:%Y%m%dT%H%M}-{attempt}.log"
        started = time.monotonic()
        with log.open("w") as output:
            code = subprocess.run(_airflow_command(*args), env=env, stdout=output, stderr=subprocess.STDOUT,
                                  check=False).returncode
        succeeded = code == 0 and "state=success" in log.read_text(errors="replace")
        print(f"{kind:<15} window ending {end:%Y-%m-%d %H:%M}: attempt {attempt} "
              f"{'succeeded' if succeeded else 'failed'} in {time.monotonic() - started:.1f}s")
        if succeeded:
            return {"kind": kind, "end": end.isoformat(), "attempts": attempt}
    raise SystemExit(f"{kind} window ending {end.isoformat()} failed {ATTEMPTS} times; see {home / 'logs'}")


def _kill_during_load(env, home: Path, end: datetime) -> dict:
    """Start the window's run and SIGKILL its process group as soon as a load task has started."""
    log = home / "logs" / f"killed-{end:%Y%m%dT%H%M}.log"
    with log.open("w") as output:
        process = subprocess.Popen(_airflow_command("dags", "test", DAG_ID, end.isoformat()), env=env,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    markers = [f"{endpoint}.load" for endpoint in ENDPOINT_KEYS]  # a load task has started
    while process.poll() is None and time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if any(marker in text for marker in markers):
            break
        time.sleep(0.05)
    was_running = process.poll() is None
    if was_running:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    print(f"{'killed':<15} window ending {end:%Y-%m-%d %H:%M}: "
          f"{'SIGKILL while its loads ran' if was_running else 'finished before the kill'}")
    return {"end": end.isoformat(), "killed_while_running": was_running}


def _store(home: Path):
    from mimecast_ttp.store import AlertStore

    return AlertStore.from_url(f"sqlite:///{home / 'alerts.db'}")


def _half_written(home: Path, end: datetime) -> list[str]:
    """Endpoint-windows the killed run left inconsistent: a stats row whose quarantine rows do not match."""
    from sqlalchemy import func, select

    from mimecast_ttp.store import quarantine_table, run_stats_table

    store = _store(home)
    start = end - timedelta(hours=1)
    problems = []
    store.ensure_tables()
    with store.engine.connect() as conn:
        for endpoint in ENDPOINT_KEYS:
            stats = conn.execute(select(run_stats_table).where(
                run_stats_table.c.endpoint == endpoint, run_stats_table.c.window_start == start)).mappings().all()
            rows = conn.execute(select(func.count()).select_from(quarantine_table).where(
                quarantine_table.c.endpoint == endpoint, quarantine_table.c.window_start == start)).scalar_one()
            if len(stats) > 1 or (stats and stats[0]["quarantined"] != rows) or (not stats and rows):
                problems.append(endpoint)
    store.engine.dispose()
    return problems


def _check(home: Path, config, span: tuple[datetime, datetime]) -> dict:
    from sqlalchemy import select

    from mimecast_ttp.rules import load_threat_table, transform_records
    from mimecast_ttp.simulator import ground_truth
    from mimecast_ttp.store import run_stats_table

    table = load_threat_table()
    expected: set[str] = set()
    for endpoint in ENDPOINT_KEYS:
        result = transform_records(endpoint, ground_truth(config, endpoint, *span), table, window=span)
        expected |= {alert["alert_id"] for alert in result.alerts}
    store = _store(home)
    landed = set(store.alert_ids())
    with store.engine.connect() as conn:
        stats = conn.execute(select(run_stats_table)).mappings().all()
    windows = Counter((row["endpoint"], row["window_start"], row["window_end"]) for row in stats)
    unaccounted = 0
    for row in stats:
        kept = sum(row["kept_by_verdict"].values()) if row["endpoint"] != "impersonation" else row["alerts"]
        unaccounted += abs(row["records_fetched"] - (row["quarantined"] + row["outside_window"]
                                                     + row["clean_dropped"] + kept))
    store.engine.dispose()
    return {
        "span": [span[0].isoformat(), span[1].isoformat()],
        "alerts_expected": len(expected), "alerts_in_store": len(landed),
        "missing": len(expected - landed), "unexpected": len(landed - expected),
        "stats_rows": len(stats), "duplicated_windows": sum(n - 1 for n in windows.values()),
        "unaccounted_records": unaccounted,
        "records_fetched": sum(row["records_fetched"] for row in stats),
    }


def _client_counts(home: Path) -> dict:
    from sqlalchemy import func, select

    from mimecast_ttp.store import run_stats_table

    store = _store(home)
    with store.engine.connect() as conn:
        row = conn.execute(select(*(func.sum(getattr(run_stats_table.c, name)).label(name) for name in (
            "rate_limit_waits", "rate_limit_wait_seconds", "retries", "token_refreshes")))).mappings().one()
    store.engine.dispose()
    return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in row.items()}


def _print(result: dict) -> None:
    print(f"\n{result['windows']} windows, {result['runs']} successful runs ({result['failed_attempts_rerun']} "
          f"failed attempts run again), one process killed during its loads, {result['seconds']}s")
    print(f"simulator: {result['simulator']['requests']} requests, {result['simulator']['rate_limited']} answered 429, "
          f"faults injected {result['simulator']['faults_injected']}")
    print(f"client (latest rows): {result['client']}")
    print(f"store over [{result['span'][0]}, {result['span'][1]}): {result['alerts_expected']} alerts expected, "
          f"{result['alerts_in_store']} in the store, {result['missing']} missing, {result['unexpected']} unexpected, "
          f"{result['duplicated_windows']} duplicated windows, {result['unaccounted_records']} unaccounted records, "
          f"half-written after the kill: {result['half_written_after_kill'] or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
