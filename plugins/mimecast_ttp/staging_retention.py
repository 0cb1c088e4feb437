"""Housekeeping of the staging area: endpoint-window folders past their retention are deleted.

The ``remove_expired_staging`` task runs beside every alerts DAG run; what it removes is only
what the pipeline staged (``{staging_url}/{source}/{start}_{end}/``), never anything else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mimecast_ttp.json_lines import loads

WINDOW_FOLDER = re.compile(r"\d{8}T\d{6}Z_\d{8}T\d{6}Z")  # {start}_{end}, as window_staging_url names it


def _staging_path(url: str):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def remove_expired_staging(staging_url: str, retention: timedelta, now: datetime | None = None) -> list[str]:
    """Delete endpoint-window folders staged more than ``retention`` ago.

    Age counts from when the window was staged (``staged_at`` in its ``_manifest.json``), not from
    the window's own dates: a backfill of last month must keep its pages while its steps run. A
    window folder without a manifest is an extraction in progress, or one that died before it
    could clean up (a killed worker): it goes once nothing in it has changed for ``retention``.
    Anything that is not a window folder is not ours and is left alone.
    """
    now = now or datetime.now(UTC)
    root = _staging_path(staging_url)
    removed: list[str] = []
    if not root.exists():
        return removed
    for endpoint_dir in root.iterdir():
        if not endpoint_dir.is_dir():
            continue
        for window_dir in endpoint_dir.iterdir():
            if not WINDOW_FOLDER.fullmatch(window_dir.name) or not window_dir.is_dir():
                continue
            manifest = window_dir / "_manifest.json"
            try:
                staged_at = datetime.fromisoformat(loads(manifest.read_bytes())["staged_at"])
            except FileNotFoundError:
                staged_at = _last_change(window_dir)
            except (NotADirectoryError, KeyError, TypeError, ValueError):
                continue
            if staged_at is not None and now - staged_at > retention:
                window_dir.rmdir(recursive=True)
                removed.append(str(window_dir))
    return removed


def _last_change(folder) -> datetime | None:
    """When anything in a staged window folder last changed, or ``None`` if the store cannot say."""
    try:
        moments = [folder.stat().st_mtime]
        for child in folder.iterdir():
            moments.append(child.stat().st_mtime)
            if child.is_dir():
                moments.extend(grandchild.stat().st_mtime for grandchild in child.iterdir())
    except (OSError, AttributeError, KeyError, TypeError):
        return None
    known = [moment for moment in moments if moment]
    return datetime.fromtimestamp(max(known), UTC) if known else None
