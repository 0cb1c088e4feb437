"""Which records can be stored faithfully as standard JSON, and the escaped copy of those that cannot.

Python's ``json`` reads more than RFC 8259 allows (``NaN``, ``Infinity``, lone surrogate escapes
such as ``"\\ud83d"``), and the databases refuse some of what JSON does allow (PostgreSQL takes no
NUL character in a string). A record carrying any of these would fail its whole window at the
first write that meets it, on every retry. So the rule (alert-rules.md §1) is one and the same
everywhere (the DAG on SQLite and PostgreSQL, and ``mimecast-ttp transform``): such a record is
**quarantined** with the reason ``unstorable:<what>``, and its stored copy is its JSON text as a
JSON string (ASCII-escaped, ``NaN`` kept as the token Python writes), which any JSON reader
stores and ``json.loads(json.loads(stored))`` turns back into the record as received.

Reasons: ``unstorable:nan`` (NaN or ±Infinity anywhere), ``unstorable:lone_surrogate`` (a string
with half a surrogate pair), ``unstorable:nul`` (a NUL character in a string or a key),
``unstorable:too_deep`` (nested deeper than the encoder's recursion limit allows).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from mimecast_ttp.json_lines import fast_encode, nulls_accounted_for

UNSTORABLE_NAN = "unstorable:nan"
UNSTORABLE_LONE_SURROGATE = "unstorable:lone_surrogate"
UNSTORABLE_NUL = "unstorable:nul"
UNSTORABLE_TOO_DEEP = "unstorable:too_deep"

_strict_encode = json.JSONEncoder(allow_nan=False, ensure_ascii=False, check_circular=False,
                                  separators=(",", ":")).encode
_escaped_encode = json.JSONEncoder(allow_nan=True, ensure_ascii=True, check_circular=False,
                                   separators=(",", ":")).encode


def unstorable_reason(value: Any) -> str | None:
    """``unstorable:<what>`` when ``value`` cannot be stored faithfully as standard JSON, else ``None``.

    One msgspec pass for the common case: text it could write whose every ``null`` is a top-level
    ``None`` (so no NaN) and that shows no NUL escape is storable. Anything else is judged by the
    standard encoder's strict pass; only a text that shows a NUL escape is looked at again.
    """
    try:
        encoded = fast_encode(value)
    except (TypeError, ValueError, OverflowError, RecursionError):  # lone surrogates, deep nesting, ...
        pass
    else:
        if b"\\u0000" not in encoded and nulls_accounted_for(encoded, value):
            return None
    try:
        text = _strict_encode(value)
    except ValueError:  # "Out of range float values are not JSON compliant"
        return UNSTORABLE_NAN
    except RecursionError:
        return UNSTORABLE_TOO_DEEP
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return UNSTORABLE_LONE_SURROGATE
    if "\\u0000" in text and _has_nul(value):  # the escape may also be six literal characters
        return UNSTORABLE_NUL
    return None


def _has_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is str:
            if "\x00" in item:
                return True
        elif type(item) is dict:
            pending.extend(item.keys())
            pending.extend(item.values())
        elif type(item) is list:
            pending.extend(item)
    return False


def escaped_copy(value: Any) -> str:
    """``value`` as JSON text in pure ASCII (NaN as ``NaN``): a string any JSON store takes as it is.

    ``json.loads(escaped_copy(v))`` gives ``v`` back (NaN compares unequal to itself, as always).
    A value nested deeper than the recursion limit is encoded with the limit raised for the call.
    """
    try:
        return _escaped_encode(value)
    except RecursionError:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + _depth(value) + 100)
        try:
            return _escaped_encode(value)
        finally:
            sys.setrecursionlimit(limit)


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if type(item) is dict:
            pending.extend((child, depth + 1) for child in item.values())
        elif type(item) is list:
            pending.extend((child, depth + 1) for child in item)
    return deepest


def quarantine_item(reason: str, record: Any) -> dict[str, Any]:
    """The quarantine entry ``{"reason", "record"}``; an unstorable record travels as its escaped copy."""
    if reason.startswith("unstorable:"):
        return {"reason": reason, "record": escaped_copy(record)}
    return {"reason": reason, "record": record}
