"""The three Mimecast TTP log endpoints, read from ``include/mimecast_endpoints.json``.

The API facts (path, where the records sit in a response, which field holds the event time, the
request filters that ask for every verdict) are data, so a change on Mimecast's side is an edit to
that file, not to code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mimecast_ttp.paths import include_dir

ENDPOINT_KEYS = ("attachment", "impersonation", "url")


@dataclass(frozen=True)
class Endpoint:
    """One TTP log endpoint as the API serves it."""

    key: str
    path: str
    records_key: str
    time_field: str
    request_filters: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def records_of(self, body: dict[str, Any]) -> list[Any]:
        """The records array of a response body; ``[]`` for either documented empty shape."""
        data = body.get("data") or []
        if not data:
            return []
        first = data[0]
        if not isinstance(first, dict):
            raise ValueError(f"{self.key}: data[0] is {type(first).__name__}, expected an object")
        records = first.get(self.records_key, [])
        if not isinstance(records, list):
            raise ValueError(f"{self.key}: data[0].{self.records_key} is not an array")
        return records


def load_endpoints(path: Path | None = None) -> dict[str, Endpoint]:
    """Read and check the endpoint definitions; an error names the file and the entry."""
    path = path or include_dir() / "mimecast_endpoints.json"
    raw = json.loads(Path(path).read_text())
    endpoints = {}
    for key, spec in raw.items():
        try:
            endpoints[key] = Endpoint(
                key=key,
                path=spec["path"],
                records_key=spec["records_key"],
                time_field=spec["time_field"],
                request_filters=MappingProxyType(dict(spec.get("request_filters", {}))),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: endpoint {key!r} is missing or has a malformed {err}") from err
    missing = set(ENDPOINT_KEYS) - endpoints.keys()
    if missing:
        raise ValueError(f"{path}: no definition for endpoint(s) {sorted(missing)}")
    return endpoints


@cache
def _default_endpoints() -> dict[str, Endpoint]:
    return load_endpoints()


def get_endpoint(key: str) -> Endpoint:
    """The definition of endpoint ``key`` (``attachment``, ``impersonation`` or ``url``)."""
    try:
        return _default_endpoints()[key]
    except KeyError:
        raise ValueError(f"unknown endpoint {key!r}; expected one of {', '.join(ENDPOINT_KEYS)}") from None
