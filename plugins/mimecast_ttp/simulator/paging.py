"""Reading a get-logs request and cutting its answer into pages, as the API documents it.

A request is ``{"meta": {"pagination": {"pageSize", "pageToken"}}, "data": [{"from", "to",
"oldestFirst", ...filters}]}``. Page tokens are opaque: an HMAC-signed offset bound to a digest of
the query, so a token replayed with another window or filter is refused (400) instead of silently
paging the wrong result set.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})$")
_TOKEN_KEY = b"mimecast-ttp-simulator page tokens"

# The documented filters per endpoint; "all" (or absence) means no filter.
FILTERS = {
    "attachment": ("route", "result"),
    "url": ("route", "scanResult"),
    "impersonation": ("taggedMalicious", "searchField", "query", "identifiers", "actions"),
}
_ENUMS = {
    "route": {"all", "inbound", "outbound", "internal"},
    "result": {"all", "safe", "malicious", "timeout", "error", "unsafe", "clean", "unknown"},
    "scanResult": {"all", "clean", "malicious"},
}
_SEARCH_FIELDS = {"all", "senderAddress", "recipientAddress", "subject", "senderIpAddress", "id"}


class RequestError(ValueError):
    """The request cannot be served as sent (HTTP 400); ``code`` is the fail entry's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_date(value: Any, name: str) -> float:
    """``2026-11-26T00:00:00+0000`` (also ``+00:00``, ``Z``, other offsets) to epoch seconds."""
    match = _DATE.match(value) if isinstance(value, str) else None
    if not match:
        raise RequestError("err_validation_invalid_date",
                           f"{name} {value!r} is not a date like 2026-11-26T00:00:00+0000")
    text, offset = match.groups()
    if offset != "Z" and ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    try:
        return datetime.fromisoformat(text + ("+00:00" if offset == "Z" else offset)).timestamp()
    except ValueError as err:
        raise RequestError("err_validation_invalid_date", f"{name} {value!r}: {err}") from None


