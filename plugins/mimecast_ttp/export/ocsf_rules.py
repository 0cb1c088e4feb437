"""The OCSF mapping's rule data, checked: severity by verdict (or by source, for a source whose
alerts all weigh the same: rejections), disposition and action by Mimecast action
(``include/ocsf_mappings.json``), ATT&CK tactics of the threat table's techniques
(``include/mitre_attack.json``). Plain Python; alert-rules.md §7 documents both files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from mimecast_ttp.export.ocsf_schema import OCSF_VERSION
from mimecast_ttp.paths import include_dir

# OCSF's captions for the ids (the enums of the Detection Finding class)
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
_TECHNIQUE_ID = re.compile(r"T\d{4}(\.\d{3})?")
_TACTIC_ID = re.compile(r"TA\d{4}")


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
    severity_of_endpoint: dict[str, int] = field(default_factory=dict)  # before any verdict
    _attacks: dict[tuple[str, str], list[dict]] = field(default_factory=dict, repr=False, compare=False)

    def severity(self, endpoint: str, verdict: str | None) -> int:
        """Severity id: the source's own when it has one; by the trimmed, lower-cased verdict; without one,
        by endpoint; else the fallback. (A rejection's verdict is its SMTP code: ``severity_of_endpoint``.)"""
        fixed = self.severity_of_endpoint.get(endpoint)
        if fixed is not None:
            return fixed
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
        severity_of_endpoint={k: caption(v, SEVERITY_IDS, f"severity_of_endpoint[{k!r}]")
                              for k, v in need({"severity_of_endpoint": {}, **data}, "severity_of_endpoint", dict,
                                               path).items()},
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
