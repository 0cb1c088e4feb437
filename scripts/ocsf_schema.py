"""Write the OCSF Detection Finding JSON Schema that ``mimecast-ttp export`` events are held to.

The OCSF schema is published in OCSF's own format (the schema server's ``/export/schema``
document: classes, objects, types, profiles). The package ``ocsf-json-schema`` (PyPI, MIT; pinned
in ``requirements.txt``) bundles those exports for every OCSF release and turns a class into a JSON
Schema (draft 2020-12) with every referenced object embedded under ``$defs``. This script asks it
for class 2004, ``detection_finding``, with the ``security_control`` profile (which brings
``action_id``, ``disposition_id`` and ``attacks``), and writes the result, unchanged but for a
stable key order, to ``include/ocsf/<version>/detection_finding.schema.json``.

Nothing is fetched: the schema comes from the installed package. The file is committed, so the
package needs neither ``ocsf-json-schema`` nor the network at run time;
``tests/plugins/mimecast_ttp/export/test_ocsf_schema_file.py`` checks it is what this script makes.

    .venv/bin/python scripts/ocsf_schema.py            # rewrite the committed file
    .venv/bin/python scripts/ocsf_schema.py --check    # exit 1 when it differs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from mimecast_ttp.export.ocsf import (  # noqa: E402 - after the path
    OCSF_CLASS_NAME,
    OCSF_CLASS_UID,
    OCSF_PROFILES,
    OCSF_VERSION,
    schema_path,
)


def generate(version: str = OCSF_VERSION) -> dict:
    """The JSON Schema of the Detection Finding class of OCSF ``version``, objects embedded."""
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=version))
    name = schema.lookup_class_name_from_uid(OCSF_CLASS_UID)
    if name != OCSF_CLASS_NAME:
        raise SystemExit(f"OCSF {version}: class {OCSF_CLASS_UID} is {name!r}, not {OCSF_CLASS_NAME!r}")
    return schema.get_class_schema(class_name=name, profiles=list(OCSF_PROFILES))


def render(schema: dict) -> str:
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    args = parser.parse_args(argv)
    text = render(generate())
    target = schema_path()
    if args.check:
        same = target.is_file() and target.read_text(encoding="utf-8") == text
        print(f"{target.relative_to(REPO)}: {'up to date' if same else 'differs from what ocsf-json-schema makes'}")
        return 0 if same else 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target.relative_to(REPO)} (OCSF {OCSF_VERSION}, {OCSF_CLASS_NAME}, "
          f"profiles {', '.join(OCSF_PROFILES)}; {len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
