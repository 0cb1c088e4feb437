"""The record rules that are data, read from ``include/alert_rules.json`` and checked once.

Which fields a source requires and how its time reads, which verdicts are dropped (or the only
ones kept), a source's default alert type (or threat row), the fields that identify an event and,
for the rejections source, where its alert type is searched and where its alert fields come from:
all can change with Mimecast's feed without a code change, so they live in that file. A malformed
file fails at load with :class:`RuleSpecError` naming the file and the entry, never halfway
through a run. Every source of :data:`mimecast_ttp.endpoints.SOURCE_KEYS` must have rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mimecast_ttp.endpoints import SOURCE_KEYS
from mimecast_ttp.paths import include_dir

TYPE_KINDS = ("string", "integer", "boolean", "list", "object", "text")
TIME_FORMATS = ("iso8601", "epoch_ms")  # a Mimecast ISO 8601 text; an integer of epoch milliseconds
ALERT_FIELD_SOURCES = ("sender", "recipient", "subject", "message_id", "verdict", "action", "url", "file_name",
                       "file_hash", "sender_ip", "definition")
THREAT_ID = re.compile(r"T\d{4}(?:\.\d{3})?|TA\d{4}")

IdentityField = str | tuple[str, ...]  # a field, or a group: the first non-blank of its fields


class RuleSpecError(ValueError):
    """``alert_rules.json`` cannot be used as it is."""


@dataclass(frozen=True)
class EndpointRules:
    """What the product needs from one source's records (alert-rules.md §1, §2, §3, §5, §8)."""

    endpoint: str
    time_field: str
    required_strings: tuple[str, ...]
    required_one_of: tuple[str, ...]
    verdict_field: str | None
    dropped_verdicts: frozenset[str]  # trimmed and lower-cased
    default_alert_type: str
    identity_fields: tuple[IdentityField, ...]
    time_format: str = "iso8601"
    kept_verdicts: frozenset[str] | None = None  # when set: every other verdict is dropped
    scope: tuple[str, frozenset[str]] | None = None  # (field, values): records outside it are dropped
    alert_type_search: tuple[str, ...] = ()  # fields searched for a threat-table alert type, in order
    alert_type_otherwise: str | None = None  # the field whose text is the alert type when none is found
    default_threat: tuple[str, str] | None = None  # (threat id, name) of unmapped types; else the table row
    alert_fields: dict[str, tuple[str, ...]] | None = None  # alert field -> source fields, first present wins
    typed_fields: dict[str, tuple[str, ...]] | None = None  # this source's own; else the spec's


@dataclass(frozen=True)
class RuleSpec:
    endpoints: dict[str, EndpointRules]
    typed_fields: dict[str, tuple[str, ...]]  # kind -> field names, every kind of TYPE_KINDS

    def for_endpoint(self, endpoint: str) -> EndpointRules:
        try:
            return self.endpoints[endpoint]
        except KeyError:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(self.endpoints)}") from None

    def typed_fields_for(self, endpoint: str) -> dict[str, tuple[str, ...]]:
        """The typed fields of ``endpoint``: its own when its rules name them, else the shared ones."""
        return self.for_endpoint(endpoint).typed_fields or self.typed_fields


def load_rule_spec(path: str | Path | None = None) -> RuleSpec:
    """Read and check the rules file (default ``include/alert_rules.json``)."""
    path = Path(path) if path is not None else include_dir() / "alert_rules.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RuleSpecError(f"{path}: cannot read the alert rules: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("endpoints"), dict):
        raise RuleSpecError(f"{path}: expected an object with an 'endpoints' object")
    missing = [key for key in SOURCE_KEYS if key not in raw["endpoints"]]
    if missing:
        raise RuleSpecError(f"{path}: no rules for endpoint(s) {', '.join(missing)}")
    endpoints = {key: _endpoint_rules(path, key, spec) for key, spec in raw["endpoints"].items()}
    return RuleSpec(endpoints=endpoints, typed_fields=_typed_fields(path, "typed_fields", raw.get("typed_fields")))


