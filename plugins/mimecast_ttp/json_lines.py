"""JSON lines in and out on the hot paths.

Parsing is most of a transform's cost (``make bench``: the whole transform runs at about 2.5× a
``json`` parse when it parses with ``json``, 1.6× with msgspec's C decoder). msgspec refuses a few
things the standard ``json`` module accepts (``NaN``, numbers beyond a float, lone surrogates); for
those the text is read again with ``json``, so what counts as JSON here is exactly what Python's
``json`` accepts, short of nesting deeper than the parser's recursion limit, which is a
``ValueError`` like any other unreadable text. Writing is msgspec's encoder too, held to
``json``'s strict rule: msgspec writes ``NaN`` and infinities as ``null``, so any line with a
``null`` in it (or that msgspec cannot encode) is encoded again by ``json`` with ``allow_nan=False``,
which refuses ``NaN`` rather than writing it (the rules quarantine such records before anything
writes them, see :mod:`mimecast_ttp.rules.storable`). Every staged line is standard JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode
_fast_encode = msgspec.json.Encoder().encode
_encode_line = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class TooDeeplyNested(ValueError):
    """The text nests arrays or objects deeper than the parser's recursion limit."""


def loads(text: str | bytes) -> Any:
    """Parse one JSON document; raises ``ValueError`` when it is not JSON or nests too deeply."""
    try:
        try:
            return _decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return json.loads(text)
    except RecursionError:
        raise TooDeeplyNested(f"JSON nested deeper than the parser takes (about {sys.getrecursionlimit()} "
                              "levels)") from None


def dumps_line(value: Any) -> str:
    """``value`` as compact JSON followed by a newline; ``NaN`` and infinities are refused (``ValueError``)."""
    try:
        encoded = _fast_encode(value)
    except (TypeError, ValueError, OverflowError):  # lone surrogates, huge ints, types JSON lacks
        return _encode_line(value) + "\n"
    if b"null" in encoded:  # a real null, or a NaN msgspec turned into one: json's strict rule decides
        return _encode_line(value) + "\n"
    return encoded.decode() + "\n"
