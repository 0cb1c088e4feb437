"""What the report says, computed with pandas from :class:`~mimecast_ttp.report.frames.StoreFrames`.

Per endpoint: coverage of the schedule's windows and the gaps (merged, each with the backfill
command that fills it), freshness, volume with anomalies, quality, API health; and the alerts by
day, type, threat and the security view. No Airflow here; the clock and thresholds come in as
arguments, so every figure is a function of the store and what the caller passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from croniter import croniter

from mimecast_ttp.endpoints import ENDPOINT_KEYS

DAG_ID = "mimecast_ttp_alerts"


@dataclass(frozen=True)
class Thresholds:
    max_lag: timedelta = timedelta(minutes=120)  # MIMECAST_TTP_MAX_LAG_MINUTES
    max_quarantine_rate: float = 0.05  # MIMECAST_TTP_MAX_QUARANTINE_RATE
    mad_k: float = 5.0  # a window is anomalous outside the trailing median ± k MAD ...
    trailing_windows: int = 24  # ... of this many windows before it,
    min_history: int = 6  # once at least this many exist


def schedule_windows(schedule: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The schedule's windows ``[window_start, window_end)`` lying wholly inside ``[start, end)``."""
    first = croniter(schedule, start - timedelta(seconds=1)).get_next(datetime)
    moments = [first]
    walker = croniter(schedule, first)
    while moments[-1] < end:
        moments.append(walker.get_next(datetime))
    bounds = pd.to_datetime(pd.Series(moments), utc=True)
    windows = pd.DataFrame({"window_start": bounds.iloc[:-1].to_numpy(), "window_end": bounds.iloc[1:].to_numpy()})
    return windows[windows["window_end"] <= pd.Timestamp(end)].reset_index(drop=True)


def _merged(intervals: pd.DataFrame) -> pd.DataFrame:
    """Overlapping or touching ``[window_start, window_end)`` intervals merged into disjoint ones."""
    if intervals.empty:
        return intervals[["window_start", "window_end"]]
    ordered = intervals.sort_values("window_start")
    reach = ordered["window_end"].cummax()
    group = (ordered["window_start"] > reach.shift()).cumsum()
    return ordered.groupby(group).agg(window_start=("window_start", "min"), window_end=("window_end", "max"))


