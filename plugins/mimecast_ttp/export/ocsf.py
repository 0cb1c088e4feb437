"""An alert record (alert-rules.md §6) as an OCSF 1.5.0 Detection Finding (class 2004), plain Python.

:func:`map_alert` takes an alert as the rules make it (``mimecast-ttp transform``'s lines) or as
the store holds it (a ``mimecast_alerts`` row: ``event_time`` a datetime, extra load columns) and
returns one OCSF event, a dict ready for ``json.dumps``. The result depends on the §6 fields only,
so exporting an alert twice gives the same event.

What is data, not code (alert-rules.md §7):

- ``include/ocsf_mappings.json``: the product and feature names, severity by verdict, and
  disposition and action by Mimecast action (:func:`load_ocsf_mapping` checks it);
- ``include/mitre_attack.json``: names and tactics of the ATT&CK techniques the threat table may
  name (a sub-technique takes its parent's tactics);
- ``include/ocsf/1.5.0/detection_finding.schema.json``: the JSON Schema every event is held to
  (made by ``scripts/ocsf_schema.py`` from the OCSF schema bundled in ``ocsf-json-schema``);
  :func:`validator` loads it, for the tests and ``mimecast-ttp export --validate``.

Values OCSF types strictly (email addresses, IP addresses, hashes) are copied only when they are
what OCSF's type says; everything else stays in ``raw_data`` (the record as received) and in
``unmapped.mimecast_ttp`` (the alert's own fields), so nothing of the alert is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.export.ocsf_rules import (  # noqa: F401  (re-exported: the mapping's public names)
    ACTION_IDS,
    DISPOSITION_IDS,
    SEVERITY_IDS,
    OcsfMapping,
    OcsfMappingError,
    Outcome,
    default_ocsf_mapping,
    load_ocsf_mapping,
)
from mimecast_ttp.export.ocsf_schema import OCSF_VERSION, schema_path, validation_errors, validator  # noqa: F401
from mimecast_ttp.utc import as_utc

OCSF_CLASS_UID = 2004
OCSF_CLASS_NAME = "detection_finding"
OCSF_PROFILES = ("security_control",)  # action_id, disposition_id, attacks
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
STATUS_NEW = 1
ANALYTIC_RULE = 1
FILE_REGULAR = 1
SHA256_ID = 3

# Captions of the OCSF 1.5.0 enums this mapping sets (checked against the schema by the tests).
OBSERVABLE_TYPES = {"IP Address": 2, "Email Address": 5, "URL String": 6, "File Name": 7, "Hash": 8,
                    "Email Object: subject": 40, "Message UID": 42}

# OCSF 1.5.0's own patterns for email_t and ip_t (ip_t also at most 40 characters); the JSON
# Schema holds every event to them, so only values that match are copied into typed attributes.
EMAIL_PATTERN = r"^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$"
IP_PATTERN = (
    r"((^\s*((([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]).){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))"
    r"\s*$)|(^\s*((([0-9A-Fa-f]{1,4}:){7}([0-9A-Fa-f]{1,4}|:))|(([0-9A-Fa-f]{1,4}:){6}(:[0-9A-Fa-f]{1,4}|((25[0-5]"
    r"|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9A-Fa-f]{1,4}:){5}(((:[0-9A-Fa-f]"
    r"{1,4}){1,2})|:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9A-Fa-f]"
    r"{1,4}:){4}(((:[0-9A-Fa-f]{1,4}){1,3})|((:[0-9A-Fa-f]{1,4})?:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|"
    r"2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){3}(((:[0-9A-Fa-f]{1,4}){1,4})|((:[0-9A-Fa-f]{1,4})"
    r"{0,2}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:)"
    r"{2}(((:[0-9A-Fa-f]{1,4}){1,5})|((:[0-9A-Fa-f]{1,4}){0,3}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|"
    r"2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){1}(((:[0-9A-Fa-f]{1,4}){1,6})|((:[0-9A-Fa-f]{1,4})"
    r"{0,4}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(:(((:[0-9A-Fa-f]"
    r"{1,4}){1,7})|((:[0-9A-Fa-f]{1,4}){0,5}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(.(25[0-5]|2[0-4]\d|1\d\d|"
    r"[1-9]?\d)){3}))|:)))(%.+)?\s*$))"
)
IP_MAX_LENGTH = 40
_EMAIL = re.compile(EMAIL_PATTERN)
_IP = re.compile(IP_PATTERN)
_HEX = re.compile(r"^[a-fA-F0-9]+$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SIEM_PRODUCT = "Mimecast Secure Email Gateway"  # rejections come from the gateway's event stream, not TTP


def epoch_ms(value: datetime | str) -> int:
    """A moment as OCSF's ``timestamp_t``: milliseconds since the epoch (UTC)."""
    return (as_utc(value, "event_time") - _EPOCH) // timedelta(milliseconds=1)


