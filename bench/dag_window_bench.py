"""One hourly window end to end through the real DAG: wall time, CPU, peak memory, per task.

The simulator runs in its own process (rate limit off, ``--volume`` records per endpoint per hour)
and ``airflow dags test mimecast_ttp_alerts <window end>`` runs as a subprocess exactly as an
operator would, on a temporary Airflow home with a SQLite metadata database and a SQLite alert
store. Measured:

- wall time of ``dags test`` (Airflow start-up and DAG parsing included, reported apart from the
  sum of the task durations read from the metadata database's ``task_instance`` table);
- CPU time of the ``dags test`` process tree (``RUSAGE_CHILDREN`` of a small wrapper process that
  only runs it);
- peak memory: the largest sum of RSS over the process tree (psutil, polled every 0.2 s) and the
  largest single process (``ru_maxrss`` of the wrapper's children);
- the floor, in the same run: the time a plain client (the simulator's reference client, no hook)
  takes to read the same request window of all three endpoints from the same, warm server, plus a
  plain SQLite ``executemany`` of the window's alerts (:func:`window_floors.store_floor`); the
  endpoint tasks, extract to load, are judged against it (goal: at most 3x);
- each middle step (validate, filter, map) against the reading and writing of its own staged files
  (:func:`window_floors.step_floors`; goal: at most 2x).

A benchmark of a broken run is worthless, so the run must succeed and the alert store must hold
exactly the alerts :func:`mimecast_ttp.rules.transform_records` derives from the simulator's
ground truth for the request window (window start minus the overlap, to the window end).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_bench import simulator_process  # noqa: E402  (a sibling module, found through the line above)
from window_floors import step_floors, store_floor  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
DAG_ID = "mimecast_ttp_alerts"
WINDOW_END = datetime(2026, 11, 20, 11, tzinfo=UTC)
POLL_SECONDS = 0.2

# Runs a command and writes its exit code, CPU and largest RSS (of the command's whole tree) to a file.
WRAPPER = """\
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"returncode": code, "cpu_user": usage.ru_utime, "cpu_system": usage.ru_stime,
           "children_maxrss_kb": usage.ru_maxrss}, open(sys.argv[1], "w"))
