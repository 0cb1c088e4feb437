"""The alert type of a record (alert-rules.md §3, §8).

Attachment and impersonation records have one type each (their endpoint's default alert type in
``alert_rules.json``). A url record's type comes from its own fields, as the user's source
describes: ``creationMethod`` when ``ttpDefinition`` is missing or blank, else ``reason``, and
``ttpDefinition`` itself when ``reason`` is missing or blank (no get-logs sample has a
``reason``). When the chosen field is blank too, the type is the endpoint's default,
``URL Protection``. A rejection's type is the first threat-table alert type its texts name
(:mod:`mimecast_ttp.rules.rejections`), so it depends on the table. Types are returned trimmed:
the threat lookup compares trimmed values.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any

from mimecast_ttp.rules.rejections import build_search_alert_type_of
from mimecast_ttp.rules.spec import EndpointRules, default_rule_spec
from mimecast_ttp.rules.threats import ThreatTable, load_threat_table

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


def build_alert_type_of(rules: EndpointRules, table: ThreatTable | None = None) -> AlertTypeOf:
    """The alert type function of one source; a source that searches the table uses ``table`` (default: the packaged one)."""
    default = rules.default_alert_type
    if rules.alert_type_search:
        return build_search_alert_type_of(rules, table if table is not None else _default_table())
    if rules.endpoint == "url":
        return partial(url_alert_type, default=default)
    return lambda record: default


@cache
def _default_table() -> ThreatTable:
    return load_threat_table()


@cache
def _alert_type_of(endpoint: str) -> AlertTypeOf:
    return build_alert_type_of(default_rule_spec().for_endpoint(endpoint))


def alert_type(endpoint: str, record: dict, table: ThreatTable | None = None) -> str:
    """The (trimmed) alert type of ``record`` fetched from ``endpoint``.

    ``table`` matters only for a source whose type is searched in the threat table (rejections);
    without one, the packaged table (``include/threat_mappings.json``) is used.
    """
    if table is not None:
        return build_alert_type_of(default_rule_spec().for_endpoint(endpoint), table)(record)
    return _alert_type_of(endpoint)(record)
