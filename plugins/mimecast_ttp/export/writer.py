"""Write exported alerts: one file per endpoint and UTC hour, each rebuilt whole and swapped in.

For every hour asked for, the hour's alerts are read from the store (:mod:`.reading`) and written
to a hidden temporary file beside the final one, which then replaces it (a rename on a local
disk; copy-and-delete on object storage); an hour that has no alert (any more) loses its file. So
an export is idempotent: the same period exported twice gives the same files, an overlapping
period replaces the hours they share, and a failed export leaves every earlier file as it was.

Formats (:data:`~mimecast_ttp.export.layout.FORMATS`):

- ``parquet``: every ``mimecast_alerts`` column but ``endpoint`` (a partition folder, as is
  ``event_date``), timestamps as ``timestamp[us, UTC]``, JSON columns (``raw``) as JSON text;
  rows ordered by ``event_time``, ``alert_id``. Needs pyarrow.
- ``ocsf``: one OCSF Detection Finding per line (:func:`mimecast_ttp.export.ocsf.map_alert`),
  same order; with ``validate=True`` each is checked against the shipped JSON Schema first.

The target is any fsspec filesystem and a root path in it (:class:`ExportTarget`): a folder,
``memory://``, ``s3://``...; the DAG builds it from an ``ObjectStoragePath`` so Airflow
connections supply the credentials.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby, islice
from typing import Any, BinaryIO

from mimecast_ttp.export.layout import (
    FORMATS,
    HOUR,
    TEMP_PREFIX,
    contiguous_runs,
    file_name,
    hour_floor,
    hours_covering,
    iso,
    partition_dir,
    relative_path,
)
from mimecast_ttp.export.reading import alert_rows
from mimecast_ttp.store import AlertStore, alerts_table

PARTITION_COLUMNS = ("event_date", "endpoint")
BATCH_ROWS = 10_000  # rows per Parquet write: bounded memory for any hour's size


class ExportError(Exception):
    """An export could not be done; the message names the file or alert. Earlier files are unchanged."""


@dataclass(frozen=True)
class ExportTarget:
    """Where an export goes: an fsspec filesystem and the root path in it."""

    fs: Any
    root: str
    url: str  # as given, for messages

    @classmethod
    def from_url(cls, url: str) -> ExportTarget:
        """A folder path or fsspec URL (``file://``, ``memory://``, ``s3://bucket/prefix``...)."""
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as err:
            raise ExportError(f"cannot write to {url!r}: {err}") from None
        return cls(fs, root.rstrip("/") or "/", url)

    @classmethod
    def from_object_storage(cls, path: Any) -> ExportTarget:
        """An ``airflow.sdk.ObjectStoragePath`` (its connection's credentials come with its ``fs``)."""
        return cls(path.fs, str(path.path).rstrip("/") or "/", str(path))

    def join(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative}"


@dataclass
class ExportResult:
    """What one export of one format did."""

    fmt: str
    url: str
    alerts: int = 0
    hours: int = 0
    files_written: int = 0
    files_removed: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    period: tuple[datetime, datetime] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.fmt, "url": self.url, "alerts": self.alerts, "hours": self.hours,
            "files_written": self.files_written, "files_removed": self.files_removed,
            "by_endpoint": dict(self.by_endpoint),
            "period": [iso(self.period[0]), iso(self.period[1])] if self.period else None,
        }  # fmt: skip

    def summary(self) -> str:
        period = f"[{iso(self.period[0])}, {iso(self.period[1])})" if self.period else "nothing"
        return (f"{self.fmt}: {self.alerts} alert(s) of {self.hours} hour(s) in {period} to {self.url}: "
                f"{self.files_written} file(s) written, {self.files_removed} removed")