def _covered(windows: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """Which schedule windows lie wholly inside the union of ``intervals``."""
    merged = _merged(intervals)
    if merged.empty:
        return np.zeros(len(windows), dtype=bool)
    starts, ends = merged["window_start"].to_numpy(), merged["window_end"].to_numpy()
    index = np.searchsorted(starts, windows["window_start"].to_numpy(), side="right") - 1
    inside = index >= 0
    return inside & (ends[np.clip(index, 0, None)] >= windows["window_end"].to_numpy())


def coverage(stats: pd.DataFrame, windows: pd.DataFrame, endpoint: str) -> dict:
    """Loaded, not-licensed and missing schedule windows of one endpoint, and the gaps as ranges."""
    rows = stats[stats["endpoint"] == endpoint]
    loaded = _covered(windows, rows[rows["status"] == "loaded"])
    unlicensed = _covered(windows, rows[rows["status"] == "not_licensed"]) & ~loaded
    failed = _covered(windows, rows[~rows["status"].isin(["loaded", "not_licensed"])]) & ~loaded & ~unlicensed
    missing = ~(loaded | unlicensed)
    frame = windows.assign(missing=missing)
    run = (frame["missing"] != frame["missing"].shift()).cumsum()
    gaps = frame[frame["missing"]].groupby(run[frame["missing"]]).agg(
        start=("window_start", "min"), last_start=("window_start", "max"), end=("window_end", "max"),
        windows=("window_start", "size"))
    return {
        "windows_expected": len(windows),
        "windows_loaded": int(loaded.sum()),
        "windows_not_licensed": int(unlicensed.sum()),
        "windows_failed": int(failed.sum()),
        "windows_missing": int(missing.sum()),
        "gaps": [[_iso(gap.start), _iso(gap.end)] for gap in gaps.itertuples()],  # [start, end) pairs
        "gap_details": [
            {"start": _iso(gap.start), "end": _iso(gap.end), "windows": int(gap.windows),
             "backfill": backfill_command(gap.start, gap.last_start)}
            for gap in gaps.itertuples()
        ],
        "timeline": frame.assign(state=np.select([loaded, unlicensed, failed], ["loaded", "not_licensed", "failed"],
                                                 "missing")),
    }


def backfill_command(first_start: pd.Timestamp, last_start: pd.Timestamp) -> str:
    """The command that loads the windows starting at ``first_start`` .. ``last_start`` (inclusive, UTC)."""
    return (f"airflow backfill create --dag-id {DAG_ID} --from-date {first_start:%Y-%m-%dT%H:%M:%S} "
            f"--to-date {last_start:%Y-%m-%dT%H:%M:%S} --reprocess-behavior failed")


def freshness(stats: pd.DataFrame, alerts: pd.DataFrame, endpoint: str, as_of: pd.Timestamp) -> dict:
    loaded = stats[(stats["endpoint"] == endpoint) & (stats["status"] == "loaded")]
    newest = loaded["newest_event_time"].max()
    delay = (alerts["first_loaded_at"] - alerts["event_time"]).dt.total_seconds()[alerts["endpoint"] == endpoint]
    percentiles = delay.quantile([0.5, 0.9, 0.99]) if len(delay) else pd.Series(dtype=float)
    return {
        "newest_event_time": None if pd.isna(newest) else _iso(newest),
        "lag_seconds": None if pd.isna(newest) else round((as_of - newest).total_seconds(), 1),
        "ingestion_delay_seconds": {f"p{round(q * 100)}": round(float(v), 1) for q, v in percentiles.items()},
    }


def volume(stats: pd.DataFrame, endpoint: str, thresholds: Thresholds) -> pd.DataFrame:
    """Per loaded window: records fetched, alerts, and whether it is an anomaly (and why).

    Judged per hour of window, so hourly runs and the daily backfill DAG's windows compare.
    """
    rows = stats[(stats["endpoint"] == endpoint) & (stats["status"] == "loaded")].sort_values("window_start")
    series = rows.set_index("window_start")[["window_end", "records_fetched", "alerts", "quarantined",
                                             "clean_dropped"]].copy()
    fetched_or_one = series["records_fetched"].where(series["records_fetched"] > 0, 1)
    series["quarantine_rate"] = series["quarantined"] / fetched_or_one
    series["clean_share"] = series["clean_dropped"] / fetched_or_one
    hours = (series["window_end"] - series.index).dt.total_seconds().to_numpy() / 3600
    hours = np.where(hours > 0, hours, 1.0)
    series["records_per_hour"] = series["records_fetched"] / hours
    series["alerts_per_hour"] = series["alerts"] / hours
    fetched = series["records_per_hour"].astype(float)
    trailing = fetched.rolling(thresholds.trailing_windows, min_periods=thresholds.min_history)
    median = trailing.median().shift()
    mad = trailing.apply(lambda values: np.median(np.abs(values - np.median(values))), raw=True).shift()
    spread = np.maximum(thresholds.mad_k * mad, np.maximum(1.0, 0.1 * median))  # a flat history still has room
    series["median"], series["low"], series["high"] = median, median - spread, median + spread
    known = median.notna()
    series["anomaly"] = np.where(known & (fetched == 0) & (median > 0), "zero",
                                 np.where(known & (fetched < series["low"]), "low",
                                          np.where(known & (fetched > series["high"]), "high", "")))
    return series


def quality(stats: pd.DataFrame, endpoint: str) -> dict:
    rows = stats[(stats["endpoint"] == endpoint) & (stats["status"] == "loaded")]
    fetched = int(rows["records_fetched"].sum())
    by_reason = pd.json_normalize(rows["quarantined_by_reason"].tolist()).sum() if len(rows) else pd.Series(dtype=int)
    unmapped = pd.json_normalize(rows["unmapped_alert_types"].tolist()).sum() if len(rows) else pd.Series(dtype=int)
    return {
        "records_fetched": fetched,
        "quarantined": int(rows["quarantined"].sum()),
        "quarantine_rate": round(rows["quarantined"].sum() / fetched, 4) if fetched else 0.0,
        "quarantined_by_reason": {k: int(v) for k, v in by_reason.sort_values(ascending=False).items()},
        "clean_share": round(rows["clean_dropped"].sum() / fetched, 4) if fetched else 0.0,
        "unmapped_alert_types": {k: int(v) for k, v in unmapped.sort_values(ascending=False).items()},
    }


def api_health(stats: pd.DataFrame, endpoint: str) -> dict:
    rows = stats[stats["endpoint"] == endpoint]
    duration = rows["duration_seconds"].dropna()
    return {
        "rate_limit_waits": int(rows["rate_limit_waits"].sum()),
        "rate_limit_wait_seconds": round(float(rows["rate_limit_wait_seconds"].sum()), 1),
        "retries": int(rows["retries"].sum()),
        "token_refreshes": int(rows["token_refreshes"].sum()),
        "tokens_minted": int(rows["tokens_minted"].fillna(0).sum()),
        "pace_waits": int(rows["pace_waits"].fillna(0).sum()),
        "pace_wait_seconds": round(float(rows["pace_wait_seconds"].fillna(0).sum()), 1),
        "duration_seconds_p50": round(float(duration.median()), 2) if len(duration) else None,
        "duration_seconds_max": round(float(duration.max()), 2) if len(duration) else None,
    }


def alert_views(alerts: pd.DataFrame, top: int = 10) -> dict:
    """Alerts per day by type and by threat, and the security view's top lists."""
    day = alerts["event_time"].dt.strftime("%Y-%m-%d")
    threat = alerts["threat_id"] + " " + alerts["threat_name"]
    sender_domain = alerts["sender"].str.extract(r"@([^@>\s]+)>?\s*$", expand=False).str.lower()
    url_domain = alerts["url"].str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)", expand=False)
    file_type = alerts["file_name"].str.extract(r"\.([A-Za-z0-9]{1,10})$", expand=False).str.lower()

    def counts(values: pd.Series) -> dict[str, int]:
        return {str(k): int(v) for k, v in values.dropna().value_counts().head(top).items()}

    return {
        "by_day_and_type": _nested(alerts.groupby([day, alerts["alert_type"]]).size()),
        "by_day_and_threat": _nested(alerts.groupby([day, threat]).size()),
        "top_recipients": counts(alerts["recipient"].str.lower()),
        "top_sender_domains": counts(sender_domain),
        "top_url_domains": counts(url_domain.str.lower()),
        "top_file_types": counts(file_type),
    }


