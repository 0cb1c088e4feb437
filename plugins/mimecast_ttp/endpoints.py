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
REJECTIONS = "rejections"  # the fourth source: SMTP rejections from the SIEM event stream (receipt events)
SOURCE_KEYS = (*ENDPOINT_KEYS, REJECTIONS)


@dataclass(frozen=True)
class Endpoint:
    """One TTP log endpoint as the API serves it."""

    key: str
    path: str
    records_key: str
    time_field: str
    request_filters: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def records_of(self, body: dict[str, Any]) -> list[Any]:
        """The records of a response body: those of every ``data`` element, in order.

        ``[]`` for either documented empty shape (``"data": []``, ``[{"clickLogs": []}]``). An
        element that is not an object holding the endpoint's array is a ``ValueError`` naming it:
        a page is read whole or not at all, never in part.
        """
        data = body.get("data")
        if data is None:
            return []
        if not isinstance(data, list):
            raise ValueError(f"{self.key}: data is {type(data).__name__}, expected an array")
        if len(data) == 1 and isinstance(data[0], dict):  # the shape of every real page
            records = data[0].get(self.records_key)
            if isinstance(records, list):
                return records
        records = []
        for index, element in enumerate(data):
            if not isinstance(element, dict):
                raise ValueError(f"{self.key}: data[{index}] is {type(element).__name__}, expected an object")
            if self.records_key not in element:
                found = ", ".join(sorted(map(str, element))) or "none"
                raise ValueError(f"{self.key}: data[{index}] has no {self.records_key!r} (keys: {found})")
            part = element[self.records_key]
            if not isinstance(part, list):
                raise ValueError(f"{self.key}: data[{index}].{self.records_key} is {type(part).__name__}, "
                                 "expected an array")
            records.extend(part)
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