def export_hours(
    store: AlertStore,
    target: ExportTarget,
    fmt: str,
    hours_by_endpoint: Mapping[str, Iterable[datetime]],
    *,
    validate: bool = False,
    mapping: Any = None,
) -> ExportResult:
    """Rebuild the files of these endpoint-hours from the store, in format ``fmt``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    write = _parquet_writer() if fmt == "parquet" else _ocsf_writer(validate, mapping)
    result = ExportResult(fmt, target.url)
    existing = _ExistingFiles(target, fmt)
    for endpoint in sorted(hours_by_endpoint):
        hours = {hour_floor(hour) for hour in hours_by_endpoint[endpoint]}
        if not hours:
            continue
        result.hours += len(hours)
        first, last = min(hours), max(hours) + HOUR
        result.period = (min(first, result.period[0]), max(last, result.period[1])) if result.period else (first, last)
        for run_start, run_end in contiguous_runs(hours):
            pending = set(hours_covering(run_start, run_end))
            rows = alert_rows(store, endpoint, run_start, run_end)
            for hour, group in groupby(rows, key=lambda row: hour_floor(row["event_time"])):
                count = _replace(target, relative_path(endpoint, hour, fmt), lambda out, g=group: write(out, g))
                result.alerts += count
                result.by_endpoint[endpoint] = result.by_endpoint.get(endpoint, 0) + count
                result.files_written += 1
                pending.discard(hour)
            for hour in sorted(pending):  # no alert in that hour: no file either
                if existing.has(endpoint, hour):
                    target.fs.rm(target.join(relative_path(endpoint, hour, fmt)))
                    result.files_removed += 1
    return result


def export_period(
    store: AlertStore,
    target: ExportTarget,
    fmt: str,
    start: datetime,
    end: datetime,
    endpoints: Iterable[str],
    **options: Any,
) -> ExportResult:
    """Export ``[start, end)``, widened to whole UTC hours, for each of ``endpoints``."""
    hours = hours_covering(start, end)
    return export_hours(store, target, fmt, {endpoint: hours for endpoint in endpoints}, **options)


class _ExistingFiles:
    """Which hour files exist, found by listing only the partition folders there are (a long period
    of a few partitions costs a few listings, not one look-up per hour)."""

    def __init__(self, target: ExportTarget, fmt: str) -> None:
        self.target, self.fmt = target, fmt
        self._dates: set[str] | None = None
        self._names: dict[tuple[str, str], set[str]] = {}

    def _list(self, path: str) -> list[str]:
        try:
            return [str(name).rstrip("/").rsplit("/", 1)[-1] for name in self.target.fs.ls(path, detail=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def has(self, endpoint: str, hour: datetime) -> bool:
        if self._dates is None:
            self._dates = {name for name in self._list(self.target.root) if name.startswith("event_date=")}
        date_dir = partition_dir(endpoint, hour).split("/")[0]
        if date_dir not in self._dates:
            return False
        key = (date_dir, endpoint)
        if key not in self._names:
            self._names[key] = set(self._list(self.target.join(partition_dir(endpoint, hour))))
        return file_name(hour, self.fmt) in self._names[key]


def _replace(target: ExportTarget, relative: str, write: Callable[[BinaryIO], int]) -> int:
    """Write ``relative`` through a hidden temporary file beside it, then move it into place."""
    final = target.join(relative)
    folder, name = final.rsplit("/", 1)
    temporary = f"{folder}/{TEMP_PREFIX}{name}.tmp-{uuid.uuid4().hex}"
    fs = target.fs
    try:
        fs.makedirs(folder, exist_ok=True)
        with fs.open(temporary, "wb") as out:
            count = write(out)
        fs.mv(temporary, final)
    except BaseException as err:
        try:
            if fs.exists(temporary):
                fs.rm(temporary)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        if isinstance(err, ExportError | KeyboardInterrupt | SystemExit):
            raise
        if isinstance(err, OSError):
            raise ExportError(f"cannot write {final} in {target.url}: {err}") from err
        raise
    return count


def arrow_schema():
    """The Parquet schema: the ``mimecast_alerts`` columns, less the partition columns."""
    import pyarrow as pa
    from sqlalchemy import JSON, Float, Integer

    from mimecast_ttp.store import UtcDateTime

    fields = []
    for column in alerts_table.c:
        if column.name in PARTITION_COLUMNS:
            continue
        if isinstance(column.type, UtcDateTime):
            kind = pa.timestamp("us", tz="UTC")
        elif isinstance(column.type, Integer):
            kind = pa.int64()
        elif isinstance(column.type, Float):
            kind = pa.float64()
        else:
            kind = pa.string()
        metadata = {"encoding": "json"} if isinstance(column.type, JSON) else None
        fields.append(pa.field(column.name, kind, nullable=column.nullable, metadata=metadata))
    return pa.schema(fields, metadata={"source": "mimecast_alerts", "partitioning": "event_date,endpoint (hive)"})


def _json_columns() -> tuple[str, ...]:
    from sqlalchemy import JSON

    return tuple(c.name for c in alerts_table.c if isinstance(c.type, JSON))


def _parquet_writer() -> Callable[[BinaryIO, Iterable[dict]], int]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:  # pragma: no cover - pyarrow is in the lock
        raise ExportError(f"the Parquet export needs pyarrow ({err})") from None
    from mimecast_ttp.store.location import json_dumps

    schema = arrow_schema()
    names = schema.names
    json_columns = set(_json_columns())

    def write(out: BinaryIO, rows: Iterable[dict]) -> int:
        count = 0
        with pq.ParquetWriter(out, schema) as writer:
            for chunk in _batches(rows, BATCH_ROWS):
                columns = {name: [json_dumps(row[name]) if name in json_columns and row[name] is not None
                                  else row[name] for row in chunk] for name in names}
                writer.write_table(pa.table(columns, schema=schema))
                count += len(chunk)
        return count

    return write


def _ocsf_writer(validate: bool, mapping: Any) -> Callable[[BinaryIO, Iterable[dict]], int]:
    from mimecast_ttp.export.ocsf import default_ocsf_mapping, map_alert, validation_errors

    mapping = mapping or default_ocsf_mapping()

    def write(out: BinaryIO, rows: Iterable[dict]) -> int:
        count = 0
        for row in rows:
            event = map_alert(row, mapping)
            if validate:
                errors = validation_errors(event)
                if errors:
                    raise ExportError(f"alert {row['alert_id']} ({row['endpoint']}) does not validate as an OCSF "
                                      f"Detection Finding: {'; '.join(errors)}")
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
            count += 1
        return count

    return write


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk
