"""The data team's health report: coverage and gaps, freshness, volume, quality, API health, alerts.

``read_frames(store, start, end)`` reads the store into pandas; ``build_report(frames, ...)``
computes the report as plain data; ``render`` turns it into text, JSON or a self-contained HTML
page with charts. Used by ``mimecast-ttp report``, the ``mimecast_ttp_health`` DAG and the report
page in the Airflow UI.
"""

from __future__ import annotations

from mimecast_ttp.report.analysis import Thresholds, build_report, public
from mimecast_ttp.report.frames import read_frames

__all__ = ["Thresholds", "build_report", "public", "read_frames", "report_for_store"]


def report_for_store(store, *, start, end, now, settings) -> dict:
    """The report of ``store`` for ``[start, end)`` with the operator's schedule, thresholds and sources."""
    thresholds = Thresholds(max_lag=settings.max_lag, max_quarantine_rate=settings.max_quarantine_rate)
    return build_report(read_frames(store, start, end), schedule=settings.schedule, start=start, end=end,
                        now=now, thresholds=thresholds, sources=settings.sources)
