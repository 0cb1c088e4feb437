"""Deterministic alert identity (alert-rules.md §5, §8).

``alert_id`` is the SHA-256 (hex) of the canonical JSON array ``[endpoint, field1, field2, ...]``
of the endpoint's identity fields: ASCII-escaped, no spaces, a missing or ``null`` field as ``""``.
JSON quoting makes the encoding unambiguous (``("ab", "c")`` and ``("a", "bc")`` differ), and
anyone can recompute an id from a stored raw record. The event time of an ISO 8601 source enters
in its UTC form when it is a valid timestamp, so ``+0000`` and ``Z`` spellings of one event are one
alert; an epoch-millisecond time (rejections) has one spelling and enters as the JSON number
itself, milliseconds kept. An identity *group* (rejections' ``[processingId, aggregateId]``) is one
slot: the first of its fields that is a non-blank string (else the first present value, else
``""``). The same event fetched twice (overlapping windows, a retried page, a re-run, a backfill,
a re-delivered batch file) gets the same id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from hashlib import sha256
from json.encoder import encode_basestring_ascii
from typing import Any

from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec
from mimecast_ttp.rules.windows import readable_time

# (record, event_time in UTC form or None) -> alert id
AlertIdOf = Callable[[dict, str | None], str]


def _json_value(value: Any) -> str:
    if value is None:
        return '""'
    if type(value) is str:
        return encode_basestring_ascii(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _first_of(get: Callable[[str], Any], group: tuple[str, ...]) -> Any:
    """The slot value of an identity group: the first non-blank string, else the first present value."""
    present = None
    for name in group:
        value = get(name)
        if type(value) is str and value and not value.isspace():
            return value
        if present is None:
            present = value
    return present


def build_alert_id_of(rules: EndpointRules) -> AlertIdOf:
    """A fast id function for one endpoint; the hot path quotes strings with the C encoder."""
    prefix = "[" + encode_basestring_ascii(rules.endpoint) + ","
    fields = rules.identity_fields
    substitute_time = rules.time_format == "iso8601" and rules.time_field in fields
    time_index = fields.index(rules.time_field) if substitute_time else -1
    grouped = any(type(name) is tuple for name in fields)
    quote = encode_basestring_ascii

    def alert_id_of(record: dict, event_time: str | None) -> str:
        if grouped:
            get = record.get
            values = [_first_of(get, name) if type(name) is tuple else get(name) for name in fields]
        else:
            values = list(map(record.get, fields))
        if time_index >= 0 and event_time is not None:
            values[time_index] = event_time
        try:
            body = ",".join(map(quote, values))
        except TypeError:  # a missing field or a non-string value: the general form
            body = ",".join(map(_json_value, values))
        return sha256((prefix + body + "]").encode("ascii")).hexdigest()

    return alert_id_of


@cache
def _alert_id_of(endpoint: str) -> AlertIdOf:
    return build_alert_id_of(default_rule_spec().for_endpoint(endpoint))


def alert_id(endpoint: str, record: dict) -> str:
    """The deterministic id of the alert made from ``record`` of ``endpoint``."""
    return _alert_id_of(endpoint)(record, readable_time(endpoint, record))
