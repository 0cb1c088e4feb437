"""The one line each step's task log ends with: what the step did to its window, in numbers.

Read by people in the task logs, and by the tests that check every record is accounted for.
"""

from __future__ import annotations


def _by_value(counts: dict) -> str:
    return f" {counts}" if counts else ""


def step_summary(report: dict, step: str, stats: dict | None = None) -> str:
    """The one line a step's task log ends with: what it did to the window, in numbers."""
    endpoint, window = report["endpoint"], report["window"]
    where = f"{endpoint} [{window['start']}, {window['end']})"
    if report["status"] != "extracted":
        return f"{where}: {step}: not licensed for this tenant (HTTP 403), nothing to do"
    if step == "extract":
        e = report["extract"]
        files = f" and {e['batch_files']} batch file(s)" if "batch_files" in e else ""
        return (f"{where}: extracted {e['pages']} page(s){files}, {e['records']} record(s) ({e['records_in_window']} in the "
                f"request window); {e['rate_limit_waits']} 429 wait(s) ({e['rate_limit_wait_seconds']}s), "
                f"{e.get('pace_waits', 0)} pacing wait(s) ({e.get('pace_wait_seconds', 0.0)}s), "
                f"{e['retries']} retried request(s), {e.get('tokens_minted', 0)} token(s) minted "
                f"({e['token_refreshes']} refresh(es))")
    if step == "validate":
        v = report["validate"]
        return (f"{where}: validated {v['records']} record(s): {v['valid']} valid, {v['quarantined']} quarantined"
                f"{_by_value(v['quarantined_by_reason'])}, {v['outside_window']} outside the window")
    if step == "filter":
        f = report["filter"]
        return (f"{where}: kept {f['kept']}{_by_value(f['kept_by_verdict'])}, dropped {f['clean_dropped']} as "
                f"clean/safe{_by_value(f['dropped_by_verdict'])}")
    if step == "map":
        m = report["map"]
        return (f"{where}: mapped {m['alerts']} alert(s) by threat {m['alerts_by_threat']}; "
                f"unmapped alert types {m['unmapped_alert_types'] or 'none'}")
    s = stats or {}
    return (f"{where}: loaded {s.get('alerts', 0)} alert(s) ({s.get('alerts_new', 0)} new), {s.get('quarantined', 0)} "
            f"quarantined, of {s.get('records_fetched', 0)} fetched, in {s.get('load_seconds', 0)}s")
