"""The package's one reading of a moment: an aware UTC ``datetime``.

One rule for naive values, everywhere (windows, the hook, the store, the commands): a datetime or
ISO 8601 text without an offset is taken as UTC, as Airflow takes naive dates in its default time
zone and as the Mimecast API speaks. Values with an offset are converted. Plain Python, no Airflow.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime | str, name: str) -> datetime:
    """``value`` (a datetime or ISO 8601 text, ``Z`` allowed) as a plain aware UTC datetime.

    Raises :class:`ValueError` naming ``name`` when the value is not a moment at all.
    """
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the common case, already normalised: keep the per-row cost low
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name}={value!r} is not an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{name}={value!r} is a {type(value).__name__}, not a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    moment = value.astimezone(UTC)
    if type(moment) is datetime:
        return moment
    # a subclass (pendulum's DateTime) becomes a plain datetime, which database drivers adapt safely
    return datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
                    moment.microsecond, tzinfo=UTC)
