"""The health checks the ``mimecast_ttp_health`` DAG runs: the report's checks over the last hours.

Plain Python (no Airflow import): the DAG passes its run's time, and a failure comes back as one
message naming every failed check with what fixes it, which the DAG raises so Airflow's failure
notifications and the UI show it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter


def health_period(schedule: str, reference: datetime, hours: float, grace: timedelta) -> tuple[datetime, datetime]:
    """``[start, end)``: the ``hours`` before the last schedule boundary at least ``grace`` before ``reference``.

    The grace keeps the window whose run may still be loading out of the coverage check.
    """
    end = croniter(schedule, reference - grace + timedelta(seconds=1)).get_prev(datetime)
    return end - timedelta(hours=hours), end


def failure_message(report: dict) -> str | None:
    """``None`` when every check passes; else one line per failed check, with its detail."""
    failed = [check for check in report["checks"] if check["status"] == "fail"]
    if not failed:
        return None
    period = report["period"]
    lines = [f"{len(failed)} health check(s) failed for [{period['start']}, {period['end']}):"]
    lines += [f"- {check['name']}: {check['detail']}" for check in failed]
    lines.append(f"Full report: mimecast-ttp report --from {period['start']} --to {period['end']} --out report.html")
    return "\n".join(lines)
