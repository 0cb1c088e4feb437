"""The record rules that are data, read from ``include/alert_rules.json`` and checked once.

Which fields an endpoint requires, which verdicts mean clean, an endpoint's default alert type and
the fields that identify an event can change with Mimecast's feed without a code change, so they
live in that file. A malformed file fails at load with :class:`RuleSpecError` naming the file and
the entry, never halfway through a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.paths import include_dir

TYPE_KINDS = ("string", "integer", "boolean", "list", "object")


class RuleSpecError(ValueError):
    """``alert_rules.json`` cannot be used as it is."""


@dataclass(frozen=True)
class EndpointRules:
    """What the product needs from one endpoint's records (alert-rules.md §1, §2, §3, §5)."""

    endpoint: str
    time_field: str
    required_strings: tuple[str, ...]
    required_one_of: tuple[str, ...]
    verdict_field: str | None
    dropped_verdicts: frozenset[str]  # trimmed and lower-cased
    default_alert_type: str
    identity_fields: tuple[str, ...]


@dataclass(frozen=True)
class RuleSpec:
    endpoints: dict[str, EndpointRules]
    typed_fields: dict[str, tuple[str, ...]]  # kind -> field names, every kind of TYPE_KINDS

    def for_endpoint(self, endpoint: str) -> EndpointRules:
        try:
            return self.endpoints[endpoint]
        except KeyError:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINT_KEYS)}") from None


def load_rule_spec(path: str | Path | None = None) -> RuleSpec:
    """Read and check the rules file (default ``include/alert_rules.json``)."""
    path = Path(path) if path is not None else include_dir() / "alert_rules.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RuleSpecError(f"{path}: cannot read the alert rules: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("endpoints"), dict):
        raise RuleSpecError(f"{path}: expected an object with an 'endpoints' object")
    missing = [key for key in ENDPOINT_KEYS if key not in raw["endpoints"]]
    if missing:
        raise RuleSpecError(f"{path}: no rules for endpoint(s) {', '.join(missing)}")
    endpoints = {key: _endpoint_rules(path, key, spec) for key, spec in raw["endpoints"].items()}
    return RuleSpec(endpoints=endpoints, typed_fields=_typed_fields(path, raw.get("typed_fields")))


def _endpoint_rules(path: Path, key: str, spec: Any) -> EndpointRules:
    where = f"{path}: endpoints.{key}"
    if not isinstance(spec, dict):
        raise RuleSpecError(f"{where} is not an object")

    def name(field: str, *, optional: bool = False) -> str | None:
        value = spec.get(field)
        if value is None and optional and field in spec:
            return None
        if not isinstance(value, str) or not value.strip():
            raise RuleSpecError(f"{where}.{field} must be a non-blank string, got {value!r}")
        return value

    def names(field: str, *, non_empty: bool = False) -> tuple[str, ...]:
        value = spec.get(field)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise RuleSpecError(f"{where}.{field} must be an array of non-blank strings, got {value!r}")
        if non_empty and not value:
            raise RuleSpecError(f"{where}.{field} must not be empty")
        return tuple(value)

    return EndpointRules(
        endpoint=key,
        time_field=name("time_field"),
        required_strings=names("required_strings"),
        required_one_of=names("required_one_of"),
        verdict_field=name("verdict_field", optional=True),
        dropped_verdicts=frozenset(v.strip().lower() for v in names("dropped_verdicts")),
        default_alert_type=name("default_alert_type").strip(),
        identity_fields=names("identity_fields", non_empty=True),
    )


def _typed_fields(path: Path, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise RuleSpecError(f"{path}: typed_fields must be an object of kind -> field names")
    unknown = set(raw) - set(TYPE_KINDS)
    if unknown:
        raise RuleSpecError(f"{path}: typed_fields has unknown kind(s) {sorted(unknown)}; known: {TYPE_KINDS}")
    typed: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for kind in TYPE_KINDS:
        fields = raw.get(kind, [])
        if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
            raise RuleSpecError(f"{path}: typed_fields.{kind} must be an array of field names")
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
