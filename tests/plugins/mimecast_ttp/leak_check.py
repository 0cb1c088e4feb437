"""What the hook, extract and fetch tests share: the simulator's secrets, and how to look for them."""

from __future__ import annotations

import json
from pathlib import Path

from mimecast_ttp.simulator.credentials import DEMO_APP_KEY, DEMO_CLIENT_SECRET, DEMO_SECRET_KEY

SECRETS = (DEMO_CLIENT_SECRET, DEMO_SECRET_KEY, DEMO_APP_KEY)


def assert_no_secret(*texts: str | bytes, extra: tuple[str, ...] = ()) -> None:
    for secret in (*SECRETS, *extra):
        for text in texts:
            assert (secret.encode() if isinstance(text, bytes) else secret) not in text


def staged_bytes(root: Path) -> list[bytes]:
    return [path.read_bytes() for path in root.rglob("*") if path.is_file()]


def canonical(records) -> list[str]:
    """Records as a sorted list of canonical JSON: equal lists mean no loss and no duplicate."""
    return sorted(json.dumps(r, sort_keys=True) for r in records)