def map_alert(alert: Mapping[str, Any], mapping: OcsfMapping | None = None) -> dict[str, Any]:
    """One alert (rules' record or store row) as an OCSF Detection Finding event."""
    mapping = mapping or default_ocsf_mapping()
    endpoint = alert["endpoint"]
    alert_type, verdict, action = alert["alert_type"], alert.get("verdict"), alert.get("action")
    feature = mapping.features.get(endpoint, endpoint)
    severity_id = mapping.severity(endpoint, verdict)
    outcome = mapping.outcome(action)
    raw = alert.get("raw")
    raw_text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, separators=(",", ":"))

    evidence, observables = _evidence(alert)
    analytic_name = _text(alert.get("definition")) or alert_type
    details = ", ".join(part for part in (f"verdict {verdict}" if _text(verdict) else "",
                                          f"action {action}" if _text(action) else "") if part)
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {**mapping.product, **({"name": SIEM_PRODUCT} if endpoint == REJECTIONS else {}),
                    "feature": {"uid": endpoint, "name": feature}},
        "uid": alert["alert_id"],
        "log_name": endpoint,
        "log_provider": "Mimecast API",
        "profiles": list(OCSF_PROFILES),
    }
    original_time = _original_time(alert)
    if original_time:
        metadata["original_time"] = original_time
    event: dict[str, Any] = {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": OCSF_CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": epoch_ms(alert["event_time"]),
        "severity_id": severity_id,
        "severity": _caption(SEVERITY_IDS, severity_id, verdict),
        "action_id": outcome.action_id,
        "action": outcome.action,
        "disposition_id": outcome.disposition_id,
        "disposition": outcome.disposition,
        "status_id": STATUS_NEW,
        "status": "New",
        "is_alert": True,
        "message": f"{feature} alert: {alert_type}" + (f" ({details})" if details else ""),
        "finding_info": {
            "uid": alert["alert_id"],
            "title": alert_type,
            "types": [feature],
            "analytic": {"name": analytic_name, "type_id": ANALYTIC_RULE, "type": "Rule"},
            "attacks": mapping.attacks(alert["threat_id"], alert["threat_name"]),
            "data_sources": [_data_source(endpoint)],
        },
        "evidences": [evidence],
        "observables": observables,
        "metadata": metadata,
        "raw_data": raw_text,
        "unmapped": {"mimecast_ttp": {key: alert.get(key) for key in (
            "endpoint", "alert_type", "threat_id", "threat_name", "mapped_by", "verdict", "action", "definition",
            "sender", "recipient", "sender_ip", "file_hash")}},
    }  # fmt: skip
    if not event["finding_info"]["attacks"]:
        del event["finding_info"]["attacks"]
    return event


def _evidence(alert: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The evidence artifacts (email, file, url, sending endpoint) and the observables pointing into them."""
    evidence: dict[str, Any] = {}
    observables: list[dict[str, Any]] = []

    def observe(name: str, kind: str, value: str) -> None:
        observables.append({"name": f"evidences[0].{name}", "type_id": OBSERVABLE_TYPES[kind], "type": kind,
                            "value": value})

    sender, recipient = _email(alert.get("sender")), _email(alert.get("recipient"))
    email: dict[str, Any] = {}
    if sender:
        email["from"] = sender
        observe("email.from", "Email Address", sender)
    if recipient:
        email["to"] = [recipient]
        observe("email.to", "Email Address", recipient)
    if email:  # OCSF needs a sender or a recipient in an email object
        if _text(alert.get("subject")):
            email["subject"] = alert["subject"]
            observe("email.subject", "Email Object: subject", alert["subject"])
        if _text(alert.get("message_id")):
            email["message_uid"] = alert["message_id"]
            observe("email.message_uid", "Message UID", alert["message_id"])
        evidence["email"] = email
    file_name = _text(alert.get("file_name"))
    if file_name:
        file: dict[str, Any] = {"name": alert["file_name"], "type_id": FILE_REGULAR, "type": "Regular File"}
        observe("file.name", "File Name", alert["file_name"])
        mime_type = (alert.get("raw") or {}).get("fileType") if isinstance(alert.get("raw"), dict) else None
        if isinstance(mime_type, str) and mime_type.strip():
            file["mime_type"] = mime_type
        file_hash = alert.get("file_hash")
        if isinstance(file_hash, str) and _HEX.match(file_hash):
            sha256 = len(file_hash) == 64
            file["hashes"] = [{"algorithm_id": SHA256_ID if sha256 else 0, "algorithm": "SHA-256" if sha256 else "Unknown",
                               "value": file_hash}]
            observe("file.hashes[0].value", "Hash", file_hash)
        evidence["file"] = file
    url = _text(alert.get("url"))
    if url:
        evidence["url"] = _url(alert["url"])
        observe("url.url_string", "URL String", alert["url"])
    sender_ip = alert.get("sender_ip")
    if isinstance(sender_ip, str) and len(sender_ip) <= IP_MAX_LENGTH and _IP.search(sender_ip):
        evidence["src_endpoint"] = {"ip": sender_ip}
        observe("src_endpoint.ip", "IP Address", sender_ip)
    if not evidence:  # nothing OCSF can type: the recipient (required of every record) as a user name
        evidence["user"] = {"name": str(alert.get("recipient") or alert.get("sender") or alert["alert_id"])}
    return evidence, observables


def _url(text: str) -> dict[str, Any]:
    url: dict[str, Any] = {"url_string": text}
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a truncated or odd URL: the string alone
        return url
    for key, value in (("scheme", parts.scheme), ("hostname", parts.hostname), ("path", parts.path),
                       ("query_string", parts.query)):
        if value:
            url[key] = value
    if port is not None:
        url["port"] = port
    return url


def _email(value: Any) -> str | None:
    return value if isinstance(value, str) and _EMAIL.search(value) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _caption(table: dict[str, int], wanted: int, source: Any) -> str:
    if wanted == 99 and _text(source):
        return str(source).strip()
    return next(name for name, number in table.items() if number == wanted)


def _data_source(endpoint: str) -> str:
    return "Mimecast SIEM receipt events" if endpoint == REJECTIONS else f"Mimecast TTP {endpoint} logs"


def _original_time(alert: Mapping[str, Any]) -> str | None:
    """The event time as the source wrote it: the TTP logs' text, a receipt event's epoch milliseconds."""
    raw = alert.get("raw")
    if not isinstance(raw, dict):
        return None
    for key in ("date", "eventTime"):
        if isinstance(raw.get(key), str):
            return raw[key]
    stamp = raw.get("timestamp")
    if type(stamp) is int:
        return str(stamp)
    return None
