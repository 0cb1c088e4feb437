"""Drop what Mimecast already judged clean or safe, or keep only what a source's rule keeps (alert-rules.md §2).

The verdict is compared trimmed and lower-cased. For the TTP endpoints only the listed clean
values are dropped; any other value, including one never seen before, is kept (fail open) and
counted by value so it shows up in the run statistics instead of vanishing. Impersonation has no
verdict field: every record is a detection.

A source may instead name the only verdicts it keeps (``kept_verdicts``) and a scope (``scope``,
one field and its kept values): the rejections source keeps receipt events whose ``action`` is
``Rej``. Every other record is dropped and counted by value: a record outside the scope as
``<field>:<value>`` (``type:delivery``), one in it by its verdict (``acc``). No record vanishes
uncounted: ``valid = sum(dropped_by_verdict) + sum(kept_by_verdict)`` wherever a verdict is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec

MISSING_VERDICT = "(missing)"  # only for records that skipped the format check

# record -> (counted key, or None when nothing is counted; kept?)
VerdictJudge = Callable[[dict], tuple[str | None, bool]]


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


def build_verdict_judge(rules: EndpointRules) -> VerdictJudge | None:
    """The keep-or-drop rule of a source with ``kept_verdicts`` or a ``scope``; ``None`` for the dropped-list rule."""
    if rules.kept_verdicts is None and rules.scope is None:
        return None
    verdict_field, dropped, kept = rules.verdict_field, rules.dropped_verdicts, rules.kept_verdicts
    scope_field, scope_values = rules.scope or (None, frozenset())
    keys: dict[str, str] = {}  # raw value -> key; a feed holds a handful of distinct values

    def key_of(value: Any) -> str:
        if type(value) is not str:
            return verdict_key(value)
        key = keys.get(value)
        if key is None:
            key = keys[value] = verdict_key(value)
        return key

    def judge(record: dict) -> tuple[str | None, bool]:
        if scope_field is not None:
            in_scope = key_of(record.get(scope_field))
            if in_scope not in scope_values:
                return f"{scope_field}:{in_scope}", False
        if verdict_field is None:
            return None, True
        key = key_of(record.get(verdict_field))
        return key, (key in kept) if kept is not None else (key not in dropped)

    return judge


def count_verdict(result: Any, key: str | None, keep: bool) -> None:
    """Count one judged record in ``result.kept_by_verdict`` or ``result.dropped_by_verdict``."""
    if key is not None:
        counts = result.kept_by_verdict if keep else result.dropped_by_verdict
        counts[key] = counts.get(key, 0) + 1


def filter_verdicts(endpoint: str, records: Iterable[dict]) -> VerdictResult:
    """Keep the records whose verdict is not clean/safe (or is a kept one); count every verdict, kept or dropped."""
    rules = default_rule_spec().for_endpoint(endpoint)
    result = VerdictResult()
    kept = result.kept
    judge = build_verdict_judge(rules)
    if judge is not None:
        for record in records:
            key, keep = judge(record)
            count_verdict(result, key, keep)
            if keep:
                kept.append(record)
        return result
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
