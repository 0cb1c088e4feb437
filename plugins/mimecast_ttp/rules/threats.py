"""The threat table: alert type -> MITRE ATT&CK technique or tactic (alert-rules.md §4).

The table is the user's own rows in their own shape, ``[{"alertType", "threatId",
"threatName"}, ...]``, in ``include/threat_mappings.json`` unless an operator points elsewhere.
It is checked at load so a bad table fails at start, naming the file and the row:
duplicates (also after trimming and ignoring case, because the lookup falls back to a
case-insensitive match and two such rows would make it ambiguous), ids that are not ``T####``,
``T####.###`` or ``TA####``, missing or blank fields, rows that are not objects, and a table
without the default row of every endpoint (the fallback of an unmapped alert type). A source
whose rules name a ``default_threat`` (rejections) needs no row: its fallback is that threat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimecast_ttp.paths import include_dir
from mimecast_ttp.rules.spec import THREAT_ID, RuleSpec, default_rule_spec

ROW_FIELDS = ("alertType", "threatId", "threatName")
__all__ = ["ROW_FIELDS", "THREAT_ID", "ThreatRow", "ThreatTable", "ThreatTableError", "default_threat_table_path",
           "load_threat_table"]


class ThreatTableError(ValueError):
    """The threat table cannot be used; the message names the file and the row."""


@dataclass(frozen=True)
class ThreatRow:
    alert_type: str  # trimmed
    threat_id: str
    threat_name: str  # trimmed


@dataclass(frozen=True)
class ThreatTable:
    """Rows by alert type, looked up exact after trimming, then ignoring case."""

    rows: tuple[ThreatRow, ...]
    path: Path | None = None
    _exact: dict[str, ThreatRow] = field(default_factory=dict, repr=False, compare=False)
    _folded: dict[str, ThreatRow] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for row in self.rows:
            self._exact[row.alert_type] = row
            self._folded[row.alert_type.casefold()] = row

    def lookup(self, alert_type: str) -> ThreatRow | None:
        """The row of ``alert_type``, or ``None`` when the table has none."""
        key = alert_type.strip()
        return self._exact.get(key) or self._folded.get(key.casefold())

    def __len__(self) -> int:
        return len(self.rows)


def default_threat_table_path() -> Path:
    return include_dir() / "threat_mappings.json"


def load_threat_table(path: str | Path | None = None, *, spec: RuleSpec | None = None) -> ThreatTable:
    """Read and check a threat table (default ``include/threat_mappings.json``)."""
    path = Path(path) if path is not None else default_threat_table_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ThreatTableError(f"threat table {path}: cannot read it: {err.strerror or err}") from err
    except ValueError as err:
        raise ThreatTableError(f"threat table {path}: not valid JSON: {err}") from err
    if not isinstance(raw, list):
        raise ThreatTableError(
            f"threat table {path}: expected a JSON array of {{alertType, threatId, threatName}} objects,"
            f" got {type(raw).__name__}"
        )
    rows: list[ThreatRow] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw):
        row = _row(path, index, item)
        folded = row.alert_type.casefold()
        if folded in first_index:
            raise ThreatTableError(
                f"threat table {path}: row {index} (alertType {row.alert_type!r}) duplicates row"
                f" {first_index[folded]} (alert types are compared trimmed and ignoring case)"
            )
        first_index[folded] = index
        rows.append(row)
    table = ThreatTable(rows=tuple(rows), path=path)
    spec = spec or default_rule_spec()
    for endpoint, rules in spec.endpoints.items():
        if rules.default_threat is None and table.lookup(rules.default_alert_type) is None:
            raise ThreatTableError(
                f"threat table {path}: no row for {rules.default_alert_type!r}, the default alert type of"
                f" endpoint {endpoint} (unmapped {endpoint} alert types fall back to it)"
            )
    return table


def _row(path: Path, index: int, item: Any) -> ThreatRow:
    if not isinstance(item, dict):
        raise ThreatTableError(f"threat table {path}: row {index} is {type(item).__name__}, expected an object")
    alert_type = item.get("alertType")
    label = f"row {index} (alertType {alert_type!r})" if isinstance(alert_type, str) else f"row {index}"
    values = {}
    for name in ROW_FIELDS:
        value = item.get(name)
        if value is None:
            raise ThreatTableError(f"threat table {path}: {label} has no {name}")
        if not isinstance(value, str):
            raise ThreatTableError(f"threat table {path}: {label}: {name} must be a string, got {value!r}")
        if not value.strip():
            raise ThreatTableError(f"threat table {path}: {label}: {name} is blank")
        values[name] = value.strip()
    threat_id = item["threatId"]
    if THREAT_ID.fullmatch(threat_id) is None:
        raise ThreatTableError(
            f"threat table {path}: {label}: threatId {threat_id!r} is not a MITRE id (T####, T####.### or TA####)"
        )
    return ThreatRow(alert_type=values["alertType"], threat_id=threat_id, threat_name=values["threatName"])