@dataclass(frozen=True)
class LogsQuery:
    """One get-logs request, normalised."""

    endpoint: str
    start: float
    end: float
    oldest_first: bool
    filters: tuple = field(default_factory=tuple)  # sorted (name, value) pairs, "all" dropped
    page_size: int = 100
    page_token: str | None = None
    raw_window: tuple = ()  # (from, to) as sent: an omitted `to` ("now") keeps its token valid

    @property
    def digest(self) -> str:
        text = json.dumps([self.endpoint, self.raw_window, self.oldest_first, self.filters], default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def error_body(status: int, code: str, message: str, *, retryable: bool = False,
               key: Any = None, flat: bool = False) -> dict[str, Any]:
    """The documented failure envelope: ``fail[].errors[]`` with code, message and retryable.

    ``flat``: the entry also carries ``code`` and ``message`` itself, as API 2.0's 401s do for the
    published clients that read ``fail[0].code`` (``token_expired``) rather than ``errors[0]``.
    """
    entry: dict[str, Any] = {"errors": [{"code": code, "message": message, "retryable": retryable}]}
    if flat:
        entry = {"code": code, "message": message, **entry}
    if key is not None:
        entry = {"key": key, **entry}
    return {"meta": {"status": status}, "data": [], "fail": [entry]}


def read_body(raw: bytes) -> Any:
    """A get-logs request body: JSON, or a Python literal of one.

    Mimecast's published API 1.0 sample and the Azure Sentinel 1.0 connector post ``str(payload)``
    (single quotes, ``True``), which the real API evidently accepts since that code ships; so does
    this. Anything else is a 400 ``err_validation_invalid_body``.
    """
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as err:
        text = raw.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                return ast.literal_eval(text)  # literals only: no names, calls or operators are evaluated
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
        message = getattr(err, "msg", str(err))
        raise RequestError("err_validation_invalid_body", f"the request body is not JSON: {message}") from None


def parse_logs_request(endpoint: str, body: Any, *, now: float, page_size_default: int,
                       page_size_max: int) -> LogsQuery:
    if not isinstance(body, dict):
        raise RequestError("err_validation_invalid_body", "the request body must be a JSON object")
    meta = body.get("meta") or {}
    pagination = meta.get("pagination") or {} if isinstance(meta, dict) else {}
    if not isinstance(pagination, dict):
        raise RequestError("err_validation_invalid_body", "meta.pagination must be an object")
    page_size = pagination.get("pageSize", page_size_default)
    if isinstance(page_size, str) and page_size.isdigit():
        page_size = int(page_size)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise RequestError("err_validation_invalid_page_size", f"pageSize {page_size!r} must be a positive integer")
    token = pagination.get("pageToken")
    if token is not None and not isinstance(token, str):
        raise RequestError("err_invalid_page_token", "pageToken must be a string")
    data = body.get("data") or [{}]
    if not isinstance(data, list) or not isinstance(data[0], dict):
        raise RequestError("err_validation_invalid_body", "data must be an array holding one object")
    criteria = data[0]
    start_of_today = (now // 86400) * 86400
    start = parse_date(criteria["from"], "from") if "from" in criteria else start_of_today
    end = parse_date(criteria["to"], "to") if "to" in criteria else now
    if start > end:
        raise RequestError("err_validation_invalid_range", "from is later than to")
    oldest_first = criteria.get("oldestFirst", False)
    if isinstance(oldest_first, str) and oldest_first.lower() in ("true", "false"):
        oldest_first = oldest_first.lower() == "true"
    if not isinstance(oldest_first, bool):
        raise RequestError("err_validation_invalid_body", f"oldestFirst {oldest_first!r} must be true or false")
    filters = []
    for name in FILTERS[endpoint]:
        if name not in criteria:
            continue
        value = criteria[name]
        if name in _ENUMS:
            if value not in _ENUMS[name]:
                raise RequestError("err_validation_invalid_filter",
                                   f"{name} {value!r} must be one of {sorted(_ENUMS[name])}")
            if value != "all":
                filters.append((name, value))
        elif name == "taggedMalicious":
            if not isinstance(value, bool):
                raise RequestError("err_validation_invalid_filter", "taggedMalicious must be true or false")
            filters.append((name, value))
        elif name == "searchField":
            if value not in _SEARCH_FIELDS:
                raise RequestError("err_validation_invalid_filter",
                                   f"searchField {value!r} must be one of {sorted(_SEARCH_FIELDS)}")
            filters.append((name, value))
        elif name == "query":
            filters.append((name, str(value)))
        else:  # identifiers, actions: lists of strings
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise RequestError("err_validation_invalid_filter", f"{name} must be an array of strings")
            filters.append((name, tuple(sorted(value))))
    return LogsQuery(endpoint=endpoint, start=start, end=end, oldest_first=oldest_first,
                     filters=tuple(sorted(filters)), page_size=min(page_size, page_size_max),
                     page_token=token, raw_window=(criteria.get("from"), criteria.get("to")))


def _norm(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def record_matches(record: Any, filters: tuple) -> bool:
    """Whether a record passes the request's filters (a non-object record passes none)."""
    if not filters:
        return True
    if not isinstance(record, dict):
        return False
    params = dict(filters)
    for name, wanted in filters:
        if name in ("route", "result", "scanResult"):
            if _norm(record.get(name)) != wanted:
                return False
        elif name == "taggedMalicious":
            if _truthy(record.get("taggedMalicious")) is not wanted:
                return False
        elif name == "query":
            fields = ([params.get("searchField")] if params.get("searchField", "all") != "all"
                      else ["senderAddress", "recipientAddress", "subject", "senderIpAddress", "id"])
            needle = wanted.lower()
            if not any(needle in str(record.get(f, "")).lower() for f in fields):
                return False
        elif name == "identifiers":
            have = record.get("identifiers")
            if not isinstance(have, list) or not set(have) & set(wanted):
                return False
        elif name == "actions":
            if _norm(record.get("action")) not in {w.lower() for w in wanted}:
                return False
    return True


def make_token(query: LogsQuery, offset: int) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"o": offset, "q": query.digest}).encode()).decode().rstrip("=")
    signature = hmac.new(_TOKEN_KEY, payload.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{payload}.{signature}"


def read_token(query: LogsQuery) -> int:
    """The offset a page token points at; 0 without a token; 400 for a forged or foreign token."""
    token = query.page_token
    if not token:
        return 0
    payload, _, signature = token.partition(".")
    expected = hmac.new(_TOKEN_KEY, payload.encode(), hashlib.sha256).hexdigest()[:16]
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise RequestError("err_invalid_page_token", "the pageToken is not one this API issued")
    content = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if content["q"] != query.digest:
        raise RequestError("err_invalid_page_token",
                           "the pageToken belongs to another query (window, order or filters differ)")
    return int(content["o"])


def isoformat(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