def _nested(counts: pd.Series) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (outer, inner), n in counts.items():
        out.setdefault(str(outer), {})[str(inner)] = int(n)
    return out


def endpoint_report(frames, windows: pd.DataFrame, endpoint: str, as_of: pd.Timestamp,
                    thresholds: Thresholds) -> dict:
    covered = coverage(frames.stats, windows, endpoint)
    series = volume(frames.stats, endpoint, thresholds)
    anomalies = series[series["anomaly"] != ""]
    alerts = frames.alerts[frames.alerts["endpoint"] == endpoint]
    return {
        **{k: v for k, v in covered.items() if k != "timeline"},
        **freshness(frames.stats, frames.alerts, endpoint, as_of),
        "alerts": len(alerts),
        **quality(frames.stats, endpoint),
        "anomalies": [{"window_start": _iso(start), "window_end": _iso(row.window_end),
                       "records_fetched": int(row.records_fetched),
                       "records_per_hour": round(float(row.records_per_hour), 1),
                       "expected_range": [round(float(row.low), 1), round(float(row.high), 1)], "kind": row.anomaly}
                      for start, row in anomalies.iterrows()],
        "api": api_health(frames.stats, endpoint),
        "_timeline": covered["timeline"],
        "_volume": series,
    }


def checks(endpoints: dict[str, dict], thresholds: Thresholds) -> list[dict]:
    """The pass/fail checks, each naming what failed and, where there is one, the command that fixes it."""
    results = []
    gaps: dict[tuple, list[str]] = {}  # one backfill loads every endpoint: a gap they share is one line
    for endpoint, report in endpoints.items():
        for gap in report["gap_details"]:
            gaps.setdefault((gap["start"], gap["end"], gap["windows"], gap["backfill"]), []).append(endpoint)
    results.append({"name": "coverage", "status": "fail" if gaps else "pass", "detail": "; ".join(
        f"{windows} window(s) missing [{start}, {end}) for {', '.join(names)}: run `{backfill}`"
        for (start, end, windows, backfill), names in gaps.items())
        or "every schedule window of the period is loaded (or not licensed)"})
    stale = {endpoint: report["lag_seconds"] for endpoint, report in endpoints.items()
             if report["windows_not_licensed"] < report["windows_expected"]
             and (report["lag_seconds"] is None or report["lag_seconds"] > thresholds.max_lag.total_seconds())}
    results.append({"name": "freshness", "status": "fail" if stale else "pass", "detail": "; ".join(
        f"{endpoint}: " + ("nothing loaded" if lag is None else f"newest event {lag / 60:.0f} min old")
        + f", more than MIMECAST_TTP_MAX_LAG_MINUTES={thresholds.max_lag.total_seconds() / 60:g}; see the DAG's runs"
        for endpoint, lag in stale.items()) or f"every endpoint's newest event is within {thresholds.max_lag}"})
    odd = [(endpoint, a) for endpoint, report in endpoints.items() for a in report["anomalies"]]
    results.append({"name": "volume", "status": "fail" if odd else "pass", "detail": "; ".join(
        f"{endpoint} window [{a['window_start']}, {a['window_end']}): {a['records_fetched']} records fetched "
        f"({a['records_per_hour']:g} an hour), expected {a['expected_range'][0]:g}..{a['expected_range'][1]:g} "
        f"an hour ({a['kind']})" for endpoint, a in odd)
        or "no window outside its trailing median ± k MAD"})
    noisy = {endpoint: report["quarantine_rate"] for endpoint, report in endpoints.items()
             if report["quarantine_rate"] > thresholds.max_quarantine_rate}
    results.append({"name": "quarantine", "status": "fail" if noisy else "pass", "detail": "; ".join(
        f"{endpoint}: {rate:.1%} of records quarantined, above MIMECAST_TTP_MAX_QUARANTINE_RATE="
        f"{thresholds.max_quarantine_rate:g}; look at mimecast_quarantine.reason" for endpoint, rate in noisy.items())
        or f"quarantine rate at most {thresholds.max_quarantine_rate:.0%} everywhere"})
    return results


