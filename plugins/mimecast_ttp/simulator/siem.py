"""Mimecast API 2.0's SIEM batch listing and its pre-signed, gzipped NDJSON batch files.

``GET /siem/v1/batch/events/cg?type=receipt&pageSize=N[&dateRangeStartsAt=YYYY-MM-DD]
[&dateRangeEndsAt=YYYY-MM-DD][&nextPage=TOKEN]`` with ``Authorization: Bearer`` (a token of
``/oauth/token``; API 1.0 HMAC is refused here) answers, as the peers read it (Elastic's
``siem_logs`` CEL program, SEKOIA's ``connector_mimecast_siem.py`` and its fixtures, Rapid7)::

    {"value": [{"url": "...", "size": 489, "expiry": "2026-11-20T11:50:06.389Z"}, ...],
     "@nextPage": "<token>", "isCaughtUp": false}

Semantics chosen where nothing public is precise:

- One file per 15-minute slot of event time holding that slot's events (an empty slot has no
  file); a slot's file appears once the slot is over. Files are listed oldest first.
- ``dateRangeStartsAt`` and ``dateRangeEndsAt`` are UTC dates, both inclusive (Rapid7 sends the
  same date twice to read one day): the range is ``[start 00:00, end + 1 day 00:00)``. Omitted,
  the start is the day of now minus 7 days and the end today. A bad date, an end before the start
  or an unknown ``type`` (a comma list is accepted; only ``receipt`` holds files here) is a 400.
- The 7-day horizon: a slot starting before now minus 7 days is not listed (silently, as the range
  reaching back further is not an error); its URL answers 404 once the horizon passes it.
- ``pageSize`` counts files (default 100, capped at ``siem_page_size_max``). ``@nextPage`` is on
  every answer, even an empty one (SEKOIA's fixture): an opaque cursor "after the last file
  listed", bound to the request's type and dates (a 400 if they change), so a client that keeps it
  later sees the files published since. ``isCaughtUp`` is true when no listable file follows this
  page now. An empty listing is ``{"value": [], "@nextPage": <same cursor>, "isCaughtUp": true}``.
- Listing calls go through the shared rate limit (429 with the same headers); downloads do not:
  they sit under ``/_simulator/siem-files/`` like pre-signed storage URLs, fetched without a
  Bearer header. A URL lives ``siem_url_ttl_seconds`` from its listing; after that, or when
  forged, it answers 403 (S3-like XML); a well-signed URL of a slot without a file answers 404.

The SIEM's clock is ``config.siem_clock()`` (``siem_now``, else ``clock``).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import json
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mimecast_ttp.endpoints import REJECTIONS
from mimecast_ttp.simulator.paging import error_body
from mimecast_ttp.simulator.siem_events import SLOT_SECONDS, hour_events, slot_events

LISTING_PATH = "/siem/v1/batch/events/cg"
FILES_PATH = "/_simulator/siem-files"
EVENT_TYPES = ("receipt", "process", "delivery", "av", "spam", "journal", "internal email protect",
               "impersonation protect", "attachment protect", "url protect")
HORIZON_SECONDS = 7 * 86400
PAGE_SIZE_DEFAULT = 100
_CURSOR_KEY = b"mimecast-ttp-simulator siem cursors"
_FILE_NAME = re.compile(r"^receipt-(\d{10})\.json\.gz$")
_NON_JSON = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"


class ListingError(ValueError):
    """A listing request that cannot be served as sent (HTTP 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ListingError("err_validation_invalid_date", f"{name} {value!r} is not a date like 2026-11-20") from None


def _cursor(after: int | None, raw: tuple) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"a": after, "r": raw}).encode()).decode().rstrip("=")
    signature = hmac.new(_CURSOR_KEY, payload.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{payload}.{signature}"


def _read_cursor(token: str) -> tuple[int | None, tuple]:
    payload, _, signature = token.partition(".")
    expected = hmac.new(_CURSOR_KEY, payload.encode(), hashlib.sha256).hexdigest()[:16]
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise ListingError("err_invalid_next_page", "the nextPage token is not one this API issued")
    content = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return content["a"], tuple(content["r"])


def parse_listing(params, now: float, page_size_max: int) -> tuple[int | None, tuple, float, float, int]:
    """``(after, raw, start, end, page_size)``: cursor position, request key, range in epoch s, page size."""
    types = [t.strip() for t in (params.get("type") or "").split(",") if t.strip()]
    if not types or any(t not in EVENT_TYPES for t in types):
        raise ListingError("err_validation_invalid_type", f"type must be one or more of {', '.join(EVENT_TYPES)}")
    raw_size = params.get("pageSize", str(PAGE_SIZE_DEFAULT))
    if not raw_size.isdigit() or int(raw_size) < 1:
        raise ListingError("err_validation_invalid_page_size", f"pageSize {raw_size!r} must be a positive integer")
    raw = (",".join(types), params.get("dateRangeStartsAt"), params.get("dateRangeEndsAt"))
    after = None
    if params.get("nextPage"):
        after, bound = _read_cursor(params["nextPage"])
        if any(mine is not None and mine != theirs for mine, theirs in zip(raw, bound, strict=True)):
            raise ListingError("err_invalid_next_page", "the nextPage token belongs to another type or date range")
        raw = bound
    today = datetime.fromtimestamp(now, UTC).date()
    first = _day(raw[1], "dateRangeStartsAt") or datetime.fromtimestamp(now - HORIZON_SECONDS, UTC).date()
    last = _day(raw[2], "dateRangeEndsAt") or today
    if last < first:
        raise ListingError("err_validation_invalid_range", "dateRangeEndsAt is before dateRangeStartsAt")
    start = datetime.combine(first, datetime.min.time(), UTC).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC).timestamp()
    return after, raw, start, end, min(int(raw_size), page_size_max)


