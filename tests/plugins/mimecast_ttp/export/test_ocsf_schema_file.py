"""The shipped OCSF JSON Schema is exactly what ``scripts/ocsf_schema.py`` makes from the OCSF schema."""

from __future__ import annotations

import json
import subprocess
import sys

from jsonschema import Draft202012Validator

from mimecast_ttp.export.ocsf import OCSF_CLASS_UID, OCSF_VERSION, schema_path
from tests.conftest import REPO


def test_the_committed_schema_is_the_generated_one():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "ocsf_schema.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_the_schema_is_the_detection_finding_class_of_ocsf_1_5_0_with_security_control():
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"https://schema.ocsf.io/schema/{OCSF_VERSION}/classes/detection_finding?profiles=security_control"
    assert schema["properties"]["class_uid"]["const"] == OCSF_CLASS_UID
    assert {"finding_info", "metadata", "time", "severity_id"} <= set(schema["required"])
    assert {"action_id", "disposition_id", "is_alert", "evidences", "observables"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False  # strict: an attribute OCSF lacks fails validation