def build_report(frames, *, schedule: str, start: datetime, end: datetime, now: datetime,
                 thresholds: Thresholds | None = None, sources: tuple[str, ...] = ENDPOINT_KEYS) -> dict:
    """The whole report as plain data (frames for the charts under keys starting with ``_``).

    ``sources``: the chains the DAG runs (``MIMECAST_TTP_SOURCES``); each is expected in every window.
    """
    thresholds = thresholds or Thresholds()
    windows = schedule_windows(schedule, start, end)
    as_of = pd.Timestamp(min(now, end))
    endpoints = {endpoint: endpoint_report(frames, windows, endpoint, as_of, thresholds) for endpoint in sources}
    return {
        "period": {"start": _iso(start), "end": _iso(end), "schedule": schedule, "as_of": _iso(as_of)},
        "endpoints": endpoints,
        "alerts": {"total": len(frames.alerts), **alert_views(frames.alerts)},
        "checks": checks(endpoints, thresholds),
    }


def public(report: dict) -> dict:
    """The report without the frames kept for charts: what ``--format json`` prints."""
    if isinstance(report, dict):
        return {k: public(v) for k, v in report.items() if not str(k).startswith("_")}
    if isinstance(report, list):
        return [public(v) for v in report]
    return report


def _iso(moment) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
