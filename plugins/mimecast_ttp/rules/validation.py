"""The format check of alert-rules.md §1: a tolerant reader, strict on what the product needs.

A record breaking a rule is quarantined with a machine-readable reason, never dropped silently.
With a window, a record whose time field reads as a timestamp outside it is counted as
``outside_window`` first, whatever else is wrong with it: it belongs to a neighbouring window
(the API's ``to`` can be inclusive), which judges it. Then one reason per record, the first rule
broken, in this order:

- ``unstorable:nan``, ``unstorable:lone_surrogate``, ``unstorable:nul``, ``unstorable:too_deep``:
  the record cannot be stored faithfully as standard JSON (:mod:`mimecast_ttp.rules.storable`);
  its quarantined copy is its escaped JSON text;
- ``not_an_object``: the record is not a JSON object;
- ``missing:<field>``, ``bad_type:<field>``, ``bad_timestamp:<field>``: the endpoint's time field
  (a text for ``time_format`` ``iso8601``; an integer of epoch milliseconds, never a ``bool`` or a
  numeric text, for ``epoch_ms``: the rejections source);
- ``missing:<field>``, ``bad_type:<field>``, ``blank:<field>``: a required string;
- ``missing:id|messageId``: impersonation has neither identifier (absent, null or blank); for
  rejections ``missing:processingId|aggregateId``;
- ``bad_type:<field>``: a typed field present with the wrong type (strings are strings, ``hits``
  an integer or an integer in a string, booleans ``true``/``false`` or those strings in any case,
  list fields a list or one string, ``tagMap`` an object, text fields a string or a list of
  strings). ``null`` counts as absent. A source may name its own typed fields (rejections does).

Unknown extra fields are allowed. The check is a per-endpoint closure built once; the type rules
are decided once per record *shape* (keys and value types), see :func:`build_record_check`. The
window side (reading the time field, judging a record against the window) is
:mod:`mimecast_ttp.rules.windows`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec
from mimecast_ttp.rules.storable import quarantine_item, unstorable_reason
from mimecast_ttp.rules.timestamps import TIME_READERS
from mimecast_ttp.rules.windows import OUTSIDE_WINDOW, RecordCheck, judge_record, readable_time, window_judge

__all__ = ["OUTSIDE_WINDOW", "RecordCheck", "ValidationResult", "build_exact_check", "build_record_check",
           "judge_record", "quarantine_reason", "readable_time", "record_check", "validate_records"]

NOT_AN_OBJECT = "not_an_object"
_STRING_OR_ABSENT = frozenset({str, type(None)})
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII).fullmatch
_BOOLEAN_TEXT = frozenset({"true", "false"})


@dataclass
class ValidationResult:
    """Valid records (raw, unchanged), quarantined ones with their reason, and the counts."""

    valid: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)  # {"reason": str, "record": raw}
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    outside_window: int = 0  # valid timestamp outside the window: counted, neither kept nor quarantined
    newest_event_time: str | None = None  # of the valid records, in the stored (UTC text) form


def _is_integer(value: Any) -> bool:
    return (type(value) is int) or (type(value) is str and _INTEGER_TEXT(value) is not None)


def _is_boolean(value: Any) -> bool:
    return value is True or value is False or (type(value) is str and value.strip().lower() in _BOOLEAN_TEXT)


def _is_list(value: Any) -> bool:
    return type(value) is list or type(value) is str  # one string stands for a one-element list


def _is_object(value: Any) -> bool:
    return type(value) is dict


def _is_strings(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def _is_text(value: Any) -> bool:
    return type(value) is str or _is_strings(value)


_KIND_CHECKS = {"integer": _is_integer, "boolean": _is_boolean, "list": _is_list, "object": _is_object,
                "text": _is_text}


def build_exact_check(rules: EndpointRules, typed_fields: dict[str, tuple[str, ...]]) -> RecordCheck:
    """The format check of one endpoint, field by field (see the module docstring for the order)."""
    time_field = rules.time_field
    time_type, read_time = TIME_READERS[rules.time_format]
    missing_time = f"missing:{time_field}"
    bad_type_time = f"bad_type:{time_field}"
    bad_time = f"bad_timestamp:{time_field}"
    required = tuple((name, f"missing:{name}", f"bad_type:{name}", f"blank:{name}") for name in rules.required_strings)
    one_of = rules.required_one_of
    missing_one_of = "missing:" + "|".join(one_of)
    strings = tuple(name for name in typed_fields["string"] if name != time_field)
    others = tuple(
        (name, check, f"bad_type:{name}")
        for kind, check in _KIND_CHECKS.items()
        for name in typed_fields[kind]
        if name != time_field
    )

    def check(record: Any) -> tuple[str | None, str | None]:
        if type(record) is not dict:
            return NOT_AN_OBJECT, None
        get = record.get
        value = get(time_field)
        if type(value) is not time_type:
            return (missing_time if value is None else bad_type_time), None
        event_time = read_time(value)
        if event_time is None:
            return bad_time, None
        for name, missing, bad_type, blank in required:
            value = get(name)
            if type(value) is not str:
                return (missing if value is None else bad_type), None
            if not value or value.isspace():
                return blank, None
        if one_of:
            for name in one_of:
                value = get(name)
                if value is not None and type(value) is not str:
                    return f"bad_type:{name}", None
            if not any(type(v) is str and v and not v.isspace() for v in map(get, one_of)):
                return missing_one_of, None
        if not _STRING_OR_ABSENT.issuperset(map(type, map(get, strings))):
            for name in strings:
                if type(get(name)) not in _STRING_OR_ABSENT:
                    return f"bad_type:{name}", None
        for name, is_valid, bad_type in others:
            value = get(name)
            if value is not None and not is_valid(value):
                return bad_type, None
        return None, event_time

    return check


# Per kind: the value types accepted as they are, and those accepted after a look at the value.
_TYPES_ACCEPTED = {"integer": {int}, "boolean": {bool}, "list": {list, str}, "object": {dict}, "text": {str}}
_TYPES_TO_LOOK_AT = {"integer": {str: _is_integer}, "boolean": {str: _is_boolean}, "text": {list: _is_strings}}
MAX_SHAPES = 4096  # distinct (keys, value types) shapes remembered per endpoint


def build_record_check(rules: EndpointRules, typed_fields: dict[str, tuple[str, ...]]) -> RecordCheck:
    """The format check of one endpoint, fast: the same answers as :func:`build_exact_check`.

    A feed's records come in few *shapes* (their keys and the types of their values, in order).
    The type rules are decided once per shape; a record of a shape that breaks one goes through the
    exact check for its reason. A record of a good shape only needs the rules that look at values:
    the timestamp, blank required strings, the identifier one-of, and integers or booleans sent as
    text. Answers are identical, reasons included (the tests hold the two checks to it).
    """
    exact = build_exact_check(rules, typed_fields)
    time_field = rules.time_field
    time_type, read_time = TIME_READERS[rules.time_format]
    bad_time = f"bad_timestamp:{time_field}"
    required = tuple((name, f"blank:{name}") for name in rules.required_strings)
    one_of = rules.required_one_of
    missing_one_of = "missing:" + "|".join(one_of)
    strings = tuple(name for name in typed_fields["string"] if name != time_field)
    others = tuple(
        (kind, name) for kind in _KIND_CHECKS for name in typed_fields[kind] if name != time_field
    )
    none_type = type(None)
    plans: dict[tuple, tuple | None] = {}

    def plan_for(keys: tuple, types: tuple) -> tuple | None:
        """The value checks a record of this shape needs, or ``None`` when a type rule is broken."""
        present = dict(zip(keys, types, strict=True))
        if present.get(time_field) is not time_type or any(present.get(name) is not str for name, _ in required):
            return None
        if any(present.get(name, none_type) not in _STRING_OR_ABSENT for name in (*one_of, *strings)):
            return None
        to_look_at = []
        for kind, name in others:
            value_type = present.get(name, none_type)
            if value_type is none_type or value_type in _TYPES_ACCEPTED[kind]:
                continue
            look = _TYPES_TO_LOOK_AT.get(kind, {}).get(value_type)
            if look is None:
                return None
            to_look_at.append((name, look, f"bad_type:{name}"))
        return tuple(to_look_at)

    def check(record: Any) -> tuple[str | None, str | None]:
        if type(record) is not dict:
            return NOT_AN_OBJECT, None
        shape = (tuple(record), tuple(map(type, record.values())))
        try:
            plan = plans[shape]
        except KeyError:
            if len(plans) >= MAX_SHAPES:
                plans.clear()
            plan = plans[shape] = plan_for(*shape)
        if plan is None:
            return exact(record)
        event_time = read_time(record[time_field])
        if event_time is None:
            return bad_time, None
        for name, blank in required:
            value = record[name]
            if not value or value.isspace():
                return blank, None
        if one_of:
            for value in map(record.get, one_of):
                if value and not value.isspace():
                    break
            else:
                return missing_one_of, None
        for name, is_valid, bad_type in plan:
            if not is_valid(record[name]):
                return bad_type, None
        return None, event_time

    return check


@cache
def record_check(endpoint: str) -> RecordCheck:
    """The packaged rules' check for ``endpoint`` (built once per process)."""
    spec = default_rule_spec()
    return build_record_check(spec.for_endpoint(endpoint), spec.typed_fields_for(endpoint))


def quarantine_reason(endpoint: str, record: Any) -> str | None:
    """Why ``record`` is quarantined for ``endpoint`` (unstorable, or the format check), or ``None``."""
    return unstorable_reason(record) or record_check(endpoint)(record)[0]


def validate_records(
    endpoint: str,
    records: Iterable[Any],
    window: tuple[datetime, datetime] | None = None,
) -> ValidationResult:
    """Split ``records`` into valid and quarantined; with a ``window``, count (not keep) valid ones outside it."""
    check = record_check(endpoint)
    judge, start, end = window_judge(endpoint, window)
    result = ValidationResult()
    valid, quarantined, by_reason = result.valid, result.quarantined, result.quarantined_by_reason
    outside = 0
    newest = ""  # the stored form is fixed-width UTC text: its order is time order
    for record in records:
        reason, event_time = judge(check, endpoint, record, start, end)
        if reason is OUTSIDE_WINDOW:
            outside += 1
        elif reason is not None:
            quarantined.append(quarantine_item(reason, record))
            by_reason[reason] = by_reason.get(reason, 0) + 1
        else:
            valid.append(record)
            if event_time > newest:
                newest = event_time
    result.outside_window = outside
    result.newest_event_time = newest or None
    return result
