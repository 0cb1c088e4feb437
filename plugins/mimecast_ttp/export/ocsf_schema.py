"""The JSON Schema every exported event is held to: OCSF's Detection Finding class, shipped in
``include/ocsf/`` (made by ``scripts/ocsf_schema.py`` from the schema bundled in ``ocsf-json-schema``),
so nothing is fetched at run time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from mimecast_ttp.paths import include_dir

OCSF_VERSION = "1.5.0"


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
