"""Benchmark of the record rules: how close the full transform comes to parsing JSON alone.

One million (by default) simulator-shaped records, a realistic mix of the three endpoints built
from the real samples in ``tests/fixtures/mimecast/`` with varied values (clean and malicious,
several url definitions, ``Internal IP``, offsets other than ``+0000``, ``hits`` as text, a few
broken records), are written as JSON lines to a temporary folder. Two measurements, each in a
fresh subprocess so peak memory (``ru_maxrss``) belongs to it alone:

- ``floor``: read the lines and ``json.loads`` each, nothing else;
- ``transform``: read, parse as the product does (:func:`mimecast_ttp.json_lines.loads`: msgspec's
  C decoder, ``json``'s reading as the rule), and :func:`mimecast_ttp.rules.transform_records` a
  chunk of 5,000 records at a time (format check, window, verdict filter, alert type, threat, alert
  id, alert record) as the DAG's steps and ``mimecast-ttp transform`` do;
- ``transform_stdlib_json``: the same with ``json.loads`` parsing, to show what the parser is worth.

The goal (the issue's) is the transform within 2x of the floor, compared in CPU time of the
measuring process (``time.process_time``; wall time is reported too but other processes on a
shared machine inflate it). ``profile`` runs the transform
under cProfile to show where the time goes.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "mimecast"
CHUNK = 5_000
MIX = (("attachment", 0.40), ("url", 0.40), ("impersonation", 0.20))
SAMPLES = {
    "attachment": ("elastic_v2mock_attachment_1.json", "elastic_v2mock_attachment_2.json", "elastic_v1mock_attachment_1.json"),
    "url": ("elastic_v2mock_url_1.json", "elastic_v2mock_url_2.json", "elastic_v1mock_url_1_clean.json"),
    "impersonation": ("elastic_v2mock_impersonation_1.json", "elastic_v2mock_impersonation_2.json"),
}
RECORDS_KEY = {"attachment": "attachmentLogs", "url": "clickLogs", "impersonation": "impersonationLogs"}


# --- data -----------------------------------------------------------------------------------

def _templates() -> dict[str, list[dict]]:
    templates = {}
    for endpoint, names in SAMPLES.items():
        records = []
        for name in names:
            body = json.loads((FIXTURES / name).read_text())
            records.extend(body["data"][0][RECORDS_KEY[endpoint]])
        templates[endpoint] = records
    return templates


def _timestamp(rng: random.Random, base: datetime) -> str:
    moment = base + timedelta(seconds=rng.randrange(86_400 * 30))
    roll = rng.random()
    if roll < 0.90:
        return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")
    if roll < 0.97:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (moment + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S+05:30")


def _vary(endpoint: str, template: dict, rng: random.Random, n: int, base: datetime) -> object:
    record = dict(template)
    user = f"user{rng.randrange(5000)}@demo-int.example.com"
    record["messageId"] = f"<{rng.getrandbits(64):016x}-{n}@hapi.b41.one>"
    if endpoint == "attachment":
        record["date"] = _timestamp(rng, base)
        record["recipientAddress"] = user
        record["fileName"] = f"invoice-{n}.pdf"
        record["fileHash"] = f"{rng.getrandbits(256):064x}"
        roll = rng.random()
        record["result"] = "safe" if roll < 0.70 else "malicious" if roll < 0.95 else rng.choice(
            ["unknown", "timeout", "error", "unsafe", "Clean", " SAFE "])
    elif endpoint == "url":
        record["date"] = _timestamp(rng, base)
        record["userEmailAddress"] = user
        record["url"] = f"https://site{rng.randrange(10_000)}.example.com/path/{n}?q={rng.getrandbits(32):x}"
        record["scanResult"] = "clean" if rng.random() < 0.60 else "malicious"
        record["creationMethod"] = rng.choice(["User Click", "Entry Scan"])
        record["ttpDefinition"] = rng.choice([
            "Default Inbound URL Protect Definition", "Default Internal URL Protect Definition",
            "Inbound URL 'Aggressive'", "", "Default Inbound URL Protect Definition"])
        record["sendingIp"] = rng.choice(["Internal IP", f"34.{rng.randrange(256)}.{rng.randrange(256)}.7"])
        if rng.random() < 0.05:
            record["emailPartsDescription"] = "Body"
    else:
        record["eventTime"] = _timestamp(rng, base)
        record["recipientAddress"] = user
        record["id"] = f"MTOKEN:{rng.getrandbits(128):032x}"
        record["hits"] = rng.choice([1, 1, 2, 3, "2"])
        record["taggedMalicious"] = rng.choice([True, False, "true", "False"])
    roll = rng.random()
    if roll < 0.004:  # the broken records the format check exists for
        broken = rng.randrange(4)
        if broken == 0:
            record.pop("date", None)
            record.pop("eventTime", None)
        elif broken == 1:
            record["date" if endpoint != "impersonation" else "eventTime"] = "2024-13-45 25:61"
        elif broken == 2:
            record["subject"] = 42
        else:
            return "not a record"
    return record


def write_records(folder: Path, total: int, seed: int = 1) -> dict[str, Path]:
    """``total`` records split by :data:`MIX` into one JSON lines file per endpoint."""
    rng = random.Random(seed)
    templates = _templates()
    base = datetime(2024, 11, 1, tzinfo=UTC)
    paths = {}
    remaining = total
    for index, (endpoint, share) in enumerate(MIX):
        count = remaining if index == len(MIX) - 1 else round(total * share)
        remaining -= count
        path = paths[endpoint] = folder / f"{endpoint}.jsonl"
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        with path.open("w") as out:
            batch = []
            for n in range(count):
                batch.append(dumps(_vary(endpoint, rng.choice(templates[endpoint]), rng, n, base)))
                if len(batch) == 10_000:
                    out.write("\n".join(batch) + "\n")
                    batch = []
            if batch:
                out.write("\n".join(batch) + "\n")
    return paths


# --- measurements (each runs in its own process) ---------------------------------------------

def _line_chunks(path: Path) -> Iterator[list[bytes]]:
    with path.open("rb") as lines:
        chunk = []
        for line in lines:
            chunk.append(line)
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def measure_floor(paths: dict[str, Path]) -> dict:
    loads = json.loads
    records = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for path in paths.values():
        for chunk in _line_chunks(path):
            parsed = [loads(line) for line in chunk]
            records += len(parsed)
    return {"records": records, "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started}


def measure_transform(paths: dict[str, Path], loads=None) -> dict:
    from mimecast_ttp.json_lines import loads as product_loads
    from mimecast_ttp.rules import add_counts, load_threat_table, transform_records

    loads = loads or product_loads
    table = load_threat_table()
    totals: dict = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for endpoint, path in paths.items():
        for chunk in _line_chunks(path):
            result = transform_records(endpoint, [loads(line) for line in chunk], table)
            add_counts(totals, result.counts())
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    totals.pop("endpoint", None)
    return {"records": totals["fetched"], "seconds": seconds, "cpu_seconds": cpu_seconds, "counts": totals}


def measure_transform_stdlib_json(paths: dict[str, Path]) -> dict:
    """The transform with the standard library's ``json.loads`` parsing the lines."""
    return measure_transform(paths, loads=json.loads)


MEASUREMENTS = {"floor": measure_floor, "transform": measure_transform,
                "transform_stdlib_json": measure_transform_stdlib_json}


def measure_in_subprocess(name: str, folder: Path) -> dict:
    """Run one measurement in a fresh interpreter; its peak RSS is its own."""
    completed = subprocess.run(
        [sys.executable, __file__, "measure", name, str(folder)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )
    return json.loads(completed.stdout)


# Where the time goes, by the file a function lives in (own time; first match wins).
PROFILE_PARTS = (
    ("JSON parsing (json module)", ("/json/", "<method 'decode' of 'bytes'", "<method 'startswith' of 'bytes'")),
    ("format check (validation, timestamps)", ("rules/validation.py", "rules/timestamps.py", "fromisoformat", "re.Pattern")),
    ("alert record, id, threat (alerts, identity, alert_types)", ("rules/alerts.py", "rules/identity.py", "rules/alert_types.py", "ipaddress", "_hashlib", "hexdigest", "'join' of 'str'")),
    ("the one-pass loop, verdicts, counts (transform)", ("rules/transform.py", "rules/verdicts.py")),
)  # fmt: skip


def profile_transform(paths: dict[str, Path], limit: int = 25) -> tuple[str, dict[str, float]]:
    """cProfile of the transform (parse included): the top functions by own time, and shares by part."""
    profiler = cProfile.Profile()
    profiler.runcall(measure_transform, paths)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(limit)
    parts = dict.fromkeys([name for name, _ in PROFILE_PARTS] + ["other (reading lines, dict.get, len, ...)"], 0.0)
    total = 0.0
    for (filename, _, function), (_, _, own, _, _) in stats.stats.items():
        where = f"{filename}:{function}"
        total += own
        part = next((name for name, marks in PROFILE_PARTS if any(m in where for m in marks)), None)
        parts[part or "other (reading lines, dict.get, len, ...)"] += own
    shares = {name: round(100 * seconds / total, 1) for name, seconds in parts.items()}
    return text.getvalue(), shares


def run(records: int, results_dir: Path, *, profile: bool = True, repeat: int = 1) -> dict:
    """Generate, measure floor and transform (best of ``repeat``), profile; the summary dict."""
    with tempfile.TemporaryDirectory(prefix="mimecast-ttp-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = write_records(folder, records)
        generated = time.perf_counter() - started
        size = sum(p.stat().st_size for p in paths.values())
        best: dict[str, dict] = {}
        for _ in range(repeat):
            for name in MEASUREMENTS:
                measured = measure_in_subprocess(name, folder)
                if name not in best or measured["cpu_seconds"] < best[name]["cpu_seconds"]:
                    best[name] = measured
        profile_text, profile_shares = "", {}
        if profile:
            sample = folder / "profile"
            sample.mkdir()
            sample_paths = write_records(sample, min(records, 200_000), seed=2)
            profile_text, profile_shares = profile_transform(sample_paths)
    floor, transform, with_json = best["floor"], best["transform"], best["transform_stdlib_json"]
    summary = {
        "benchmark": "transform",
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": sys.version.split()[0],
        "records": records,
        "input_bytes": size,
        "generate_seconds": round(generated, 2),
        "repeat": repeat,
        "floor": _rates(floor),
        "transform": _rates(transform),
        "ratio_transform_to_floor": round(transform["cpu_seconds"] / floor["cpu_seconds"], 3),
        "ratio_wall_clock": round(transform["seconds"] / floor["seconds"], 3),
        "transform_stdlib_json": _rates(with_json),
        "ratio_transform_stdlib_json_to_floor": round(with_json["cpu_seconds"] / floor["cpu_seconds"], 3),
        "counts": transform["counts"],
        "profile_percent_of_own_time": profile_shares,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "transform.json").write_text(json.dumps(summary, indent=2) + "\n")
    if profile_text:
        (results_dir / "transform_profile.txt").write_text(profile_text)
    return summary


def _rates(measured: dict) -> dict:
    return {
        "seconds": round(measured["seconds"], 3),
        "cpu_seconds": round(measured["cpu_seconds"], 3),
        "records_per_second": round(measured["records"] / measured["cpu_seconds"]),
        "peak_rss_mb": measured["peak_rss_mb"],
    }


def markdown(summary: dict) -> str:
    floor, transform = summary["floor"], summary["transform"]
    counts = summary["counts"]
    return "\n".join([
        "## transform",
        "",
        f"{summary['records']:,} records ({summary['input_bytes'] / 1e6:.0f} MB of JSON lines), Python {summary['python']},"
        f" best of {summary['repeat']}, {summary['when']}.",
        "",
        "| measurement | CPU seconds | wall seconds | records/s (CPU) | peak RSS |",
        "|---|---:|---:|---:|---:|",
        f"| floor: `json.loads` per line | {floor['cpu_seconds']} | {floor['seconds']} | {floor['records_per_second']:,}"
        f" | {floor['peak_rss_mb']} MB |",
        f"| transform as shipped: parse + rules + alert records | {transform['cpu_seconds']} | {transform['seconds']}"
        f" | {transform['records_per_second']:,} | {transform['peak_rss_mb']} MB |",
        f"| the same transform, lines parsed by `json.loads` | {summary['transform_stdlib_json']['cpu_seconds']}"
        f" | {summary['transform_stdlib_json']['seconds']} | {summary['transform_stdlib_json']['records_per_second']:,}"
        f" | {summary['transform_stdlib_json']['peak_rss_mb']} MB |",
        "",
        f"**transform / floor = {summary['ratio_transform_to_floor']}** in CPU time (goal: at most 2;"
        f" wall clock {summary['ratio_wall_clock']}). CPU time is the measure because the machine is shared:"
        " wall time includes other processes' turns.",
        f"Parsing with `json.loads` instead: {summary['ratio_transform_stdlib_json_to_floor']} of the floor.",
        "",
        f"Counts: fetched {counts['fetched']:,}, quarantined {counts['quarantined']:,}, clean dropped"
        f" {counts['clean_dropped']:,}, alerts {counts['alerts']:,}, unmapped {counts['unmapped']:,}.",
        "",
        *_profile_lines(summary.get("profile_percent_of_own_time") or {}),
    ])


def _profile_lines(shares: dict[str, float]) -> list[str]:
    if not shares:
        return []
    return [
        "Where the time goes (cProfile, share of own time; the profiler inflates the cost of Python calls,"
        " so the rules look heavier here than in the timing above; details in `transform_profile.txt`):",
        "",
        *(f"- {name}: {share}%" for name, share in shares.items()),
        "",
    ]


def _peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` on Linux: ``ru_maxrss`` keeps the parent's
    high-water mark across fork and exec, which would charge the data generator to the measurement."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _measure_main(name: str, folder: str) -> None:
    paths = {endpoint: Path(folder) / f"{endpoint}.jsonl" for endpoint, _ in MIX}
    measured = MEASUREMENTS[name](paths)
    measured["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(measured))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "measure":
        _measure_main(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"usage: {sys.argv[0]} measure {{floor,transform}} FOLDER (called by bench/run.py)")