"""


def _airflow_env(home: Path, url: str) -> dict[str, str]:
    from mimecast_ttp.demo import local_airflow_env
    from mimecast_ttp.simulator.credentials import demo_connection

    env = local_airflow_env(home)
    env.update(
        AIRFLOW_CONN_MIMECAST_DEFAULT=json.dumps(demo_connection(url)),
        AIRFLOW_CONN_MIMECAST_ALERTS_DB=f"sqlite:///{home / 'alerts.db'}",
        MIMECAST_TTP_TASK_RETRIES="0",
    )
    return env


def _airflow(env: dict[str, str], home: Path, *args: str) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed (exit {done.returncode}):\n{done.stdout[-2000:]}"
                           f"\n{done.stderr[-2000:]}")


class TreeMemory:
    """Polls the RSS of a process and its descendants; keeps the largest sum and the largest one."""

    def __init__(self, pid: int, interval: float = POLL_SECONDS) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self._interval = interval
        self.peak_sum = self.peak_single = 0
        self.processes_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in tree:
                try:
                    rss = process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                total += rss
                self.peak_single = max(self.peak_single, rss)
                self.processes_seen.add(process.pid)
            self.peak_sum = max(self.peak_sum, total)
            self._stop.wait(self._interval)


def _read_floor(url: str, start: datetime, end: datetime, page_size: int) -> dict:
    """The reference client reading the request window of every endpoint, one after the other."""
    from mimecast_ttp.endpoints import ENDPOINT_KEYS
    from mimecast_ttp.simulator.client import ReferenceClient

    records = pages = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for endpoint in ENDPOINT_KEYS:
        got, read = ReferenceClient(url, timeout=300).fetch_all(endpoint, start, end, page_size=page_size)
        records, pages = records + len(got), pages + read
    return {"records": records, "pages": pages, "seconds": round(time.perf_counter() - started, 3),
            "cpu_seconds": round(time.process_time() - cpu_started, 3)}


def _task_durations(metadata_db: Path) -> list[dict]:
    with sqlite3.connect(metadata_db) as db:
        rows = db.execute(
            "SELECT task_id, map_index, state, start_date, end_date, rendered_map_index FROM task_instance "
            "WHERE dag_id = ? ORDER BY start_date", (DAG_ID,)).fetchall()
    tasks = []
    for task_id, map_index, state, start, end, label in rows:
        seconds = None
        if start and end:
            seconds = (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
        group = task_id.partition(".")[0]  # the endpoint's task group (older runs: the map index label)
        tasks.append({"task_id": task_id, "map_index": map_index, "endpoint": label or (group if "." in task_id else None),
                      "state": state,
                      "start": str(start), "seconds": None if seconds is None else round(seconds, 3)})
    return tasks


def _dag_run_state(metadata_db: Path) -> str | None:
    with sqlite3.connect(metadata_db) as db:
        row = db.execute("SELECT state FROM dag_run WHERE dag_id = ?", (DAG_ID,)).fetchone()
    return row[0] if row else None


def _check_alerts(alerts_db: Path, volume: int, seed: int, request_start: datetime, end: datetime
                  ) -> tuple[dict, list[dict]]:
    """Store contents against the rules applied to the simulator's ground truth for the request window.

    Returns the check and the expected alerts (for the store floor).
    """
    from mimecast_ttp.endpoints import ENDPOINT_KEYS
    from mimecast_ttp.rules import load_threat_table, transform_records
    from mimecast_ttp.simulator import SimulatorConfig, ground_truth

    config = SimulatorConfig(seed=seed, volume=volume)
    table = load_threat_table()
    expected: dict[str, dict] = {}
    truth_records = 0
    for endpoint in ENDPOINT_KEYS:
        records = ground_truth(config, endpoint, request_start, end)
        truth_records += len(records)
        result = transform_records(endpoint, records, table, window=(request_start, end))
        expected.update((alert["alert_id"], alert) for alert in result.alerts)
    with sqlite3.connect(alerts_db) as db:
        landed = {row[0] for row in db.execute("SELECT alert_id FROM mimecast_alerts")}
        stats = db.execute("SELECT endpoint, status, records_fetched, alerts FROM mimecast_run_stats").fetchall()
    check = {"ground_truth_records": truth_records, "expected_alerts": len(expected), "stored_alerts": len(landed),
             "missing": len(expected.keys() - landed), "unexpected": len(landed - expected.keys()),
             "run_stats": [dict(zip(("endpoint", "status", "records_fetched", "alerts"), row, strict=True))
                           for row in stats]}
    return check, list(expected.values())


def run(volume: int = 50_000, page_size: int = 500, seed: int = 1, window_end: datetime = WINDOW_END,
        keep: Path | None = None) -> dict:
    """Run one window through ``dags test`` and check it; the summary dict (raises if the run is broken)."""
    from mimecast_ttp.settings import Settings

    overlap = Settings.from_env({}).overlap
    start, end = window_end - timedelta(hours=1), window_end
    request_start = start - overlap
    with tempfile.TemporaryDirectory(prefix="mimecast-ttp-dag-bench-") as tmp, \
            simulator_process(volume, seed) as (url, _server_pid):
        home = keep or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        env = _airflow_env(home, url)
        prepare_started = time.perf_counter()
        _airflow(env, home, "db", "migrate")
        _airflow(env, home, "pools", "set", "mimecast_api", "2", "Mimecast API quota (all endpoints)")
        prepare = time.perf_counter() - prepare_started

        # Generate the server's hours and read them once, so the DAG and the floor both see a warm server.
        warm_started = time.perf_counter()
        _read_floor(url, request_start, end, page_size)
        warm_up = time.perf_counter() - warm_started
        floor = _read_floor(url, request_start, end, page_size)

        usage_file = home / "dags-test-usage.json"
        log_file = home / "dags-test.log"
        command = [sys.executable, "-c", WRAPPER, str(usage_file), str(Path(sys.executable).with_name("airflow")),
                   "dags", "test", DAG_ID, window_end.isoformat()]
        started = time.perf_counter()
        with log_file.open("w") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
            with TreeMemory(process.pid) as memory:
                process.wait()
        wall = time.perf_counter() - started
        usage = json.loads(usage_file.read_text()) if usage_file.exists() else {}
        state = _dag_run_state(home / "airflow" / "airflow.db")
        if process.returncode != 0 or usage.get("returncode") != 0 or state != "success":
            tail = "\n".join(log_file.read_text().splitlines()[-40:])
            raise RuntimeError(f"dags test failed (exit {usage.get('returncode')}, run state {state}):\n{tail}")
        tasks = _task_durations(home / "airflow" / "airflow.db")
        check, alerts = _check_alerts(home / "alerts.db", volume, seed, request_start, end)
        if check["missing"] or check["unexpected"] or check["expected_alerts"] != check["stored_alerts"]:
            raise RuntimeError(f"the run loaded the wrong alerts: {check}")
        store = store_floor(alerts, home, start, end)
        io_floors = step_floors(home / "staging", home)
        json_floors = step_floors(home / "staging", home, codec="json")

    cpu = usage["cpu_user"] + usage["cpu_system"]
    by_task: dict[str, float] = {}
    for task in tasks:
        step = task["task_id"].rpartition(".")[2]  # extract, validate, ...: summed over the endpoints
        by_task[step] = round(by_task.get(step, 0.0) + (task["seconds"] or 0.0), 3)
    fetched = sum(row["records_fetched"] for row in check["run_stats"])
    task_seconds = sum(t["seconds"] or 0.0 for t in tasks)
    pipeline_seconds = sum(t["seconds"] or 0.0 for t in tasks if t["endpoint"])
    window_floor = round(floor["seconds"] + store["seconds"], 3)
    steps = {}
    for step, by_endpoint in io_floors.items():
        floor_seconds = round(sum(by_endpoint.values()), 3)
        json_seconds = round(sum(json_floors[step].values()), 3)
        steps[step] = {"task_seconds": by_task.get(step, 0.0), "io_floor_seconds": floor_seconds,
                       "ratio": round(by_task.get(step, 0.0) / max(floor_seconds, 1e-9), 2),
                       "json_io_floor_seconds": json_seconds,
                       "ratio_to_json_io": round(by_task.get(step, 0.0) / max(json_seconds, 1e-9), 2),
                       "io_floor_by_endpoint": by_endpoint}
    return {
        "benchmark": "dag_window",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "volume_per_endpoint_hour": volume,
        "page_size": page_size,
        "window": [start.isoformat(), end.isoformat()],
        "request_window": [request_start.isoformat(), end.isoformat()],
        "records_fetched": fetched,
        "alerts": check["stored_alerts"],
        "check": check,
        "airflow_prepare_seconds": round(prepare, 3),
        "server_warm_up_seconds": round(warm_up, 3),
        "floor": {**floor, "records_per_s_wall": round(floor["records"] / floor["seconds"])},
        "store_floor": store,
        "window_floor_seconds": window_floor,
        "ratio_pipeline_tasks_to_window_floor": round(pipeline_seconds / window_floor, 3),
        "steps": steps,
        "dags_test": {
            "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "records_per_s_wall": round(fetched / wall),
            "peak_rss_tree_mb": round(memory.peak_sum / 2**20, 1),
            "peak_rss_single_process_mb": round(memory.peak_single / 2**20, 1),
            "ru_maxrss_children_mb": round(usage["children_maxrss_kb"] / 1024, 1),
            "processes_seen": len(memory.processes_seen),
            "sum_of_task_seconds": round(task_seconds, 3),
            "pipeline_task_seconds": round(pipeline_seconds, 3),
            "outside_tasks_seconds": round(wall - task_seconds, 3),
        },
        "first_task": {"task_id": tasks[0]["task_id"], "seconds": tasks[0]["seconds"]} if tasks else None,
        "ratio_to_floor_wall": round(wall / floor["seconds"], 3),
        "ratio_tasks_to_floor_wall": round(task_seconds / floor["seconds"], 3),
        "ratio_pipeline_tasks_to_floor_wall": round(pipeline_seconds / floor["seconds"], 3),
        "seconds_by_task": by_task,
        "tasks": tasks,
    }


def markdown(summary: dict) -> str:
    run, floor, check = summary["dags_test"], summary["floor"], summary["check"]
    first = summary["first_task"] or {"task_id": "none", "seconds": 0}
    lines = [
        "## dag_window",
        "",
        f"One hourly window [{summary['window'][0]}, {summary['window'][1]}) through `airflow dags test`"
        f" (request from {summary['request_window'][0]}, the 5-minute overlap), {summary['volume_per_endpoint_hour']:,}"
        f" records per endpoint per hour, page size {summary['page_size']}, simulator in its own process with the"
        f" rate limit off and warm, SQLite metadata DB and alert store, {summary['when']}.",
        "",
        "| measurement | records | wall s | CPU s | records/s (wall) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
        f"| floor: reference client reads the same request window, 3 endpoints in turn | {floor['records']:,}"
        f" | {floor['seconds']} | {floor['cpu_seconds']} | {floor['records_per_s_wall']:,} | |",
        f"| `airflow dags test`, whole run | {summary['records_fetched']:,} | {run['seconds']} | {run['cpu_seconds']}"
        f" | {run['records_per_s_wall']:,} | {run['peak_rss_tree_mb']} MB tree, {run['peak_rss_single_process_mb']} MB"
        f" largest process (ru_maxrss {run['ru_maxrss_children_mb']} MB) |",
        f"| floor: plain SQLite `executemany` of the window's {summary['store_floor']['alerts']:,} alerts"
        f" | | {summary['store_floor']['seconds']} | {summary['store_floor']['cpu_seconds']} | | |",
        f"| sum of task durations (metadata DB) | | {run['sum_of_task_seconds']} | | | |",
        f"| of which the 15 endpoint tasks, extract to load | {summary['records_fetched']:,}"
        f" | {run['pipeline_task_seconds']} | | {round(summary['records_fetched'] / run['pipeline_task_seconds']):,} | |",
        "",
        f"**Endpoint tasks, extract to load / window floor (client + `executemany`, {summary['window_floor_seconds']}"
        f" s) = {summary['ratio_pipeline_tasks_to_window_floor']}** (goal: at most 3).",
        "",
        "Middle steps against reading and writing their own staged files (the input decoded record by record,"
        " the output encoded and written in one block; summed over the three endpoints; goal: at most 2), with"
        " msgspec (the codec the steps use) and with the standard library's `json`:",
        "",
        "| step | task seconds | msgspec read + write, s | ratio | `json` read + write, s | ratio |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {step} | {v['task_seconds']} | {v['io_floor_seconds']} | {v['ratio']} | {v['json_io_floor_seconds']}"
          f" | {v['ratio_to_json_io']} |" for step, v in summary["steps"].items()),
        "",
        f"Against the client alone: dags test / client floor = {summary['ratio_to_floor_wall']} in wall time (all tasks:"
        f" {summary['ratio_tasks_to_floor_wall']}; the endpoint tasks, extract to load:"
        f" {summary['ratio_pipeline_tasks_to_floor_wall']}). Wall time here: the run is one process doing its"
        " tasks in turn, against a server in another; CPU is the `dags test` process tree (`RUSAGE_CHILDREN`).",
        "",
        f"Where the rest goes: {run['outside_tasks_seconds']} s outside any task (CLI start, parsing and"
        f" serializing the DAG, creating the run); the first task ({first['task_id']}, {first['seconds']} s) also"
        " carries the start of the execution API that `dags test` runs in-process (it takes as long with 500"
        " records per endpoint), not work of this DAG.",
        "",
        f"Checked: run state success; {check['stored_alerts']:,} alerts in the store = {check['expected_alerts']:,}"
        f" from `transform_records` on the simulator's ground truth ({check['ground_truth_records']:,} records),"
        f" {check['missing']} missing, {check['unexpected']} unexpected.",
        "",
        "Seconds by task (all three endpoints): " + ", ".join(f"{k} {v}" for k, v in summary["seconds_by_task"].items())
        + ".",
        "",
        "| task | endpoint | seconds |",
        "|---|---|---:|",
        *(f"| {t['task_id']} | {t['endpoint'] or ''} | {t['seconds']} |" for t in summary["tasks"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=50_000, help="records per endpoint per hour (default 50,000)")
    parser.add_argument("--page-size", type=int, default=500, help="the reference client's page size (default 500)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, databases, staging)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    summary = run(args.volume, args.page_size, keep=args.keep)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "dag_window.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
