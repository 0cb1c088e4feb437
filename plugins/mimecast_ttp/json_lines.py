"""JSON lines in and out on the hot paths.

Parsing is most of a transform's cost (``make bench``: the whole transform runs at about 2.5× a
``json`` parse when it parses with ``json``, 1.6× with msgspec's C decoder). msgspec refuses a few
things the standard ``json`` module accepts (``NaN``, numbers beyond a float, lone surrogates); for
those the text is read again with ``json``, so what counts as JSON here is exactly what Python's
``json`` accepts, short of nesting deeper than the parser's recursion limit, which is a
``ValueError`` like any other unreadable text.

Writing is msgspec's encoder too, held to ``json``'s strict rule: msgspec writes ``NaN`` and
infinities as ``null``, so a line may keep msgspec's text only when every ``null`` in it is
accounted for by a top-level ``None`` of the object written (:func:`nulls_accounted_for`: a ``NaN``
anywhere adds a ``null`` no top-level ``None`` explains). Any other line (a nested ``null``, the word
in a string, a line msgspec cannot encode) is encoded again by ``json`` with ``allow_nan=False``,
which refuses ``NaN`` rather than writing it (the rules quarantine such records before anything
writes them, see :mod:`mimecast_ttp.rules.storable`). Every staged line is standard JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode
_encoder = msgspec.json.Encoder()
fast_encode = _encoder.encode  # no NaN rule: callers check with nulls_accounted_for
_fast_encode_lines = _encoder.encode_lines
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


def loads_lines(lines: Sequence[bytes]) -> list[Any]:
    """Parse a block of JSON lines (blank ones skipped) in one msgspec call, as :func:`loads` would each.

    The block is read as one JSON array (a line's newline is whitespace between its elements);
    when that fails (a blank line, or a line msgspec refuses), line by line with :func:`loads`.
    """
    try:
        return _decode(b"[" + b",".join(lines) + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return [loads(line) for line in lines if line.strip()]


def top_level_nones(value: Any) -> int:
    """How many values of ``value`` (an object) are ``None``; 0 for anything else.

    ``list.count`` compares by identity first, and nothing JSON holds equals ``None`` but ``None``.
    """
    if type(value) is not dict:
        return 0
    return list(value.values()).count(None)


def nulls_accounted_for(encoded: bytes, value: Any) -> bool:
    """Whether msgspec's text of ``value`` holds no ``null`` beyond ``value``'s top-level ``None`` values.

    Each ``None`` and each ``NaN`` or infinity msgspec met wrote one ``null`` token, so a count equal
    to the top-level ``None`` values proves there was no ``NaN``; a count above it (a nested ``None``,
    the word inside a string, or a ``NaN``) sends the value to the strict encoder.
    """
    nulls = encoded.count(b"null")
    return nulls == 0 or nulls == top_level_nones(value)


def encode_line(value: Any) -> bytes:
    """``value`` as one compact JSON line in UTF-8, the form staged files are written in.

    ``NaN`` and infinities are refused (``ValueError``); so is a lone surrogate, which UTF-8
    cannot hold (``UnicodeEncodeError``, a ``ValueError``).
    """
    try:
        encoded = fast_encode(value)
    except (TypeError, ValueError, OverflowError):
        return (_encode_line(value) + "\n").encode()
    if nulls_accounted_for(encoded, value):
        return encoded + b"\n"
    return (_encode_line(value) + "\n").encode()


def encode_lines(values: Sequence[Any]) -> bytes:
    """Every value of ``values`` as one JSON line each, by the rule of :func:`encode_line`.

    One msgspec call for the whole block when its ``null`` count is what the values' top-level
    ``None`` values explain (the common case); else line by line, so only the doubtful lines pay
    for the strict encoder.
    """
    try:
        block = _fast_encode_lines(values)
    except (TypeError, ValueError, OverflowError):
        block = None
    if block is not None:
        nulls = block.count(b"null")
        if nulls == 0 or nulls == sum(map(top_level_nones, values)):
            return block
    return b"".join(map(encode_line, values))
