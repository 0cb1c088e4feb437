"""Hostile variants of real records, as raw JSON text: what an attacker (or a broken feed) can send.

Each variant starts from a record the simulator really serves and changes one thing at the JSON
text level, because most of these cannot be written by ``json.dumps`` with its defaults off: a
lone surrogate escape, a NUL, ``NaN``, a key that makes a record look like an envelope, a
malformed record stamped exactly at the window's ``to``. ``HOSTILE[endpoint]`` lists
``(name, json_text, expected)``, ``expected`` being the reason it must be quarantined with, or
``"outside_window"``, or ``"alert"``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mimecast_ttp.endpoints import get_endpoint


def _with(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**record, **changes}


def hostile_variants(endpoint: str, good: dict[str, Any], window_end: datetime) -> list[tuple[str, str, str]]:
    """Variants of the real record ``good`` of ``endpoint`` (a record the rules make an alert of)."""
    time_field = get_endpoint(endpoint).time_field
    stamp = window_end.strftime("%Y-%m-%dT%H:%M:%S+0000")
    ident = {"attachment": "messageId", "impersonation": "id", "url": "messageId"}[endpoint]
    required = {"attachment": "recipientAddress", "impersonation": "recipientAddress", "url": "userEmailAddress"}[endpoint]

    def text(name: str, **changes: Any) -> str:
        return json.dumps(_with(good, **{ident: f"<hostile-{name}@example>"}, **changes))

    lone = text("surrogate", subject="SURROGATE broken emoji").replace("SURROGATE", "\\ud83d")
    nul = text("nul", subject="NUL in the subject").replace("NUL in", "\\u0000 in")
    nan = text("nan", hits=0).replace('"hits": 0', '"hits": NaN')
    infinity = text("infinity", hits=0).replace('"hits": 0', '"hits": -Infinity')
    nul_key = text("nul-key", extraField="x").replace('"extraField"', '"extra\\u0000Field"')
    literal = text("literal-escape", subject="a backslash then u0000: \\u0000 is six characters")
    return [
        ("lone surrogate in the subject", lone, "unstorable:lone_surrogate"),
        ("NUL in the subject", nul, "unstorable:nul"),
        ("NaN in a field", nan, "unstorable:nan"),
        ("-Infinity in a field", infinity, "unstorable:nan"),
        ("NUL in a key", nul_key, "unstorable:nul"),
        ("the text \\u0000 (six characters)", literal, "alert"),
        ("a key named data", text("data-key", data=[{"x": 1}]), "alert"),
        ("keys named meta, data and fail", text("envelope-keys", meta=1, data=[], fail=[]), "alert"),
        ("malformed, stamped at the window's end",
         json.dumps({k: v for k, v in _with(good, **{time_field: stamp}).items() if k != required}),
         "outside_window"),
        ("a huge string", text("huge", subject="x" * 1_000_000), "alert"),
    ]
