"""The alert type of a record (alert-rules.md §3).

Attachment and impersonation records have one type each (their endpoint's default alert type in
``alert_rules.json``). A url record's type comes from its own fields, as the user's source
describes: ``creationMethod`` when ``ttpDefinition`` is missing or blank, else ``reason``, and
``ttpDefinition`` itself when ``reason`` is missing or blank (no get-logs sample has a
``reason``). When the chosen field is blank too, the type is the endpoint's default,
``URL Protection``. Types are returned trimmed: the threat lookup compares trimmed values.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any

from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec

AlertTypeOf = Callable[[dict], str]


def _text(value: Any) -> str:
    return value.strip() if type(value) is str else ""


def url_alert_type(record: dict, default: str = "URL Protection") -> str:
    """The url rule of §3 with its fallback."""
    get = record.get
    definition = _text(get("ttpDefinition"))
    if not definition:
        chosen = _text(get("creationMethod"))
    else:
        chosen = _text(get("reason")) or definition
    return chosen or default


def build_alert_type_of(rules: EndpointRules) -> AlertTypeOf:
    default = rules.default_alert_type
    if rules.endpoint == "url":
        return partial(url_alert_type, default=default)
    return lambda record: default


@cache
def _alert_type_of(endpoint: str) -> AlertTypeOf:
    return build_alert_type_of(default_rule_spec().for_endpoint(endpoint))


def alert_type(endpoint: str, record: dict) -> str:
    """The (trimmed) alert type of ``record`` fetched from ``endpoint``."""
    return _alert_type_of(endpoint)(record)
