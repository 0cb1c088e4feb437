"""The product's rules from Mimecast records to alerts (docs: alert-rules.md), pure Python.

No Airflow here: the DAG, the ``mimecast-ttp transform`` command and the benchmark all call these.
Records are dicts as parsed from JSON and are never mutated. A *window* is ``(start, end)``, aware
datetimes, half-open ``[start, end)``. ``endpoint`` is any key of
:data:`mimecast_ttp.endpoints.SOURCE_KEYS`: the three TTP endpoints (``attachment``,
``impersonation``, ``url``) or ``rejections`` (SIEM receipt events, alert-rules.md §8); every
function below takes each of them, the rejections' differences being data in ``alert_rules.json``.

Public API:

``validate_records(endpoint, records, window=None) -> ValidationResult``
    ``.valid`` (raw records), ``.quarantined`` (``{"reason", "record"}``),
    ``.quarantined_by_reason``, ``.outside_window`` (valid timestamp outside the window: counted,
    neither kept nor quarantined). ``quarantine_reason(endpoint, record) -> str | None`` for one
    record. Reasons: ``unstorable:nan|lone_surrogate|nul|too_deep`` (the quarantined copy is then
    the record's escaped JSON text), ``not_an_object``, ``missing:<f>``, ``bad_type:<f>``, ``bad_timestamp:<f>``,
    ``blank:<f>``, ``missing:id|messageId``, ``missing:processingId|aggregateId``. Rejections'
    ``timestamp`` must be an integer of epoch milliseconds (``bad_type:timestamp`` otherwise, a
    numeric text included; ``bad_timestamp:timestamp`` outside years 1-9999), and its window test
    compares milliseconds.
``readable_time(endpoint, record) -> str | None``
    the record's time in the stored form ``YYYY-MM-DDTHH:MM:SSZ`` when it reads as one (for
    rejections the second its milliseconds fall in), whatever else is wrong; the alert's
    ``event_time`` and the pipeline's ``newest_event_time`` are this text.
``filter_verdicts(endpoint, records) -> VerdictResult``
    ``.kept``, ``.dropped_by_verdict``, ``.kept_by_verdict`` (verdicts trimmed, lower case).
    Rejections keep receipt events whose ``action`` is ``Rej``; the others are dropped and
    counted (``acc``, ..., and ``type:<value>`` for an event that is not a receipt).
``load_threat_table(path=None) -> ThreatTable``
    default ``include/threat_mappings.json``; raises :class:`ThreatTableError` (a ``ValueError``).
``map_alerts(endpoint, records, table) -> MappingResult``
    ``.alerts`` (alert records, fields :data:`ALERT_FIELDS`), ``.unmapped_alert_types``,
    ``.alerts_by_type``, ``.alerts_by_threat`` (by threat id).
``alert_id(endpoint, record) -> str``
    SHA-256 hex of the canonical JSON ``[endpoint, identity fields...]``; rejections:
    ``["rejections", processingId (else aggregateId), recipients, timestamp]``.
``alert_type(endpoint, record, table=None) -> str``
    the record's alert type (§3, §8), trimmed. A rejection's is the first alert type of ``table``
    (default: the packaged one) found in ``rejectionType``, ``rejectionInfo``, ``receiptErrors``.
``transform_records(endpoint, records, table, window=None) -> TransformResult``
    the three steps in one pass; ``.counts()`` gives ``fetched, valid, quarantined,
    outside_window, clean_dropped, kept, alerts, unmapped`` and the by-value dicts;
    ``add_counts(total, counts)`` sums chunks.

Rule data lives in ``include/alert_rules.json`` (:mod:`mimecast_ttp.rules.spec`), the rejections'
search fields, default threat and alert field sources included.
"""

from __future__ import annotations

from mimecast_ttp.rules.alert_types import alert_type
from mimecast_ttp.rules.alerts import (
    ALERT_FIELDS,
    MAPPED_BY_DEFAULT,
    MAPPED_BY_TABLE,
    MappingResult,
    map_alerts,
)
from mimecast_ttp.rules.identity import alert_id
from mimecast_ttp.rules.spec import RuleSpecError, default_rule_spec, load_rule_spec
from mimecast_ttp.rules.threats import ThreatRow, ThreatTable, ThreatTableError, load_threat_table
from mimecast_ttp.rules.timestamps import utc_timestamp
from mimecast_ttp.rules.transform import TransformResult, add_counts, transform_records
from mimecast_ttp.rules.validation import ValidationResult, quarantine_reason, validate_records
from mimecast_ttp.rules.verdicts import VerdictResult, filter_verdicts
from mimecast_ttp.rules.windows import readable_time

__all__ = [
    "ALERT_FIELDS",
    "MAPPED_BY_DEFAULT",
    "MAPPED_BY_TABLE",
    "MappingResult",
    "RuleSpecError",
    "ThreatRow",
    "ThreatTable",
    "ThreatTableError",
    "TransformResult",
    "ValidationResult",
    "VerdictResult",
    "add_counts",
    "alert_id",
    "alert_type",
    "default_rule_spec",
    "filter_verdicts",
    "load_rule_spec",
    "load_threat_table",
    "map_alerts",
    "quarantine_reason",
    "readable_time",
    "transform_records",
    "utc_timestamp",
    "validate_records",
]
