"""How fast the simulator serves records: it must never be the bottleneck of an end-to-end run.

Measures, against ``mimecast-ttp simulate`` in its own process (so client and server do not share
a GIL), with the rate limit off:
- generating one endpoint-hour of ``--volume`` records (in this process, cold cache);
- paging one endpoint's hour to the end, cold (generation included) and warm (cached);
- paging all three endpoints' hour at once, one thread each.
Writes ``bench/results/simulator.json``. Run: ``.venv/bin/python bench/simulator_throughput.py``.
``run(...)`` and ``markdown(...)`` follow ``bench/run.py``'s benchmark shape.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.simulator.client import ReferenceClient
from mimecast_ttp.simulator.data import generate_hour

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HOUR = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _start_server(volume: int, seed: int) -> tuple[subprocess.Popen, str]:
    command = [str(Path(sys.executable).with_name("mimecast-ttp")), "simulate", "--port", "0", "--rate-limit", "0",
               "--volume", str(volume), "--seed", str(seed), "--page-size-max", "5000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, line.split()[-1]


def _page_hour(url: str, endpoint: str, hour: datetime, page_size: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    records, pages = ReferenceClient(url, timeout=120).fetch_all(
        endpoint, hour, hour + timedelta(hours=1) - timedelta(seconds=1), page_size=page_size)
    return len(records), pages, time.perf_counter() - started


def run(volume: int = 50_000, page_size: int = 500, seed: int = 1) -> dict:
    summary: dict = {"volume_per_endpoint_hour": volume, "page_size": page_size, "seed": seed,
                     "python": platform.python_version(), "cpus": os.cpu_count(),
                     "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    generation = {}
    for endpoint in ENDPOINT_KEYS:
        started = time.perf_counter()
        generate_hour(seed, endpoint, int(HOUR.timestamp()) - 86400, volume, 0.02)
        generation[endpoint] = round(time.perf_counter() - started, 3)
    summary["generate_one_hour_seconds"] = generation

    process, url = _start_server(volume, seed)
    try:
        count, pages, cold = _page_hour(url, "url", HOUR, page_size)
        _, _, warm = _page_hour(url, "url", HOUR, page_size)
        summary["one_endpoint"] = {"endpoint": "url", "records": count, "pages": pages,
                                   "cold_seconds": round(cold, 3), "cold_records_per_s": round(count / cold),
                                   "warm_seconds": round(warm, 3), "warm_records_per_s": round(count / warm)}
        hour = HOUR + timedelta(hours=1)  # a fresh hour: cold for all three
        for label in ("cold", "warm"):
            started = time.perf_counter()
            with ThreadPoolExecutor(3) as pool:
                results = list(pool.map(lambda e: _page_hour(url, e, hour, page_size), ENDPOINT_KEYS))
            elapsed = time.perf_counter() - started
            total = sum(r[0] for r in results)
            summary[f"three_endpoints_parallel_{label}"] = {
                "records": total, "pages": sum(r[1] for r in results), "seconds": round(elapsed, 3),
                "records_per_s": round(total / elapsed)}
    finally:
        process.terminate()
        process.wait(10)
    return summary


def markdown(summary: dict) -> str:
    one = summary["one_endpoint"]
    lines = [f"## Simulator throughput ({summary['volume_per_endpoint_hour']:,} records/endpoint/hour, "
             f"page size {summary['page_size']})", "",
             "| measurement | records | seconds | records/s |", "|---|---|---|---|",
             f"| one endpoint, cold | {one['records']:,} | {one['cold_seconds']} | {one['cold_records_per_s']:,} |",
             f"| one endpoint, warm | {one['records']:,} | {one['warm_seconds']} | {one['warm_records_per_s']:,} |"]
    for label in ("cold", "warm"):
        three = summary[f"three_endpoints_parallel_{label}"]
        lines.append(f"| three endpoints in parallel, {label} | {three['records']:,} | {three['seconds']} | "
                     f"{three['records_per_s']:,} |")
    generation = ", ".join(f"{k} {v} s" for k, v in summary["generate_one_hour_seconds"].items())
    lines += ["", f"Generating one endpoint-hour: {generation}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=50_000, help="records per endpoint per hour (default 50,000)")
    parser.add_argument("--page-size", type=int, default=500, help="records per page (default 500)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    summary = run(args.volume, args.page_size)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "simulator.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
