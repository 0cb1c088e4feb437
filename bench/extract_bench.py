"""How much the extraction costs over plain transfer: ``extract_window`` against a raw client.

Against ``mimecast-ttp simulate`` in its own process (rate limit off, ``--volume`` records per
endpoint per hour), one endpoint-hour is read, page size 500, three ways:

- ``raw``: the simulator's reference client (``mimecast_ttp.simulator.client``) paging the same
  window: HTTP, ``response.json()``, nothing else. This is the floor: what the server can serve
  and a client must at least do.
- ``hook_api2`` / ``hook_api1``: :func:`mimecast_ttp.extract.extract_window` through
  :class:`~mimecast_ttp.hooks.mimecast.MimecastHook` with an API 2.0 (OAuth) or 1.0 (HMAC)
  connection: paging, checks, staging every raw page to a ``file://`` folder, counting the
  records in the window.

The server's hour is generated once before measuring (a raw warm-up read), so every measurement
sees the same cached data; the three are interleaved ``repeat`` times and the best of each kept.
Measurements run in a child process with its own ``AIRFLOW_HOME`` so Airflow's import and
configuration stay out of the caller. Reported per measurement: wall seconds, the client's CPU
seconds (``time.process_time``) and the server's (psutil, the simulator process). The ratios
hook/raw are given in client CPU time (the fair measure on a shared machine: the extra work the
hook does in its own process) and in wall time (what a task waits).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
HOUR = datetime(2026, 11, 20, 10, tzinfo=UTC)
ENDPOINT = "url"
MODES = ("raw", "hook_api2", "hook_api1")


@contextlib.contextmanager
def simulator_process(volume: int, seed: int = 1, *extra: str) -> Generator[tuple[str, int]]:
    """``mimecast-ttp simulate --rate-limit 0`` in its own process: ``(url, pid)``; stopped on exit."""
    command = [str(Path(sys.executable).with_name("mimecast-ttp")), "simulate", "--port", "0", "--rate-limit", "0",
               "--volume", str(volume), "--seed", str(seed), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield line.split()[-1], process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- measurements (in the child process) ---------------------------------------------------------

def _server_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _measure(mode: str, url: str, server_pid: int, staging_url: str, page_size: int) -> dict:
    start, end = HOUR, HOUR + timedelta(hours=1)
    server_before = _server_cpu(server_pid)
    started, cpu_started = time.perf_counter(), time.process_time()
    if mode == "raw":
        from mimecast_ttp.simulator.client import ReferenceClient

        # the same `from`/`to` the hook sends, so the server answers from the same cached query
        records, pages = ReferenceClient(url, timeout=120).fetch_all(ENDPOINT, start, end, page_size=page_size)
        records = len(records)
    else:
        from mimecast_ttp.extract import extract_window
        from mimecast_ttp.hooks.mimecast import MimecastHook

        conn_id = "mimecast_api2" if mode == "hook_api2" else "mimecast_api1"
        manifest = extract_window(MimecastHook(conn_id, page_size=page_size), ENDPOINT, start, end, staging_url)
        records, pages = manifest["records"], manifest["pages"]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {"records": records, "pages": pages, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "server_cpu_seconds": _server_cpu(server_pid) - server_before}


def _measure_main(url: str, server_pid: int, page_size: int, repeat: int) -> dict:
    import logging

    logging.disable(logging.INFO)  # the hook logs a line per page; a benchmark does not need them
    from mimecast_ttp.simulator.client import ReferenceClient

    imports_started = time.perf_counter()
    from airflow.sdk import ObjectStoragePath  # noqa: F401  (imported once here, not inside a measurement)

    from mimecast_ttp.extract import extract_window  # noqa: F401
    from mimecast_ttp.hooks.mimecast import MimecastHook  # noqa: F401

    imports = time.perf_counter() - imports_started
    warm_started = time.perf_counter()
    ReferenceClient(url, timeout=300).fetch_all(ENDPOINT, HOUR, HOUR + timedelta(hours=1), page_size=page_size)
    warm_up = time.perf_counter() - warm_started
    best: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="mimecast-ttp-extract-bench-") as tmp:
        staging_url = Path(tmp).as_uri()
        for _ in range(repeat):
            for mode in MODES:
                measured = _measure(mode, url, server_pid, staging_url, page_size)
                if mode not in best or measured["cpu_seconds"] < best[mode]["cpu_seconds"]:
                    best[mode] = measured
    return {"imports_seconds": imports, "warm_up_seconds": warm_up, "measurements": best}


def _child_env(home: Path, url: str) -> dict[str, str]:
    from mimecast_ttp.simulator.credentials import demo_connection

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_CONN_MIMECAST_API2=json.dumps(demo_connection(url, 2)),
        AIRFLOW_CONN_MIMECAST_API1=json.dumps(demo_connection(url, 1)),
    )
    return env


# --- the benchmark --------------------------------------------------------------------------------

def run(volume: int = 50_000, page_size: int = 500, repeat: int = 2, seed: int = 1) -> dict:
    """Start the simulator, measure in a child process, stop it; the summary dict."""
    with tempfile.TemporaryDirectory(prefix="mimecast-ttp-extract-home-") as home, \
            simulator_process(volume, seed, "--page-size-max", str(max(page_size, 1000))) as (url, pid):
        completed = subprocess.run(
            [sys.executable, __file__, "measure", url, str(pid), str(page_size), str(repeat)],
            env=_child_env(Path(home), url), capture_output=True, text=True, cwd=REPO, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"extract benchmark failed:\n{completed.stderr[-3000:]}")
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
    best = measured["measurements"]
    raw = best["raw"]
    summary = {
        "benchmark": "extract",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "endpoint": ENDPOINT,
        "window": [HOUR.isoformat(), (HOUR + timedelta(hours=1)).isoformat()],
        "volume_per_endpoint_hour": volume,
        "page_size": page_size,
        "repeat": repeat,
        "server_warm_up_seconds": round(measured["warm_up_seconds"], 3),
        "hook_imports_seconds": round(measured["imports_seconds"], 3),
    }
    for mode, values in best.items():
        summary[mode] = {
            "records": values["records"], "pages": values["pages"],
            "seconds": round(values["seconds"], 3), "cpu_seconds": round(values["cpu_seconds"], 3),
            "server_cpu_seconds": round(values["server_cpu_seconds"], 3),
            "records_per_s_wall": round(values["records"] / values["seconds"]),
            "records_per_s_cpu": round(values["records"] / values["cpu_seconds"]),
        }
        if mode != "raw":
            summary[mode]["ratio_to_raw_cpu"] = round(values["cpu_seconds"] / raw["cpu_seconds"], 3)
            summary[mode]["ratio_to_raw_wall"] = round(values["seconds"] / raw["seconds"], 3)
    return summary


def markdown(summary: dict) -> str:
    lines = [
        "## extract",
        "",
        f"One `extract_window` of the `{summary['endpoint']}` endpoint, {summary['volume_per_endpoint_hour']:,} records"
        f" in one hour, page size {summary['page_size']}, simulator in its own process with the rate limit off"
        f" (data generated before measuring), best of {summary['repeat']}, {summary['when']}.",
        "",
        "| measurement | records | pages | wall s | client CPU s | server CPU s | records/s (wall) "
        "| records/s (client CPU) | / raw (CPU) | / raw (wall) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {"raw": "floor: reference client, same pages (no hook)",
              "hook_api2": "`extract_window`, API 2.0 (OAuth)", "hook_api1": "`extract_window`, API 1.0 (HMAC)"}
    for mode in MODES:
        m = summary[mode]
        lines.append(f"| {labels[mode]} | {m['records']:,} | {m['pages']} | {m['seconds']} | {m['cpu_seconds']}"
                     f" | {m['server_cpu_seconds']} | {m['records_per_s_wall']:,} | {m['records_per_s_cpu']:,}"
                     f" | {m.get('ratio_to_raw_cpu', 1.0)} | {m.get('ratio_to_raw_wall', 1.0)} |")
    lines += ["", f"Not in the timings: generating the hour on the server (first read, {summary['server_warm_up_seconds']} s)"
              f" and importing Airflow, the hook and `extract` ({summary['hook_imports_seconds']} s, once per task process).",
              "", "Ratios hook/raw: client CPU time is the measure (the work added in the extracting process;"
              " the machine is shared, so wall time includes other processes' turns). Server CPU is the"
              " simulator serving the same pages, for scale.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=50_000, help="records per endpoint per hour (default 50,000)")
    parser.add_argument("--page-size", type=int, default=500, help="records per page (default 500)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved repetitions; the best is kept")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    summary = run(args.volume, args.page_size, args.repeat)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "extract.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "measure":
        print(json.dumps(_measure_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    else:
        sys.exit(main())
