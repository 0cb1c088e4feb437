"""Staging housekeeping: windows staged longer ago than the retention go; the rest stays.

The steps themselves (validate → filter → map → load over staged files) are exercised end to end
by tests/dags/test_mimecast_ttp_alerts.py against the simulator.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from mimecast_ttp.staging_retention import remove_expired_staging
from tests.clocks import at_every_clock

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def stage(root, endpoint: str, window: str, staged_at: datetime | None, *, touched: datetime | None = None):
    """A staged window folder; without ``staged_at`` it has no manifest and last changed at ``touched``."""
    folder = root / endpoint / window
    (folder / "steps").mkdir(parents=True)
    (folder / "page-000001.json").write_text("{}")
    if staged_at is not None:
        (folder / "_manifest.json").write_text(json.dumps({"staged_at": staged_at.isoformat()}))
    else:
        (folder / ".page-000002.json.partial").write_text("{")
    if touched is not None:
        for path in (*folder.rglob("*"), folder):
            os.utime(path, (touched.timestamp(), touched.timestamp()))
    return folder


@at_every_clock
def test_age_counts_from_staging_not_from_the_window(tmp_path, now):
    expired = stage(tmp_path, "url", "20261126T000000Z_20261126T010000Z", now - timedelta(days=7, seconds=1))
    # a backfill of an old window, staged an hour ago: its steps may still be running
    backfilled = stage(tmp_path, "url", "20261001T000000Z_20261001T010000Z", now - timedelta(hours=1))
    at_the_limit = stage(tmp_path, "impersonation", "20261126T000000Z_20261126T010000Z", now - timedelta(days=7))
    in_progress = stage(tmp_path, "attachment", "20261001T000000Z_20261001T010000Z", None,
                        touched=now - timedelta(hours=1))
    # an extraction killed before it could clean up: no manifest, nothing changed for over a week
    abandoned = stage(tmp_path, "attachment", "20261002T000000Z_20261002T010000Z", None,
                      touched=now - timedelta(days=7, seconds=1))
    foreign = tmp_path / "attachment" / "notes.txt"
    foreign.write_text("not a window")
    foreign_folder = stage(tmp_path, "attachment", "not-a-window", None, touched=now - timedelta(days=30))

    removed = remove_expired_staging(tmp_path.as_uri(), timedelta(days=7), now=now)

    assert sorted(path.rsplit("/", 1)[-1] for path in removed) == sorted([expired.name, abandoned.name])
    assert not expired.exists() and not abandoned.exists()
    assert backfilled.exists() and at_the_limit.exists() and in_progress.exists()
    assert foreign.exists() and foreign_folder.exists()


def test_missing_staging_root_is_nothing_to_do(tmp_path):
    assert remove_expired_staging((tmp_path / "never-created").as_uri(), timedelta(days=1), now=NOW) == []
