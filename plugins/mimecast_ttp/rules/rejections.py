"""The alert type of a rejection (alert-rules.md §8): the first threat-table alert type its texts name.

Which of ``rejectionType``, ``rejectionInfo`` or ``receiptErrors`` carries the gateway's texts
("Invalid Recipient", "IP Temporarily Blacklisted", ...) is documented nowhere public, so every
one is searched, in the order ``alert_type_search`` of ``alert_rules.json`` gives. "First" means
field order first, then the threat table's row order within a field: the type is the first row
whose alert type occurs in the first field that holds any. A row occurs when its (trimmed) alert
type is a substring of the field's text, ignoring case (``str.casefold``); whitespace inside a
text is compared as it is. ``receiptErrors`` may be a string or a list of strings: each string is
searched (as if joined with newlines, which no alert type holds, so no match spans two). When no
row occurs, the type is the text of ``alert_type_otherwise`` (``rejectionType``), trimmed, or the
source's ``default_alert_type`` (``SMTP Rejection``) when that is blank: an unmapped type, given
the source's ``default_threat``.

The search runs against the table the alerts are mapped with, so an operator's own rows map
too. Results are memoised per distinct text (a feed repeats few texts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mimecast_ttp.rules.spec import EndpointRules
from mimecast_ttp.rules.threats import ThreatTable

MAX_TEXTS = 4096  # distinct texts remembered per search


def searched_text(value: Any) -> str:
    """The text of a searched field: a string as it is, a list's strings joined by newlines, else ``""``."""
    if type(value) is str:
        return value
    if type(value) is list:
        return "\n".join(item for item in value if type(item) is str)
    return ""


class TableTypeSearch:
    """The first alert type of ``table`` (in row order) that occurs in a text, ignoring case."""

    def __init__(self, table: ThreatTable) -> None:
        self.rows = tuple((row.alert_type.casefold(), row.alert_type) for row in table.rows)
        self.found: dict[str, str | None] = {}

    def first_in(self, text: str) -> str | None:
        try:
            return self.found[text]
        except KeyError:
            pass
        folded = text.casefold()
        found = next((alert_type for needle, alert_type in self.rows if needle in folded), None)
        if len(self.found) >= MAX_TEXTS:
            self.found.clear()
        self.found[text] = found
        return found


def build_search_alert_type_of(rules: EndpointRules, table: ThreatTable) -> Callable[[dict], str]:
    """The alert type function of a source with ``alert_type_search`` (the rejections source)."""
    fields, otherwise, default = rules.alert_type_search, rules.alert_type_otherwise, rules.default_alert_type
    first_in = TableTypeSearch(table).first_in

    def alert_type_of(record: dict) -> str:
        get = record.get
        for name in fields:
            text = searched_text(get(name))
            if text:
                found = first_in(text)
                if found is not None:
                    return found
        chosen = get(otherwise) if otherwise is not None else None
        chosen = chosen.strip() if type(chosen) is str else ""
        return chosen or default

    return alert_type_of
