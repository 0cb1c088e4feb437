"""``mimecast-ttp report`` over windows the real DAG loaded, one hour left out, then backfilled."""

from __future__ import annotations

import json
import re
from argparse import Namespace
from datetime import timedelta

import sqlalchemy as sa

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from tests.dags.test_mimecast_ttp_alerts import HOUR, WINDOW_END, run_dag

FIRST = WINDOW_END - 3 * HOUR  # windows [09:00, 10:00), [10:00, 11:00), [11:00, 12:00) of 2026-11-26
LEFT_OUT = FIRST + HOUR


def _report(capsys, alerts_db, *extra: str) -> tuple[int, str]:
    from mimecast_ttp.commands import report

    args = dict(start=FIRST.isoformat(), end=(FIRST + 3 * HOUR).isoformat(), format="json", out=None,
                check=False, db=alerts_db)
    for flag in extra:
        key, _, value = flag.partition("=")
        args[key] = value if value else True
    capsys.readouterr()  # what the DAG runs printed
    code = report.run(Namespace(**args), now=WINDOW_END + timedelta(minutes=10))
    return code, capsys.readouterr().out


def test_a_missing_hour_is_a_gap_with_its_backfill_and_checks_pass_once_it_is_loaded(
        dag, simulator_factory, mimecast_connection, alerts_db, capsys, tmp_path):
    mimecast_connection(simulator_factory(seed=4, volume=60))
    for end in (FIRST + HOUR, FIRST + 3 * HOUR):
        run_dag(dag, logical_date=end)  # the hour [10:00, 11:00) is not run

    code, out = _report(capsys, alerts_db)
    report = json.loads(out)
    assert code == 0 and set(report["endpoints"]) == set(ENDPOINT_KEYS)
    engine = sa.create_engine(alerts_db)
    with engine.connect() as conn:
        stored = {endpoint: n for endpoint, n in conn.execute(sa.text("SELECT endpoint, count(*) FROM mimecast_alerts WHERE event_time >= :a "
                                           "AND event_time < :b GROUP BY endpoint"),
                                   {"a": f"{FIRST:%Y-%m-%d %H:%M:%S}", "b": f"{FIRST + 3 * HOUR:%Y-%m-%d %H:%M:%S}"})}
    engine.dispose()
    for endpoint in ENDPOINT_KEYS:
        e = report["endpoints"][endpoint]
        assert (e["windows_expected"], e["windows_loaded"], e["windows_missing"]) == (3, 2, 1)
        assert e["gaps"] == [["2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z"]]
        [gap] = e["gap_details"]
        assert (gap["start"], gap["end"], gap["windows"]) == ("2026-11-26T10:00:00Z", "2026-11-26T11:00:00Z", 1)
        assert gap["backfill"] == ("airflow backfill create --dag-id mimecast_ttp_alerts --from-date "
                                   "2026-11-26T10:00:00 --to-date 2026-11-26T10:00:00 --reprocess-behavior failed")
        assert e["alerts"] == stored[endpoint] > 0
        assert e["newest_event_time"] > "2026-11-26T11:50:00Z" and 0 < e["lag_seconds"] < 1200
    assert {c["name"]: c["status"] for c in report["checks"]}["coverage"] == "fail"
    assert _report(capsys, alerts_db, "check")[0] == 1

    page = tmp_path / "report.html"
    assert _report(capsys, alerts_db, f"out={page}", "format=html")[0] == 0
    html = page.read_text()
    assert html.count("<svg") >= 3
    assert re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//|<link|@import|<script", html) == []  # self-contained
    assert "--from-date 2026-11-26T10:00:00" in html

    run_dag(dag, logical_date=LEFT_OUT + HOUR)  # what the backfill command runs
    code, out = _report(capsys, alerts_db, "check")
    assert code == 0, [c for c in json.loads(out)["checks"] if c["status"] == "fail"]
    assert all(json.loads(out)["endpoints"][e]["gaps"] == [] for e in ENDPOINT_KEYS)


def test_a_store_that_does_not_exist_is_an_error_and_is_not_created(tmp_path, capsys):
    from mimecast_ttp import cli

    missing = tmp_path / "nowhere" / "alerts.db"
    assert cli.main(["report", "--db", f"sqlite:///{missing}"]) == 2
    assert f"no alert store at {missing}" in capsys.readouterr().err
    assert not missing.exists()
