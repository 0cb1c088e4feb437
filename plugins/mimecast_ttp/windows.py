"""Which time window a DAG run extracts: resolved in one place.

Order of precedence, so every kind of run gets the window an operator expects:

1. explicit ``start``/``end`` params (a re-run of a precise range from the UI or the CLI);
2. the run's data interval (scheduled runs and backfills);
3. the last complete schedule interval before ``run_after`` (manual and asset-triggered runs
   in Airflow 3 may carry no logical date, hence no data interval).

The request to Mimecast starts ``overlap`` earlier than the window so late-arriving events are
not missed; alert identity makes the re-read records the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from mimecast_ttp.settings import MAX_OVERLAP_MINUTES
from mimecast_ttp.utc import as_utc


class WindowError(ValueError):
    """The run's window cannot be resolved from what it was given."""


@dataclass(frozen=True)
class Window:
    """A half-open extraction window ``[start, end)`` in UTC, and the wider request start."""

    start: datetime
    end: datetime
    request_start: datetime
    source: str  # "params", "data_interval" or "run_after": how it was resolved, for the logs

    def as_xcom(self) -> dict[str, str]:
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "request_start": _iso(self.request_start),
            "source": self.source,
        }

    @classmethod
    def from_xcom(cls, value: dict[str, str]) -> Window:
        return cls(
            start=parse_utc(value["start"], "start"),
            end=parse_utc(value["end"], "end"),
            request_start=parse_utc(value["request_start"], "request_start"),
            source=value["source"],
        )


def resolve_window(
    *,
    schedule: str,
    overlap: timedelta,
    param_start: str | datetime | None = None,
    param_end: str | datetime | None = None,
    data_interval_start: datetime | None = None,
    data_interval_end: datetime | None = None,
    run_after: datetime | None = None,
    max_length: timedelta | None = None,
    max_overlap: timedelta = timedelta(minutes=MAX_OVERLAP_MINUTES),
) -> Window:
    """Resolve the run's window; see the module docstring for the order.

    Refused with a :class:`WindowError` naming the value, before any API call: an empty or
    reversed window, one longer than ``max_length`` (``MIMECAST_TTP_MAX_WINDOW_DAYS``), an
    overlap that is negative or longer than ``max_overlap``.
    """
    if param_start or param_end:
        if not (param_start and param_end):
            raise WindowError("params 'start' and 'end' go together: give both or neither")
        start, end = parse_utc(param_start, "start"), parse_utc(param_end, "end")
        source = "params"
    elif data_interval_start is not None and data_interval_end is not None and (
        data_interval_end > data_interval_start
    ):
        start, end = _utc(data_interval_start), _utc(data_interval_end)
        source = "data_interval"
    elif run_after is not None:
        # +1 s: a run_after exactly on a boundary closes the interval that ends there.
        end = croniter(schedule, _utc(run_after) + timedelta(seconds=1)).get_prev(datetime)
        start = croniter(schedule, end).get_prev(datetime)
        start, end = _utc(start), _utc(end)
        source = "run_after"
    else:
        raise WindowError("no params, no data interval and no run_after: nothing to resolve a window from")
    if end <= start:
        raise WindowError(f"window end {_iso(end)} is not after its start {_iso(start)}")
    if max_length is not None and end - start > max_length:
        raise WindowError(
            f"window [{_iso(start)}, {_iso(end)}) is {end - start} long, more than the {max_length} "
            f"MIMECAST_TTP_MAX_WINDOW_DAYS allows; backfill a long range as hourly runs instead "
            f"(airflow backfill create), or raise the setting")
    if overlap < timedelta(0):
        raise WindowError(f"overlap {overlap} is negative")
    if overlap > max_overlap:
        raise WindowError(f"overlap {overlap} is longer than {max_overlap}, the most a window re-reads "
                          f"before its start (overlap_minutes up to {MAX_OVERLAP_MINUTES})")
    return Window(start=start, end=end, request_start=start - overlap, source=source)


def parse_utc(value: str | datetime, name: str) -> datetime:
    """An ISO 8601 value as an aware UTC datetime (:func:`mimecast_ttp.utc.as_utc`: naive is UTC)."""
    try:
        return as_utc(value, name)
    except ValueError as err:
        raise WindowError(str(err)) from None


def _utc(value: datetime) -> datetime:
    return as_utc(value, "date")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
