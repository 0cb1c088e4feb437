"""The floors of one DAG window's endpoint tasks, measured on what the run itself staged and loaded.

- :func:`store_floor`: the alerts the window should hold, written the plainest way (plain rows,
  one SQLite ``executemany``, one commit) into a fresh database with the store's tables.
- :func:`step_floors`: for each middle step of each endpoint, the reading and writing of that
  step's own files: its input decoded record by record (the staged pages for validate,
  ``valid.jsonl`` for filter, ``kept.jsonl`` for map) and its output rows, read beforehand outside
  the timing, encoded and written as one block per file. No rule runs: this is the I/O a step
  cannot avoid, against which the step's task is judged (goal 2x). Two codecs: the standard
  library's ``json`` (the plain way) and msgspec (the fastest there is, which the steps use).
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

# step -> (its inputs, its outputs), inside an endpoint-window's staging folder
STEP_FILES = {
    "validate": (("page-*.json",), ("steps/valid.jsonl", "steps/quarantine.jsonl")),
    "filter": (("steps/valid.jsonl",), ("steps/kept.jsonl",)),
    "map": (("steps/kept.jsonl",), ("steps/alerts.jsonl",)),
}


def store_floor(alerts: list[dict], folder: Path, start: datetime, end: datetime) -> dict:
    """Wall and CPU seconds of the plainest SQLite write of ``alerts`` (tables made untimed)."""
    from load_bench import sqlite_executemany

    from mimecast_ttp.store import AlertStore

    database = folder / "floor.db"
    store = AlertStore.from_url(f"sqlite:///{database}")
    store.ensure_tables()
    store.engine.dispose()
    wall, cpu = time.perf_counter(), time.process_time()
    sqlite_executemany(alerts, database, start, end)
    return {"alerts": len(alerts), "seconds": round(time.perf_counter() - wall, 3),
            "cpu_seconds": round(time.process_time() - cpu, 3)}


def _files(window_dir: Path, patterns: tuple[str, ...]) -> list[Path]:
    return [path for pattern in patterns for path in sorted(window_dir.glob(pattern))]


def _codec(name: str):
    """``(decode, encode_lines)`` of a codec."""
    if name == "json":
        import json

        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        return json.loads, lambda rows: "".join(dumps(row) + "\n" for row in rows).encode()
    import msgspec

    return msgspec.json.Decoder().decode, msgspec.json.Encoder().encode_lines


def _io_seconds(inputs: list[Path], outputs: list[Path], scratch: Path, codec: str) -> float:
    decode, encode_lines = _codec(codec)
    rows = [[decode(line) for line in path.read_bytes().splitlines() if line.strip()] for path in outputs]
    started = time.perf_counter()
    for path in inputs:
        with path.open("rb") as source:
            if path.suffix == ".jsonl":
                for line in source:
                    decode(line)
            else:
                decode(source.read())
    for index, output_rows in enumerate(rows):
        (scratch / f"floor-{index}.jsonl").write_bytes(encode_lines(output_rows))
    return time.perf_counter() - started


def step_floors(staging_root: Path, scratch: Path, codec: str = "msgspec") -> dict[str, dict[str, float]]:
    """``{step: {endpoint: seconds}}`` of the read-and-write floor of every middle step staged."""
    floors: dict[str, dict[str, float]] = {step: {} for step in STEP_FILES}
    for window_dir in sorted(staging_root.glob("*/*")):
        endpoint = window_dir.parent.name
        for step, (inputs, outputs) in STEP_FILES.items():
            floors[step][endpoint] = round(_io_seconds(_files(window_dir, inputs), _files(window_dir, outputs),
                                                       scratch, codec), 3)
    return floors
