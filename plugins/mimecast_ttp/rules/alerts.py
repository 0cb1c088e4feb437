"""The alert record (alert-rules.md §6) and the mapping step that makes it.

Field names are the contract for the database columns and the command line's output::

    alert_id endpoint alert_type threat_id threat_name mapped_by event_time sender recipient
    subject message_id verdict action url file_name file_hash sender_ip definition raw

Every value but ``raw`` (the original record, the same object, unchanged) is a string or
``None``. Sources: sender = ``senderAddress`` / ``fromUserEmailAddress``; recipient =
``recipientAddress`` / ``userEmailAddress``; verdict = the endpoint's verdict field (``null`` for
impersonation); action = ``actionTriggered`` / ``action``; sender_ip = ``senderIpAddress`` /
``sendingIp`` only when it is an IP address (``Internal IP`` gives ``None``); definition =
``definition`` / ``ttpDefinition``. The first present source wins. A source whose rules name
``alert_fields`` (rejections, §8) takes each field from the sources listed there, by the same rule
(``sender_ip`` still only when it is an IP address).

:func:`map_alerts` expects records that passed the format check (their typed fields are strings).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mimecast_ttp.rules.alert_types import build_alert_type_of
from mimecast_ttp.rules.identity import build_alert_id_of
from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec
from mimecast_ttp.rules.threats import ThreatRow, ThreatTable
from mimecast_ttp.rules.timestamps import TIME_READERS

ALERT_FIELDS = (
    "alert_id", "endpoint", "alert_type", "threat_id", "threat_name", "mapped_by", "event_time",
    "sender", "recipient", "subject", "message_id", "verdict", "action", "url", "file_name",
    "file_hash", "sender_ip", "definition", "raw",
)  # fmt: skip
MAPPED_BY_TABLE = "table"
MAPPED_BY_DEFAULT = "default"


@dataclass
class MappingResult:
    alerts: list[dict] = field(default_factory=list)
    unmapped_alert_types: dict[str, int] = field(default_factory=dict)
    alerts_by_type: dict[str, int] = field(default_factory=dict)
    alerts_by_threat: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=65536)
def ip_address_text(value: str) -> str | None:
    """``value`` as a canonical IP address, or ``None`` when it is not one (``Internal IP``)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class AlertMaker:
    """Builds alert records for one endpoint and threat table; memoises the few distinct alert types.

    ``resolve(alert_type) -> (threat_id, threat_name, mapped_by)``: the table row of the type, or the
    endpoint's default row marked ``default`` (the table row of its default alert type, or the
    ``default_threat`` of its rules).
    """

    def __init__(self, rules: EndpointRules, table: ThreatTable) -> None:
        self.endpoint = rules.endpoint
        self.verdict_field = rules.verdict_field
        self.alert_type_of = build_alert_type_of(rules, table)
        self.alert_id_of = build_alert_id_of(rules)
        self.table = table
        if rules.default_threat is not None:
            default_row = ThreatRow(rules.default_alert_type, *rules.default_threat)
        else:
            default_row = table.lookup(rules.default_alert_type)
        if default_row is None:
            raise ValueError(f"threat table has no row for {rules.default_alert_type!r} (default of {self.endpoint})")
        self.default_row = default_row
        self.resolved: dict[str, tuple[str, str, str]] = {}
        if rules.alert_fields is not None:
            self.sources = tuple(rules.alert_fields.items())
            self.alert = self.sourced_alert  # type: ignore[method-assign]

    def resolve(self, alert_type: str) -> tuple[str, str, str]:
        found = self.resolved.get(alert_type)
        if found is None:
            row = self.table.lookup(alert_type)
            if row is None:
                found = (self.default_row.threat_id, self.default_row.threat_name, MAPPED_BY_DEFAULT)
            else:
                found = (row.threat_id, row.threat_name, MAPPED_BY_TABLE)
            self.resolved[alert_type] = found
        return found

    def alert(self, record: dict, event_time: str | None, alert_type: str, threat: tuple[str, str, str]) -> dict:
        # The "first present source" rule is spelled out inline: this runs once per alert.
        get = record.get
        sender = get("senderAddress")
        if sender is None:
            sender = get("fromUserEmailAddress")
        recipient = get("recipientAddress")
        if recipient is None:
            recipient = get("userEmailAddress")
        action = get("actionTriggered")
        if action is None:
            action = get("action")
        sender_ip = get("senderIpAddress")
        if sender_ip is None:
            sender_ip = get("sendingIp")
        definition = get("definition")
        if definition is None:
            definition = get("ttpDefinition")
        verdict_field = self.verdict_field
        return {
            "alert_id": self.alert_id_of(record, event_time),
            "endpoint": self.endpoint,
            "alert_type": alert_type,
            "threat_id": threat[0],
            "threat_name": threat[1],
            "mapped_by": threat[2],
            "event_time": event_time,
            "sender": sender,
            "recipient": recipient,
            "subject": get("subject"),
            "message_id": get("messageId"),
            "verdict": None if verdict_field is None else get(verdict_field),
            "action": action,
            "url": get("url"),
            "file_name": get("fileName"),
            "file_hash": get("fileHash"),
            "sender_ip": None if sender_ip is None else ip_address_text(sender_ip),
            "definition": definition,
            "raw": record,
        }

    def sourced_alert(self, record: dict, event_time: str | None, alert_type: str,
                      threat: tuple[str, str, str]) -> dict:
        """:meth:`alert` for a source with ``alert_fields``: each field from its listed sources, the first present."""
        get = record.get
        alert: dict[str, Any] = {
            "alert_id": self.alert_id_of(record, event_time), "endpoint": self.endpoint, "alert_type": alert_type,
            "threat_id": threat[0], "threat_name": threat[1], "mapped_by": threat[2], "event_time": event_time,
        }
        for name, sources in self.sources:
            value = next((v for v in map(get, sources) if v is not None), None)
            if name == "sender_ip" and value is not None:
                value = ip_address_text(value) if type(value) is str else None
            alert[name] = value
        alert["raw"] = record
        return {name: alert[name] for name in ALERT_FIELDS}


def map_alerts(endpoint: str, records: Iterable[dict], table: ThreatTable) -> MappingResult:
    """One alert per (valid, kept) record, with its type, threat and id; counts by type, threat and unmapped type."""
    rules = default_rule_spec().for_endpoint(endpoint)
    maker = AlertMaker(rules, table)
    time_field = rules.time_field
    time_type, read_time = TIME_READERS[rules.time_format]
    result = MappingResult()
    by_type = result.alerts_by_type
    for record in records:
        value = record.get(time_field)
        event_time = read_time(value) if type(value) is time_type else None
        kind = maker.alert_type_of(record)
        result.alerts.append(maker.alert(record, event_time, kind, maker.resolve(kind)))
        by_type[kind] = by_type.get(kind, 0) + 1
    count_threats(result, maker)
    return result


def count_threats(result: Any, maker: AlertMaker) -> None:
    """Fill ``alerts_by_threat`` and ``unmapped_alert_types`` from ``alerts_by_type`` (counted per alert)."""
    by_threat, unmapped = result.alerts_by_threat, result.unmapped_alert_types
    for kind, count in result.alerts_by_type.items():
        threat_id, _, mapped_by = maker.resolve(kind)
        by_threat[threat_id] = by_threat.get(threat_id, 0) + count
        if mapped_by == MAPPED_BY_DEFAULT:
            unmapped[kind] = unmapped.get(kind, 0) + count