def _endpoint_rules(path: Path, key: str, spec: Any) -> EndpointRules:
    where = f"{path}: endpoints.{key}"
    if not isinstance(spec, dict):
        raise RuleSpecError(f"{where} is not an object")

    def fail(field: str, expected: str) -> RuleSpecError:
        return RuleSpecError(f"{where}.{field} must be {expected}, got {spec.get(field)!r}")

    def name(field: str, *, optional: bool = False) -> str | None:
        value = spec.get(field)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise fail(field, "a non-blank string")
        return value

    def is_names(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)

    def names(field: str, *, non_empty: bool = False, default: list | None = None) -> tuple[str, ...]:
        value = spec.get(field, default)
        if not is_names(value):
            raise fail(field, "an array of non-blank strings")
        if non_empty and not value:
            raise RuleSpecError(f"{where}.{field} must not be empty")
        return tuple(value)

    def folded(values: tuple[str, ...]) -> frozenset[str]:
        return frozenset(v.strip().lower() for v in values)

    if "verdict_field" not in spec:
        raise fail("verdict_field", "a non-blank string or null")
    verdict_field = name("verdict_field", optional=True)
    kept = spec.get("kept_verdicts")
    kept_verdicts = None if kept is None else folded(names("kept_verdicts", non_empty=True))
    dropped = names("dropped_verdicts", default=[] if kept_verdicts is not None else None)
    if kept_verdicts is not None and (dropped or verdict_field is None):
        raise RuleSpecError(f"{where}: kept_verdicts needs a verdict_field and no dropped_verdicts")
    time_format = spec.get("time_format", "iso8601")
    if time_format not in TIME_FORMATS:
        raise fail("time_format", f"one of {', '.join(TIME_FORMATS)}")
    return EndpointRules(
        endpoint=key,
        time_field=name("time_field"),
        required_strings=names("required_strings"),
        required_one_of=names("required_one_of"),
        verdict_field=verdict_field,
        dropped_verdicts=folded(dropped),
        default_alert_type=name("default_alert_type").strip(),
        identity_fields=_identity_fields(where, spec.get("identity_fields"), is_names),
        time_format=time_format,
        kept_verdicts=kept_verdicts,
        scope=_scope(where, spec.get("scope"), is_names),
        alert_type_search=names("alert_type_search", default=[]),
        alert_type_otherwise=name("alert_type_otherwise", optional=True),
        default_threat=_default_threat(where, spec.get("default_threat")),
        alert_fields=_alert_fields(where, spec.get("alert_fields"), is_names),
        typed_fields=None if spec.get("typed_fields") is None else _typed_fields(path, f"endpoints.{key}.typed_fields",
                                                                               spec["typed_fields"]),
    )


def _identity_fields(where: str, value: Any, is_names) -> tuple[IdentityField, ...]:
    if not isinstance(value, list) or not all((isinstance(v, str) and v.strip()) or (is_names(v) and v)
                                              for v in value):
        raise RuleSpecError(f"{where}.identity_fields must be an array of field names or non-empty arrays of "
                            f"field names (the first non-blank one of a group), got {value!r}")
    if not value:
        raise RuleSpecError(f"{where}.identity_fields must not be empty")
    return tuple(v if isinstance(v, str) else tuple(v) for v in value)


def _scope(where: str, value: Any, is_names) -> tuple[str, frozenset[str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise RuleSpecError(f"{where}.scope must be one {{field: [kept values]}}, got {value!r}")
    ((field, values),) = value.items()
    if not field.strip() or not is_names(values) or not values:
        raise RuleSpecError(f"{where}.scope.{field} must be a non-empty array of non-blank strings")
    return field, frozenset(v.strip().lower() for v in values)


def _default_threat(where: str, value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"threatId", "threatName"}:
        raise RuleSpecError(f"{where}.default_threat must be {{\"threatId\", \"threatName\"}}, got {value!r}")
    threat_id, threat_name = value["threatId"], value["threatName"]
    if not isinstance(threat_id, str) or THREAT_ID.fullmatch(threat_id) is None:
        raise RuleSpecError(f"{where}.default_threat.threatId {threat_id!r} is not a MITRE id (T####, T####.### "
                            "or TA####)")
    if not isinstance(threat_name, str) or not threat_name.strip():
        raise RuleSpecError(f"{where}.default_threat.threatName must be a non-blank string")
    return threat_id, threat_name.strip()


def _alert_fields(where: str, value: Any, is_names) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != set(ALERT_FIELD_SOURCES) or not all(map(is_names, value.values())):
        raise RuleSpecError(f"{where}.alert_fields must map each of {', '.join(ALERT_FIELD_SOURCES)} to an array "
                            f"of source fields, got {value!r}")
    return {field: tuple(value[field]) for field in ALERT_FIELD_SOURCES}


def _typed_fields(path: Path, where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise RuleSpecError(f"{path}: {where} must be an object of kind -> field names")
    unknown = set(raw) - set(TYPE_KINDS)
    if unknown:
        raise RuleSpecError(f"{path}: {where} has unknown kind(s) {sorted(unknown)}; known: {TYPE_KINDS}")
    typed: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for kind in TYPE_KINDS:
        fields = raw.get(kind, [])
        if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
            raise RuleSpecError(f"{path}: {where}.{kind} must be an array of field names")
        for field in fields:
            if field in seen:
                raise RuleSpecError(f"{path}: field {field!r} is typed both {seen[field]} and {kind}")
            seen[field] = kind
        typed[kind] = tuple(fields)
    return typed


@cache
def default_rule_spec() -> RuleSpec:
    """The packaged rules, read once per process."""
    return load_rule_spec()
