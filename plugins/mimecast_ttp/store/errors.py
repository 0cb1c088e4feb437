"""What the store refuses, and the one conversion every value it is given goes through: UTC.

Callers of the store catch one exception type, :class:`AlertStoreError`, whose message names the
window, the row or the setting. Timestamps are read by :func:`mimecast_ttp.utc.as_utc`, the
package's one reading of a moment (naive = UTC); here its :class:`ValueError` becomes an
:class:`AlertStoreError`, so a bad ``window_start`` or ``event_time`` fails the window the same
way as any other refused value.
"""

from __future__ import annotations

from datetime import datetime

from mimecast_ttp import utc


class AlertStoreError(Exception):
    """The store cannot do what was asked; the message names the window, the row or the setting."""


def as_utc(value: datetime | str, name: str) -> datetime:
    """A timestamp (datetime or ISO 8601 string) as a plain aware UTC datetime.

    Naive values are taken as UTC, as everywhere in this package (the API speaks UTC).
    """
    try:
        return utc.as_utc(value, name)
    except ValueError as err:
        raise AlertStoreError(str(err)) from err