def listable_slots(config, start: float, end: float, now: float, types: str = "receipt") -> list[int]:
    """Slot starts (epoch s) with a file in ``[start, end)``: published, inside the horizon, not empty."""
    if "receipt" not in types.split(","):
        return []
    first = max(start, now - HORIZON_SECONDS)
    slot = int(-(-first // SLOT_SECONDS) * SLOT_SECONDS)  # a slot starting before the horizon is gone
    limit = min(end, now)  # and a slot's file appears once the slot is over
    slots = []
    while slot + SLOT_SECONDS <= limit:
        if slot in _filled_slots(config.seed, config.siem_volume, slot - slot % 3600):
            slots.append(slot)
        slot += SLOT_SECONDS
    return slots


@lru_cache(maxsize=1024)
def _filled_slots(seed: int, volume: int, hour: int) -> frozenset[int]:
    """The slot starts of an hour that hold at least one event (an empty slot has no file)."""
    return frozenset(ms // 1000 // SLOT_SECONDS * SLOT_SECONDS for ms, _ in hour_events(seed, volume, hour))


@lru_cache(maxsize=1024)
def file_bytes(seed: int, volume: int, slot: int) -> bytes:
    """A slot's batch file: NDJSON, one event a line, gzipped (``mtime=0``: the same bytes every time)."""
    lines = "".join(json.dumps(event, separators=(",", ":")) + "\n" for event in slot_events(seed, volume, slot))
    return gzip.compress(lines.encode(), mtime=0)


def sign(key: bytes, name: str, expires: int) -> str:
    return hmac.new(key, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()


def build_listing(state, base_url: str, params) -> dict[str, Any]:
    """The listing body for ``params`` (raises :class:`ListingError`)."""
    config = state.config
    now = config.siem_clock()
    after, raw, start, end, page_size = parse_listing(params, now, config.siem_page_size_max)
    if state.faults.take_siem("siem_empty_listing"):
        state.stats.bump("faults_injected", "siem_empty_listing")
        return {"value": [], "@nextPage": _cursor(after, raw), "isCaughtUp": True}
    remaining = [slot for slot in listable_slots(config, start, end, now, raw[0]) if after is None or slot > after]
    page = remaining[:page_size]
    expires = int(now) + config.siem_url_ttl_seconds
    expiry = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    value = []
    for slot in page:
        name = f"receipt-{slot}.json.gz"
        url = f"{base_url.rstrip('/')}{FILES_PATH}/{name}?expires={expires}&signature={sign(state.siem_key, name, expires)}"
        value.append({"url": url, "size": len(file_bytes(config.seed, config.siem_volume, slot)), "expiry": expiry})
    state.stats.count(pages_served=1)
    return {"value": value, "@nextPage": _cursor(page[-1] if page else after, raw),
            "isCaughtUp": len(remaining) <= page_size}


def _bearer_problem(request: Request, state) -> Response | None:
    """The TTP routes' API 2.0 token check; anything but a Bearer token (API 1.0 HMAC included) is a 401."""
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Bearer "):
        return JSONResponse(error_body(401, "unauthorized", "Authorization: Bearer <token> (API 2.0) is required",
                                       flat=True), status_code=401)
    problem = state.token_problem(authorization[len("Bearer "):].strip())
    if problem:
        return JSONResponse(error_body(401, *problem, flat=True), status_code=401)
    return None


async def listing_route(request: Request) -> Response:
    state = request.app.state.simulator
    denied = _bearer_problem(request, state)
    if denied is not None:
        state.stats.count(auth_failures=1)
        return denied
    state.stats.bump("by_endpoint", REJECTIONS)
    if REJECTIONS in state.config.unlicensed:
        return JSONResponse(error_body(403, "err_xdk_forbidden", f"This account is not licensed for {LISTING_PATH}"),
                            status_code=403)
    try:
        parse_listing(request.query_params, state.config.siem_clock(), state.config.siem_page_size_max)
    except ListingError as err:  # a bad request is a 400 before any fault
        return JSONResponse(error_body(400, err.code, str(err)), status_code=400)
    for fault in state.faults.draw(REJECTIONS):
        state.stats.bump("faults_injected", fault.kind)
        if fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
        elif fault.kind == "error":
            return JSONResponse(error_body(fault.status, "err_service_unavailable", "simulated server error",
                                           retryable=True), status_code=fault.status)
        elif fault.kind == "non_json":
            return Response(_NON_JSON, status_code=200, media_type="text/html")
    try:
        body = await run_in_threadpool(build_listing, state, str(request.base_url), request.query_params)
    except ListingError as err:
        return JSONResponse(error_body(400, err.code, str(err)), status_code=400)
    return JSONResponse(body)


def _storage_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


async def file_route(request: Request) -> Response:
    """A pre-signed batch file: no Bearer header, a signature and an expiry in the query."""
    state = request.app.state.simulator
    config = state.config
    name = request.path_params["name"]
    expires, signature = request.query_params.get("expires", ""), request.query_params.get("signature", "")
    if not (expires.isdigit() and signature):
        return _storage_error(403, "AccessDenied", "Query-string authentication requires expires and signature")
    if not hmac.compare_digest(signature.encode(), sign(state.siem_key, name, int(expires)).encode()):
        return _storage_error(403, "SignatureDoesNotMatch", "The request signature does not match")
    now = config.siem_clock()
    if state.faults.take_siem("siem_expired_download"):
        state.stats.bump("faults_injected", "siem_expired_download")
        return _storage_error(403, "AccessDenied", "Request has expired")
    if now >= int(expires):
        return _storage_error(403, "AccessDenied", "Request has expired")
    match = _FILE_NAME.match(name)
    slot = int(match.group(1)) if match else -1
    if slot % SLOT_SECONDS or slot not in listable_slots(config, slot, slot + SLOT_SECONDS, now):
        return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
    content = await run_in_threadpool(file_bytes, config.seed, config.siem_volume, slot)
    state.stats.count(siem_files_served=1)
    return Response(content, media_type="application/octet-stream")
