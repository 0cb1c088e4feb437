"""Peak memory of each endpoint task against the window's size: a 1-hour and a 24-hour window.

Every step of one endpoint's chain (extract, validate, filter, map, load) runs as the DAG's task
runs it (the same functions of :mod:`mimecast_ttp.extract` and :mod:`mimecast_ttp.pipeline`, the
real hook against the simulator over loopback, a SQLite alert store), each in a fresh Python
process, so its peak resident memory (``ru_maxrss``) is its own. The same steps run for a window of
1 hour and one of 24 hours at ``--volume`` records per endpoint per hour (50,000 by default: 1.2
million records in the long window). The peak is the process's own ``VmHWM`` (Linux), not
``ru_maxrss``, which Linux carries across ``exec`` from the forking parent (here ``make bench``'s
process, grown by the benchmarks before). Memory is flat when the 24-hour window's peak of every step is
within :data:`FLAT_RATIO` of the 1-hour window's, measured in the same run: steps stream pages and
chunks, so a window's size must show in time, never in memory.

The endpoint is ``impersonation``: nearly every record becomes an alert, so its load is the
heaviest. A run that loads the wrong number of alerts is an error, not a result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_bench import simulator_process  # noqa: E402  (a sibling module, found through the line above)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENDPOINT = "impersonation"
WINDOW_END = datetime(2026, 11, 21, tzinfo=UTC)
STEPS = ("extract", "validate", "filter", "map", "load")
FLAT_RATIO = 1.25  # 24-hour peak / 1-hour peak, per step


def _run_step(step: str, work: Path, hours: int) -> None:
    """One step in this (child) process: reads ``<step before>.json``, writes ``<step>.json``."""
    import logging

    logging.disable(logging.INFO)
    from mimecast_ttp import pipeline
    from mimecast_ttp.windows import Window

    start, end = WINDOW_END - timedelta(hours=hours), WINDOW_END
    window = Window(start=start, end=end, request_start=start, source="params")
    started = time.perf_counter()
    if step == "extract":
        from mimecast_ttp.extract import extract_window
        from mimecast_ttp.hooks.mimecast import MimecastHook

        hook = MimecastHook("mimecast_default", max_pages=100_000)
        manifest = extract_window(hook, ENDPOINT, start, end, (work / "staging").as_uri())
        report = pipeline.extracted_report(manifest, window, datetime.now(UTC))
    else:
        report = json.loads((work / f"{STEPS[STEPS.index(step) - 1]}.json").read_text())
        if step == "validate":
            report = pipeline.validate_step(report)
        elif step == "filter":
            report = pipeline.filter_step(report)
        elif step == "map":
            from mimecast_ttp.paths import include_dir

            report = pipeline.map_step(report, str(include_dir() / "threat_mappings.json"))
        else:
            from mimecast_ttp.store import AlertStore

            store = AlertStore.from_url(f"sqlite:///{work / 'alerts.db'}")
            report = {**report, "load": pipeline.load_step(report, store, "bench")}
            report["load"] = {k: str(v) if isinstance(v, datetime) else v for k, v in report["load"].items()}
    report["bench"] = {"seconds": round(time.perf_counter() - started, 3), "peak_rss_mb": round(_peak_rss_kb() / 1024, 1)}
    (work / f"{step}.json").write_text(json.dumps(report))


def _peak_rss_kb() -> int:
    """This process's own peak resident memory in KiB: ``VmHWM``, else ``ru_maxrss`` (not Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _window(url: str, hours: int, work: Path) -> dict:
    from mimecast_ttp.simulator.credentials import demo_connection

    env = {**os.environ, "AIRFLOW_CONN_MIMECAST_DEFAULT": json.dumps(demo_connection(url)),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "plugins"),
                                          os.environ.get("PYTHONPATH", "")])}
    steps = {}
    for step in STEPS:
        done = subprocess.run([sys.executable, __file__, "--child", step, "--work", str(work), "--hours", str(hours)],
                              env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{step} of the {hours}-hour window failed:\n{done.stderr[-3000:]}")
        steps[step] = json.loads((work / f"{step}.json").read_text())["bench"]
    report = json.loads((work / "load.json").read_text())
    return {"hours": hours, "records": report["validate"]["records"], "alerts": report["map"]["alerts"],
            "alerts_loaded": report["load"]["alerts"], "steps": steps}


def run(volume: int = 50_000, seed: int = 1) -> dict:
    """Both windows through every step; the summary (raises if a window loads the wrong alerts)."""
    windows = []
    with simulator_process(volume, seed) as (url, _pid), tempfile.TemporaryDirectory(prefix="mimecast-mem-") as tmp:
        for hours in (1, 24):
            work = Path(tmp) / f"{hours}h"
            work.mkdir()
            result = _window(url, hours, work)
            if result["alerts_loaded"] != result["alerts"] or result["alerts"] == 0:
                raise RuntimeError(f"the {hours}-hour window loaded {result['alerts_loaded']} of {result['alerts']}")
            windows.append(result)
    short, long = windows
    ratios = {step: round(long["steps"][step]["peak_rss_mb"] / short["steps"][step]["peak_rss_mb"], 3)
              for step in STEPS}
    return {"benchmark": "window_memory", "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endpoint": ENDPOINT, "volume_per_endpoint_hour": volume, "windows": windows,
            "peak_ratio_24h_to_1h": ratios, "largest_ratio": max(ratios.values()), "flat_ratio": FLAT_RATIO,
            "flat": max(ratios.values()) <= FLAT_RATIO}


def markdown(summary: dict) -> str:
    short, long = summary["windows"]
    lines = [
        "## window_memory",
        "",
        f"Each step of the `{summary['endpoint']}` chain in its own process (the DAG's functions, the real hook,"
        f" SQLite store), for a 1-hour and a 24-hour window at {summary['volume_per_endpoint_hour']:,} records per"
        f" hour, {summary['when']}. Flat: every step's 24-hour peak within {summary['flat_ratio']}x its 1-hour peak.",
        "",
        "| step | 1 h: peak RSS MB | 1 h: seconds | 24 h: peak RSS MB | 24 h: seconds | peak 24 h / 1 h |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {step} | {short['steps'][step]['peak_rss_mb']} | {short['steps'][step]['seconds']} |"
          f" {long['steps'][step]['peak_rss_mb']} | {long['steps'][step]['seconds']} |"
          f" {summary['peak_ratio_24h_to_1h'][step]} |" for step in STEPS),
        "",
        f"Records: 1 h {short['records']:,} ({short['alerts']:,} alerts), 24 h {long['records']:,}"
        f" ({long['alerts']:,} alerts), every alert loaded. **Largest ratio {summary['largest_ratio']}:"
        f" {'flat' if summary['flat'] else 'NOT flat'}.**",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=50_000, help="records per endpoint per hour (default 50,000)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--hours", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run_step(args.child, args.work, args.hours)
        return 0
    summary = run(args.volume)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "window_memory.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
