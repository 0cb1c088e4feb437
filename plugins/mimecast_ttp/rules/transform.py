"""Records to alerts in one pass: format check, window, verdict filter, type, threat, id, alert record.

The result and the counts are those of :func:`validate_records`, then :func:`filter_verdicts`,
then :func:`map_alerts` on the same records (the tests hold them to it), but each record is looked
at once and its timestamp parsed once. The command line (``mimecast-ttp transform``) and the
benchmark use this; the DAG runs the three steps separately so each can be re-run from its
staged input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from mimecast_ttp.rules.alerts import AlertMaker, count_threats
from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec
from mimecast_ttp.rules.storable import quarantine_item
from mimecast_ttp.rules.threats import ThreatTable
from mimecast_ttp.rules.validation import record_check
from mimecast_ttp.rules.verdicts import build_verdict_judge, count_verdict, verdict_key
from mimecast_ttp.rules.windows import OUTSIDE_WINDOW, window_judge

COUNT_NAMES = (
    "fetched", "valid", "quarantined", "outside_window", "clean_dropped", "kept", "alerts", "unmapped",
)  # fmt: skip
COUNTS_BY_VALUE = (
    "quarantined_by_reason", "dropped_by_verdict", "kept_by_verdict", "unmapped_alert_types",
    "alerts_by_type", "alerts_by_threat",
)  # fmt: skip


@dataclass
class TransformResult:
    endpoint: str
    fetched: int = 0
    valid: int = 0  # passed the format check and inside the window
    quarantined: list[dict] = field(default_factory=list)  # {"reason", "record"}
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    outside_window: int = 0
    dropped_by_verdict: dict[str, int] = field(default_factory=dict)
    kept_by_verdict: dict[str, int] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)
    unmapped_alert_types: dict[str, int] = field(default_factory=dict)
    alerts_by_type: dict[str, int] = field(default_factory=dict)
    alerts_by_threat: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """Plain counts (JSON-ready): the numbers of :data:`COUNT_NAMES` and the by-value dicts."""
        counts: dict[str, Any] = {
            "endpoint": self.endpoint,
            "fetched": self.fetched,
            "valid": self.valid,
            "quarantined": len(self.quarantined),
            "outside_window": self.outside_window,
            "clean_dropped": sum(self.dropped_by_verdict.values()),
            "kept": len(self.alerts),
            "alerts": len(self.alerts),
            "unmapped": sum(self.unmapped_alert_types.values()),
        }
        for name in COUNTS_BY_VALUE:
            counts[name] = dict(getattr(self, name))
        return counts


def add_counts(total: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """Accumulate one chunk's :meth:`TransformResult.counts` into ``total`` (chunked input)."""
    for name in COUNT_NAMES:
        total[name] = total.get(name, 0) + counts[name]
    for name in COUNTS_BY_VALUE:
        into = total.setdefault(name, {})
        for key, n in counts[name].items():
            into[key] = into.get(key, 0) + n
    total.setdefault("endpoint", counts["endpoint"])
    return total


@cache
def _rules(endpoint: str) -> EndpointRules:
    return default_rule_spec().for_endpoint(endpoint)


def transform_records(
    endpoint: str,
    records: Iterable[Any],
    table: ThreatTable,
    window: tuple[datetime, datetime] | None = None,
) -> TransformResult:
    """Validate, filter and map ``records`` of ``endpoint`` in one pass; see the module docstring."""
    rules = _rules(endpoint)
    check = record_check(endpoint)
    maker = AlertMaker(rules, table)
    judge, start, end = window_judge(endpoint, window)
    verdict_judge = build_verdict_judge(rules)  # None: the dropped-list rule, inline below
    verdict_field, dropped_values = rules.verdict_field, rules.dropped_verdicts
    result = TransformResult(endpoint=endpoint)
    quarantined, by_reason = result.quarantined, result.quarantined_by_reason
    dropped_by, kept_by = result.dropped_by_verdict, result.kept_by_verdict
    alerts, by_type = result.alerts, result.alerts_by_type
    alert_type_of, resolve, make_alert = maker.alert_type_of, maker.resolve, maker.alert
    verdict_keys: dict[str, str] = {}
    fetched = valid = outside = 0
    for record in records:
        fetched += 1
        reason, event_time = judge(check, endpoint, record, start, end)
        if reason is OUTSIDE_WINDOW:
            outside += 1
            continue
        if reason is not None:
            quarantined.append(quarantine_item(reason, record))
            by_reason[reason] = by_reason.get(reason, 0) + 1
            continue
        valid += 1
        if verdict_judge is not None:
            key, keep = verdict_judge(record)
            count_verdict(result, key, keep)
            if not keep:
                continue
        elif verdict_field is not None:
            value = record[verdict_field]  # a string: the format check requires it
            key = verdict_keys.get(value)
            if key is None:
                key = verdict_keys[value] = verdict_key(value)
            if key in dropped_values:
                dropped_by[key] = dropped_by.get(key, 0) + 1
                continue
            kept_by[key] = kept_by.get(key, 0) + 1
        kind = alert_type_of(record)
        alerts.append(make_alert(record, event_time, kind, resolve(kind)))
        by_type[kind] = by_type.get(kind, 0) + 1
    count_threats(result, maker)
    result.fetched, result.valid, result.outside_window = fetched, valid, outside
    return result
