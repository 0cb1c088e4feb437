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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mimecast_ttp.paths import include_dir
from mimecast_ttp.utc import as_utc

OCSF_VERSION = "1.5.0"
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
SEVERITY_IDS = {"Unknown": 0, "Informational": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5, "Fatal": 6,
                "Other": 99}
ACTION_IDS = {"Unknown": 0, "Allowed": 1, "Denied": 2, "Observed": 3, "Modified": 4, "Other": 99}
DISPOSITION_IDS = {
    "Unknown": 0, "Allowed": 1, "Blocked": 2, "Quarantined": 3, "Isolated": 4, "Deleted": 5, "Dropped": 6,
    "Custom Action": 7, "Approved": 8, "Restored": 9, "Exonerated": 10, "Corrected": 11,
    "Partially Corrected": 12, "Uncorrected": 13, "Delayed": 14, "Detected": 15, "No Action": 16, "Logged": 17,
    "Tagged": 18, "Alert": 19, "Count": 20, "Reset": 21, "Captcha": 22, "Challenge": 23, "Access Revoked": 24,
    "Rejected": 25, "Unauthorized": 26, "Error": 27, "Other": 99,
}  # fmt: skip
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
_TECHNIQUE_ID = re.compile(r"T\d{4}(\.\d{3})?")
_TACTIC_ID = re.compile(r"TA\d{4}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OcsfMappingError(ValueError):
    """``ocsf_mappings.json`` or ``mitre_attack.json`` cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Outcome:
    disposition_id: int
    disposition: str
    action_id: int
    action: str


@dataclass(frozen=True)
class OcsfMapping:
    """The checked rule data of the OCSF mapping (alert-rules.md §7)."""

    product: dict[str, str]
    features: dict[str, str]
    severity_by_verdict: dict[str, int]
    severity_without_verdict: dict[str, int]
    severity_otherwise: int
    outcome_by_action: dict[str, Outcome]
    outcome_without_action: Outcome
    outcome_otherwise: Outcome
    attack_version: str
    tactics: dict[str, str]
    techniques: dict[str, dict[str, Any]]
    _attacks: dict[tuple[str, str], list[dict]] = field(default_factory=dict, repr=False, compare=False)

    def severity(self, endpoint: str, verdict: str | None) -> int:
        """Severity id: by the trimmed, lower-cased verdict; without one, by endpoint; else the fallback."""
        if verdict is None or not str(verdict).strip():
            return self.severity_without_verdict.get(endpoint, self.severity_otherwise)
        return self.severity_by_verdict.get(str(verdict).strip().lower(), self.severity_otherwise)

    def outcome(self, action: str | None) -> Outcome:
        """Disposition and action: by the action's first comma-separated part, trimmed, lower case.

        Mimecast's attachment actions come in pairs (``block, none``): the first is what was done.
        A value the table does not know is ``Other`` (its text kept as the captions, as OCSF asks).
        """
        if action is None or not str(action).strip():
            return self.outcome_without_action
        key = str(action).split(",")[0].strip().lower()
        found = self.outcome_by_action.get(key)
        if found is not None:
            return found
        other = self.outcome_otherwise
        text = str(action).strip()
        return Outcome(other.disposition_id, text if other.disposition_id == 99 else other.disposition,
                       other.action_id, text if other.action_id == 99 else other.action)

    def attacks(self, threat_id: str, threat_name: str) -> list[dict]:
        """``finding_info.attacks``: one entry per tactic of the technique (a tactic id: itself)."""
        key = (threat_id, threat_name)
        found = self._attacks.get(key)
        if found is None:
            found = self._attacks[key] = self._build_attacks(threat_id, threat_name)
        return [dict(attack) for attack in found]

    def _build_attacks(self, threat_id: str, threat_name: str) -> list[dict]:
        version = {"version": self.attack_version}
        if _TACTIC_ID.fullmatch(threat_id):
            return [{"tactic": {"uid": threat_id, "name": self.tactics.get(threat_id, threat_name)}, **version}]
        if not _TECHNIQUE_ID.fullmatch(threat_id):
            return []  # the threat table accepts no other ids; nothing to say in ATT&CK terms
        parent_id = threat_id.split(".")[0]
        parent = self.techniques.get(parent_id, {})
        if parent_id == threat_id:
            technique = {"technique": {"uid": threat_id, "name": threat_name}}
        else:
            technique = {"technique": {"uid": parent_id, **({"name": parent["name"]} if parent else {})},
                         "sub_technique": {"uid": threat_id, "name": threat_name}}
        tactics = parent.get("tactics", [])
        if not tactics:  # a technique this data does not know: the technique alone, no tactic guessed
            return [{**technique, **version}]
        return [{**technique, "tactic": {"uid": tactic, "name": self.tactics[tactic]}, **version} for tactic in tactics]


def schema_path() -> Path:
    """The JSON Schema of the Detection Finding class of :data:`OCSF_VERSION`, shipped in ``include/``."""
    return include_dir() / "ocsf" / OCSF_VERSION / "detection_finding.schema.json"


@lru_cache(maxsize=1)
def validator():
    """A ``jsonschema`` validator (draft 2020-12) for the shipped schema; built once per process."""
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validation_errors(event: Mapping[str, Any], limit: int = 5) -> list[str]:
    """Up to ``limit`` schema violations of ``event``, each as ``path: message``; empty when it validates."""
    errors = []
    for error in validator().iter_errors(event):
        where = "/".join(str(part) for part in error.absolute_path) or "(event)"
        errors.append(f"{where}: {error.message[:300]}")
        if len(errors) >= limit:
            break
    return errors


def load_ocsf_mapping(path: str | Path | None = None, attack_path: str | Path | None = None) -> OcsfMapping:
    """Read and check ``include/ocsf_mappings.json`` and ``include/mitre_attack.json`` (or the given files)."""
    path = Path(path) if path else include_dir() / "ocsf_mappings.json"
    attack_path = Path(attack_path) if attack_path else include_dir() / "mitre_attack.json"
    data, attack = _read_object(path), _read_object(attack_path)

    def need(source: dict, key: str, kind: type, where: Path) -> Any:
        value = source.get(key)
        if not isinstance(value, kind):
            raise OcsfMappingError(f"{where}: {key!r} must be a JSON {'object' if kind is dict else 'string'}")
        return value

    def caption(value: Any, table: dict[str, int], what: str) -> int:
        if value not in table:
            raise OcsfMappingError(f"{path}: {what} {value!r} is not an OCSF {OCSF_VERSION} caption "
                                   f"(one of {', '.join(table)})")
        return table[value]

    def outcome(value: Any, what: str) -> Outcome:
        if not isinstance(value, dict) or set(value) != {"disposition", "action"}:
            raise OcsfMappingError(f"{path}: {what} must be {{\"disposition\": ..., \"action\": ...}}")
        return Outcome(caption(value["disposition"], DISPOSITION_IDS, f"{what} disposition"), value["disposition"],
                       caption(value["action"], ACTION_IDS, f"{what} action"), value["action"])

    product = need(data, "product", dict, path)
    if not isinstance(product.get("name"), str) or not product["name"].strip():
        raise OcsfMappingError(f"{path}: product needs a name")
    features = need(data, "features", dict, path)
    tactics = need(attack, "tactics", dict, attack_path)
    for uid, name in tactics.items():
        if not _TACTIC_ID.fullmatch(uid) or not isinstance(name, str) or not name.strip():
            raise OcsfMappingError(f"{attack_path}: tactic {uid!r}: {name!r} is not TA#### -> name")
    techniques = need(attack, "techniques", dict, attack_path)
    for uid, entry in techniques.items():
        if not _TECHNIQUE_ID.fullmatch(uid) or not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise OcsfMappingError(f"{attack_path}: technique {uid!r} needs a T#### or T####.### id and a name")
        unknown = [t for t in entry.get("tactics", []) if t not in tactics]
        if unknown or ("." in uid and "tactics" in entry) or ("." not in uid and not entry.get("tactics")):
            raise OcsfMappingError(f"{attack_path}: technique {uid!r}: a technique names its tactics (known ones: "
                                   f"{unknown or 'ok'}); a sub-technique takes its parent's")
    return OcsfMapping(
        product={k: v for k, v in product.items() if isinstance(v, str)},
        features={str(k): str(v) for k, v in features.items()},
        severity_by_verdict={k.strip().lower(): caption(v, SEVERITY_IDS, f"severity_by_verdict[{k!r}]")
                             for k, v in need(data, "severity_by_verdict", dict, path).items()},
        severity_without_verdict={k: caption(v, SEVERITY_IDS, f"severity_without_verdict[{k!r}]")
                                  for k, v in need(data, "severity_without_verdict", dict, path).items()},
        severity_otherwise=caption(data.get("severity_otherwise"), SEVERITY_IDS, "severity_otherwise"),
        outcome_by_action={k.strip().lower(): outcome(v, f"outcome_by_action[{k!r}]")
                           for k, v in need(data, "outcome_by_action", dict, path).items()},
        outcome_without_action=outcome(data.get("outcome_without_action"), "outcome_without_action"),
        outcome_otherwise=outcome(data.get("outcome_otherwise"), "outcome_otherwise"),
        attack_version=str(need(attack, "attack_version", str, attack_path)),
        tactics=dict(tactics),
        techniques=dict(techniques),
    )


@lru_cache(maxsize=1)
def default_ocsf_mapping() -> OcsfMapping:
    return load_ocsf_mapping()


def _read_object(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise OcsfMappingError(f"{path}: cannot be read as JSON ({err})") from None
    if not isinstance(data, dict):
        raise OcsfMappingError(f"{path}: must be a JSON object")
    return data


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
        "product": {**mapping.product, "feature": {"uid": endpoint, "name": feature}},
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
            "data_sources": [f"Mimecast TTP {endpoint} logs"],
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


def _original_time(alert: Mapping[str, Any]) -> str | None:
    raw = alert.get("raw")
    if not isinstance(raw, dict):
        return None
    for key in ("date", "eventTime"):
        if isinstance(raw.get(key), str):
            return raw[key]
    return None
