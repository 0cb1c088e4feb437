"""``make bench``: run the project's benchmarks and write their results under ``bench/results/``.

Each benchmark is a function ``(args, results_dir) -> (summary dict, markdown section)`` in
:data:`BENCHMARKS`; add one by writing the function and registering it. Every benchmark measures
its own floor in the same run (the cheapest way to do the same work: parsing JSON alone, a plain
client reading the same pages) and reports its ratio to it. Results: ``bench/results/<name>.json``
per benchmark and ``bench/results/summary.md`` with a table of every benchmark run, then each
section. Benchmarks are not tests: ``make test`` never runs them, and no test asserts a speed.

    .venv/bin/python bench/run.py                      # everything (a few minutes)
    .venv/bin/python bench/run.py --only extract       # one (repeatable)
    .venv/bin/python bench/run.py --only transform --records 200000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

# sibling modules, found through the line above
import backfill_bench  # noqa: E402
import dag_window_bench  # noqa: E402
import extract_bench  # noqa: E402
import load_bench  # noqa: E402
import simulator_throughput  # noqa: E402
import transform_bench  # noqa: E402
import window_memory_bench  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"


def _write(results_dir: Path, name: str, summary: dict) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")


def bench_transform(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = transform_bench.run(args.records, results_dir, profile=not args.no_profile, repeat=args.repeat)
    return summary, transform_bench.markdown(summary)


def bench_simulator(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = simulator_throughput.run(args.volume, args.page_size)
    _write(results_dir, "simulator", summary)
    return summary, simulator_throughput.markdown(summary)


def bench_extract(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = extract_bench.run(args.volume, args.page_size, repeat=max(args.repeat, 2))
    _write(results_dir, "extract", summary)
    return summary, extract_bench.markdown(summary)


def bench_dag_window(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = dag_window_bench.run(args.volume, args.page_size)
    _write(results_dir, "dag_window", summary)
    return summary, dag_window_bench.markdown(summary)


def bench_load(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = load_bench.run(args.alerts)
    _write(results_dir, "load", summary)
    return summary, load_bench.markdown(summary)


def bench_window_memory(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = window_memory_bench.run(args.volume)
    _write(results_dir, "window_memory", summary)
    return summary, window_memory_bench.markdown(summary)


def bench_backfill(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = backfill_bench.run(args.days)
    _write(results_dir, "backfill", summary)
    return summary, backfill_bench.markdown(summary)


BENCHMARKS: dict[str, Callable[[argparse.Namespace, Path], tuple[dict, str]]] = {
    "simulator": bench_simulator,
    "extract": bench_extract,
    "transform": bench_transform,
    "dag_window": bench_dag_window,
    "window_memory": bench_window_memory,
    "load": bench_load,
    "backfill": bench_backfill,
}


# --- the combined table: one row per benchmark, its number, its floor, the ratio -----------------

def _row_simulator(s: dict) -> list[str]:
    one, three = s["one_endpoint"], s["three_endpoints_parallel_warm"]
    return ["simulator", "records/s served, warm (one endpoint; three in parallel)",
            f"{one['warm_records_per_s']:,}; {three['records_per_s']:,}",
            "(it is the floor of the others)", "", "wall"]


def _row_extract(s: dict) -> list[str]:
    raw, v2, v1 = s["raw"], s["hook_api2"], s["hook_api1"]
    return ["extract", f"records/s of one `extract_window` (API 2.0; 1.0), {s['volume_per_endpoint_hour']:,} records",
            f"{v2['records_per_s_cpu']:,}; {v1['records_per_s_cpu']:,}",
            f"plain client, same pages: {raw['records_per_s_cpu']:,}",
            f"{v2['ratio_to_raw_cpu']}; {v1['ratio_to_raw_cpu']}", "client CPU"]


def _row_transform(s: dict) -> list[str]:
    return ["transform", f"records/s of parse + rules, {s['records']:,} records",
            f"{s['transform']['records_per_second']:,}",
            f"`json.loads` alone: {s['floor']['records_per_second']:,}", f"{s['ratio_transform_to_floor']}", "CPU"]


def _row_dag_window(s: dict) -> list[str]:
    run, floor = s["dags_test"], s["floor"]
    steps = "; ".join(f"{step} {v['ratio']} ({v['ratio_to_json_io']} of `json`)" for step, v in s["steps"].items())
    return ["dag_window", f"one hourly window, {s['records_fetched']:,} records: the 15 endpoint tasks (whole run),"
            " peak RSS; middle steps",
            f"{run['pipeline_task_seconds']} s ({run['seconds']} s), {run['peak_rss_tree_mb']} MB",
            f"plain client {floor['seconds']} s + `executemany` {s['store_floor']['seconds']} s; each step's own"
            " file I/O", f"{s['ratio_pipeline_tasks_to_window_floor']}; {steps}", "wall"]


def _row_window_memory(s: dict) -> list[str]:
    return ["window_memory", f"peak RSS of each {s['endpoint']} task, 24-hour window against 1-hour, "
            f"{s['volume_per_endpoint_hour']:,}/hour", f"largest ratio {s['largest_ratio']}"
            f" ({'flat' if s['flat'] else 'NOT flat'})", "the 1-hour window's peak, same step",
            f"{s['largest_ratio']}", "RSS"]


def _row_load(s: dict) -> list[str]:
    sq, pg = s["sqlite"], s["postgresql"]
    return ["load", f"`load_window` of {s['alerts']:,} alerts, SQLite; PostgreSQL (seconds)",
            f"{sq['load']['wall_s']}; {pg['load']['wall_s']}",
            f"`executemany`: {sq['floor_executemany']['wall_s']}; `COPY`: {pg['floor_copy']['wall_s']}",
            f"{sq['ratio_wall']}; {pg['ratio_wall']} (floor / load)", "wall"]


def _row_backfill(s: dict) -> list[str]:
    return ["backfill", f"`airflow backfill create`, {s['days']} days on the daily DAG, rate limit on: seconds",
            f"{s['seconds']} ({s['api_calls']} calls, {s['answered_429']} 429s)",
            f"{s['pages']} pages at {s['rate_limit_per_minute']}/min: {s['floor_seconds']}",
            f"{s['ratio_to_floor']}", "wall"]


ROWS = {"simulator": _row_simulator, "extract": _row_extract, "transform": _row_transform,
        "dag_window": _row_dag_window, "window_memory": _row_window_memory, "load": _row_load,
        "backfill": _row_backfill}


def summary_table(summaries: dict[str, dict]) -> str:
    lines = ["| benchmark | measures | result | floor (same run) | ratio to floor | clock |",
             "|---|---|---:|---|---:|---|"]
    for name, summary in summaries.items():
        lines.append("| " + " | ".join(ROWS[name](summary)) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only these benchmarks")
    parser.add_argument("--records", type=int, default=1_000_000, help="transform: records (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each this many times and keep the best")
    parser.add_argument("--no-profile", action="store_true", help="transform: skip the cProfile pass")
    parser.add_argument("--volume", type=int, default=50_000,
                        help="simulator, extract, dag_window: records per endpoint per hour (default 50,000)")
    parser.add_argument("--page-size", type=int, default=500, help="records per page (default 500)")
    parser.add_argument("--alerts", type=int, default=50_000, help="load: alerts in the window (default 50,000)")
    parser.add_argument("--days", type=int, default=7, help="backfill: days to backfill (default 7)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where to write results")
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be at least 1")
    if args.volume < 1:
        parser.error("--volume must be at least 1")
    names = [name for name in BENCHMARKS if name in (args.only or BENCHMARKS)]
    summaries: dict[str, dict] = {}
    sections = []
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        summaries[name], section = BENCHMARKS[name](args, args.results)
        print(f"bench: {name} done in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
        print(section)
        sections.append(section)
    header = [
        "# Benchmark results",
        "",
        f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}: `bench/run.py` ran {', '.join(names)}. Every floor was measured"
        " in the same run on the same machine (2 cores shared with other work; where CPU time is the clock, it is"
        " the measuring process's own CPU time).",
        "",
        summary_table(summaries),
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "summary.md").write_text("\n".join(header) + "\n" + "\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
