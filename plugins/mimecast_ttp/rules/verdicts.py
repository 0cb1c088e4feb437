"""Drop what Mimecast already judged clean or safe (alert-rules.md §2).

The verdict is compared trimmed and lower-cased. Only the listed clean values are dropped; any
other value, including one never seen before, is kept (fail open) and counted by value so it
shows up in the run statistics instead of vanishing. Impersonation has no verdict field: every
record is a detection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mimecast_ttp.rules.spec import default_rule_spec

MISSING_VERDICT = "(missing)"  # only for records that skipped the format check


@dataclass
class VerdictResult:
    kept: list[dict] = field(default_factory=list)
    dropped_by_verdict: dict[str, int] = field(default_factory=dict)
    kept_by_verdict: dict[str, int] = field(default_factory=dict)


def verdict_key(value: Any) -> str:
    """The compared and counted form of a verdict: trimmed, lower case."""
    if isinstance(value, str):
        return value.strip().lower()
    return MISSING_VERDICT if value is None else str(value)


def filter_verdicts(endpoint: str, records: Iterable[dict]) -> VerdictResult:
    """Keep the records whose verdict is not clean/safe; count every verdict, kept or dropped."""
    rules = default_rule_spec().for_endpoint(endpoint)
    result = VerdictResult()
    kept = result.kept
    if rules.verdict_field is None:
        kept.extend(records)
        return result
    verdict_field, dropped_values = rules.verdict_field, rules.dropped_verdicts
    dropped_by, kept_by = result.dropped_by_verdict, result.kept_by_verdict
    keys: dict[Any, str] = {}  # raw value -> key; a page holds a handful of distinct verdicts
    for record in records:
        value = record.get(verdict_field)
        key = keys.get(value) if type(value) is str else None
        if key is None:
            key = verdict_key(value)
            if type(value) is str:
                keys[value] = key
        if key in dropped_values:
            dropped_by[key] = dropped_by.get(key, 0) + 1
        else:
            kept_by[key] = kept_by.get(key, 0) + 1
            kept.append(record)
    return result
