"""Staging housekeeping: windows past their retention go, recent ones and foreign folders stay.

The steps themselves (validate → filter → map → load over staged files) are exercised end to end
by tests/dags/test_mimecast_ttp_alerts.py against the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mimecast_ttp.pipeline import remove_expired_staging

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_only_expired_windows_are_removed(tmp_path):
    old = tmp_path / "url" / "20261110T000000Z_20261110T010000Z"
    recent = tmp_path / "url" / "20261126T000000Z_20261126T010000Z"
    foreign = tmp_path / "attachment" / "notes"
    for folder in (old, recent, foreign):
        (folder / "steps").mkdir(parents=True)
        (folder / "page-000001.json").write_text("{}")

    removed = remove_expired_staging(tmp_path.as_uri(), timedelta(days=7), now=NOW)

    assert [path.rsplit("/", 1)[-1] for path in removed] == [old.name]
    assert not old.exists() and recent.exists() and foreign.exists()


def test_missing_staging_root_is_nothing_to_do(tmp_path):
    assert remove_expired_staging((tmp_path / "never-created").as_uri(), timedelta(days=1), now=NOW) == []
