"""The simulator's HTTP surface: a Starlette app that answers like the Mimecast API.

Order of checks on a get-logs call, as the real gateway behaves: rate limit (429, call not
executed) -> authentication (2.0 bearer token or 1.0 HMAC headers; 401/418) -> licence (403) ->
request validation (400) -> armed faults -> the page. Every response outside ``/_simulator/``
carries the ``X-RateLimit-*`` headers.

``/_simulator/ground-truth``, ``/_simulator/stats``, ``/_simulator/faults`` (POST, arms a fault
on a running server, e.g. one started from the command line) and ``/_simulator/health`` are the
simulator's own, unauthenticated and unmetered. The SIEM batch listing and its pre-signed files
(``/_simulator/siem-files/``, unmetered like storage URLs) are in :mod:`.siem`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mimecast_ttp.endpoints import ENDPOINT_KEYS, REJECTIONS, SOURCE_KEYS, get_endpoint
from mimecast_ttp.simulator import siem
from mimecast_ttp.simulator.config import SimulatorConfig
from mimecast_ttp.simulator.credentials import hmac_signature
from mimecast_ttp.simulator.data import held_records
from mimecast_ttp.simulator.faults import Faults
from mimecast_ttp.simulator.login import LOGIN_PATH, IssuedKeys, login_route
from mimecast_ttp.simulator.paging import (
    LogsQuery,
    RequestError,
    error_body,
    make_token,
    parse_date,
    parse_logs_request,
    read_body,
    read_token,
    record_matches,
)
from mimecast_ttp.simulator.ratelimit import TokenBucket
from mimecast_ttp.simulator.siem_events import receipt_events
from mimecast_ttp.simulator.stats import SimulatorStats

NON_JSON_BODY = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"
_ERROR_CODES = {500: "err_internal_server_error", 502: "err_bad_gateway", 503: "err_service_unavailable",
                504: "err_gateway_timeout", 509: "err_bandwidth_limit_exceeded"}


def _fail(status: int, code: str, message: str, **kwargs: Any) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, **kwargs), status_code=status)


class RateLimitMiddleware:
    """The shared token bucket in front of everything but ``/_simulator/``; counts statuses."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_simulator/"):
            await self.app(scope, receive, send)
            return
        state = self.state
        config = state.config
        if state.bucket.per_minute != config.rate_limit:
            state.bucket.configure(config.rate_limit)
        decision = state.bucket.take()
        limit_headers = [(k.lower().encode(), v.encode())
                         for k, v in decision.headers(as_epoch=config.reset_as_epoch).items()]
        state.stats.count(requests=1)
        if not decision.allowed:
            state.stats.count(rate_limited=1)
            state.stats.bump("by_status", 429)
            body = json.dumps({"detail": f"Over throttling limit ({decision.limit}/minute)"}).encode()
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()), *limit_headers]})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.stats.bump("by_status", message["status"])
                message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SimulatorState:
    """Everything one server instance holds: scenario, faults, quota, tokens, counters, page cache."""

    def __init__(self, config: SimulatorConfig, faults: Faults, stats: SimulatorStats) -> None:
        self.config = config
        self.faults = faults
        self.stats = stats
        self.bucket = TokenBucket(config.rate_limit)
        self.issued_keys = IssuedKeys()  # API 1.0 keys handed out by the login API
        self.siem_key = secrets.token_bytes(32)  # signs this server's pre-signed SIEM file URLs
        self._tokens: dict[str, tuple[int, float]] = {}  # token -> (fault generation, expires at)
        self._tokens_lock = threading.Lock()
        self._results: OrderedDict[tuple, list] = OrderedDict()
        self._results_lock = threading.Lock()

    # --- API 2.0 tokens
    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        now = self.config.clock()
        with self._tokens_lock:
            if len(self._tokens) > 10_000:  # a long soak: forget tokens that are expired anyway
                self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (self.faults.token_generation, now + self.config.token_ttl)
        return token

    def token_problem(self, token: str) -> tuple[str, str] | None:
        with self._tokens_lock:
            issued = self._tokens.get(token)
        if issued is None:
            return "token_invalid", "The access token is not valid"
        generation, expires = issued
        if self.config.clock() >= expires or generation < self.faults.token_generation:
            return "token_expired", "The access token has expired"
        return None

    # --- query results, cached so paging a large window does not re-filter it per page
    def query_result(self, query: LogsQuery, now: float) -> list[str]:
        """The records (each already JSON) a query selects, in the order it asked for."""
        config = self.config
        end, inclusive = query.end, config.to_inclusive
        if end > now:  # records are whole seconds: clipping at the second keeps the cache key stable
            end, inclusive = float(int(now)), True
        key = (config.seed, config.volume, config.malformed_share, config.non_object_records, query.endpoint,
               query.start, end,
               inclusive, query.filters, query.oldest_first)
        with self._results_lock:
            cached = self._results.get(key)
            if cached is not None:
                self._results.move_to_end(key)
                return cached
        pairs = held_records(config, query.endpoint, query.start, end, end_inclusive=inclusive, now=now,
                             encoded=True)
        records = [text for record, text in pairs if not query.filters or record_matches(record, query.filters)]
        if not query.oldest_first:
            records.reverse()
        with self._results_lock:
            self._results[key] = records
            while len(self._results) > 12:
                self._results.popitem(last=False)
        return records


def _authenticate(request: Request, state: SimulatorState) -> Response | None:
    """None when the caller may proceed, else the 401/418 answer (never echoing a credential)."""
    config = state.config
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        problem = state.token_problem(authorization[len("Bearer "):].strip())
        if problem:
            return _fail(401, *problem, flat=True)
        return None
    if authorization.startswith("MC "):
        access_key, _, signature = authorization[3:].strip().partition(":")
        date, req_id = request.headers.get("x-mc-date"), request.headers.get("x-mc-req-id")
        app_id = request.headers.get("x-mc-app-id")
        if not (date and req_id and app_id and signature):
            return _v1_failure(401, "err_xdk_missing_header",
                               "x-mc-date, x-mc-req-id, x-mc-app-id and a signed Authorization are required")
        configured = hmac.compare_digest(access_key.encode(), config.access_key.encode())
        secret_key = config.secret_key if configured else state.issued_keys.secret_of(access_key)
        if app_id != config.app_id or secret_key is None:
            return _v1_failure(401, "err_xdk_invalid_signature", "0004 Invalid Signature")
        expected = hmac_signature(secret_key, date, req_id, request.url.path, config.app_key)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return _v1_failure(401, "err_xdk_invalid_signature", "0004 Invalid Signature")
        if config.keys_expired and configured:  # keys from the login API are fresh
            return _v1_failure(418, "err_xdk_binding_expired", "The binding has expired; create new keys")
        return None
    return _fail(401, "unauthorized", "Authorization: Bearer <token> (API 2.0) or MC <key>:<sig> (API 1.0) is required")


def _v1_failure(status: int, code: str, message: str) -> JSONResponse:
    """API 1.0's error envelope, shaped like the Rapid7 sample (``meta.isLastToken``, no ``data``)."""
    body = {"meta": {"isLastToken": False, "status": status},
            "fail": [{"errors": [{"code": code, "message": message, "retryable": False}]}]}
    return JSONResponse(body, status_code=status)


def build_page(state: SimulatorState, query: LogsQuery, now: float) -> tuple[bytes, int]:
    """The response body of one page and how many records it holds (records arrive as JSON)."""
    config = state.config
    endpoint = get_endpoint(query.endpoint)
    records = state.query_result(query, now)
    total = len(records)
    offset = read_token(query)
    meta: dict[str, Any] = {"status": 200}
    if config.omit_pagination:  # quirk: no pagination block, so everything comes in this answer
        page = records[offset:]
        next_token = None
    else:
        page = records[offset:offset + query.page_size]
        end = offset + len(page)
        next_token = None
        if end < total:
            next_token = make_token(query, end)
        elif config.empty_last_page_with_next and offset <= total:
            # the last page points at an empty page, which carries a `next` too (as captured); that
            # one points past the end, where an empty page without `next` ends any client's paging
            next_token = make_token(query, total if page else total + 1)
        pagination: dict[str, Any] = {"pageSize": query.page_size, "totalCount": total}
        if next_token:
            pagination["next"] = next_token
        meta["pagination"] = pagination
    head = json.dumps({"meta": meta}, separators=(",", ":"))[:-1]  # '{"meta":{...}' still open
    if page or config.empty_data_shape == "object":
        extra = f',"resultCount":{total}' if query.endpoint == "impersonation" else ""
        data = f'[{{"{endpoint.records_key}":[{",".join(page)}]{extra}}}]'
    else:
        data = "[]"
    return f'{head},"data":{data},"fail":[]}}'.encode(), len(page)


def _logs_route(endpoint_key: str):
    async def get_logs(request: Request) -> Response:
        state: SimulatorState = request.app.state.simulator
        config = state.config
        denied = _authenticate(request, state)
        if denied is not None:
            state.stats.count(auth_failures=1)
            return denied
        state.stats.bump("by_endpoint", endpoint_key)
        if endpoint_key in config.unlicensed:
            return _fail(403, "err_xdk_forbidden",
                         f"This account is not licensed for {get_endpoint(endpoint_key).path}")
        raw = await request.body()
        now = config.clock()
        try:
            body = read_body(raw)
            query = parse_logs_request(endpoint_key, body, now=now,
                                       page_size_default=config.page_size_default, page_size_max=config.page_size_max)
            read_token(query)  # a bad token is a 400 before any fault
        except RequestError as err:
            return _fail(400, err.code, str(err))
        for fault in state.faults.draw(endpoint_key):
            state.stats.bump("faults_injected", fault.kind)
            if fault.kind == "slow":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "error":
                return _fail(fault.status, _ERROR_CODES[fault.status], "simulated server error",
                             retryable=True)
            elif fault.kind == "non_json":
                return Response(NON_JSON_BODY, status_code=200, media_type="text/html")
            elif fault.kind == "fail_entry":
                code = "err_service_temporarily_unavailable" if fault.retryable else "err_validation_blocked"
                body_out = error_body(200, code, "simulated failure of this call",
                                      retryable=fault.retryable, key=(body.get("data") or [{}])[0])
                return JSONResponse(body_out)
        content, served = await run_in_threadpool(build_page, state, query, now)
        state.stats.count(pages_served=1, records_served=served)
        return Response(content, media_type="application/json")

    return get_logs


async def oauth_token(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type",
                             "error_description": "grant_type must be client_credentials"}, status_code=400)
    client_id, client_secret = form.get("client_id") or "", form.get("client_secret") or ""
    if not (hmac.compare_digest(client_id.encode(), state.config.client_id.encode())
            and hmac.compare_digest(client_secret.encode(), state.config.client_secret.encode())):
        state.stats.count(auth_failures=1)
        return JSONResponse({"error": "invalid_client", "error_description": "client authentication failed"},
                            status_code=401)
    state.stats.count(tokens_issued=1)
    return JSONResponse({"access_token": state.issue_token(), "token_type": "Bearer",
                         "expires_in": state.config.token_ttl, "scope": ""})


async def ground_truth_route(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    params = request.query_params
    endpoint = params.get("endpoint", "")
    if endpoint not in SOURCE_KEYS:
        return JSONResponse({"error": f"endpoint must be one of {', '.join(SOURCE_KEYS)}"}, status_code=400)
    try:
        start = parse_date(params.get("from"), "from")
        end = parse_date(params.get("to"), "to")
    except RequestError as err:
        return JSONResponse({"error": str(err)}, status_code=400)

    def render() -> bytes:
        if endpoint == REJECTIONS:
            records = receipt_events(state.config, start, end)
        else:
            records = held_records(state.config, endpoint, start, end, end_inclusive=False)
        return json.dumps(records, separators=(",", ":")).encode()

    return Response(await run_in_threadpool(render), media_type="application/json")


FAULT_METHODS = ("error_burst", "slow", "non_json", "fail_entry", "error_every", "slow_every", "non_json_every",
                 "fail_entry_every", "expire_tokens", "expire_siem_urls", "empty_siem_listing", "reset")


async def faults_route(request: Request) -> Response:
    """Arm a fault on a running simulator: ``{"method": "error_burst", "args": {"status": 503, "count": 3}}``."""
    state: SimulatorState = request.app.state.simulator
    try:
        order = json.loads(await request.body())
        method, args = order["method"], order.get("args") or {}
        if method not in FAULT_METHODS or not isinstance(args, dict):
            raise ValueError(f"method must be one of {', '.join(FAULT_METHODS)} and args an object")
        getattr(state.faults, method)(**args)
    except (ValueError, KeyError, TypeError) as err:
        return JSONResponse({"error": f"cannot arm fault: {err}"}, status_code=400)
    return JSONResponse({"faults_armed": state.faults.armed})


async def stats_route(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    return JSONResponse({**state.stats.snapshot(), "faults_armed": state.faults.armed})


async def health_route(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(config: SimulatorConfig, faults: Faults, stats: SimulatorStats) -> Starlette:
    """The ASGI app for one simulator instance."""
    state = SimulatorState(config, faults, stats)
    routes = [Route("/oauth/token", oauth_token, methods=["POST"]), Route(LOGIN_PATH, login_route, methods=["POST"])]
    routes += [Route(get_endpoint(key).path, _logs_route(key), methods=["POST"]) for key in ENDPOINT_KEYS]
    routes += [Route(siem.LISTING_PATH, siem.listing_route, methods=["GET"]),
               Route(siem.FILES_PATH + "/{name}", siem.file_route, methods=["GET"])]
    routes += [Route("/_simulator/ground-truth", ground_truth_route, methods=["GET"]),
               Route("/_simulator/stats", stats_route, methods=["GET"]),
               Route("/_simulator/faults", faults_route, methods=["POST"]),
               Route("/_simulator/health", health_route, methods=["GET"])]
    app = Starlette(routes=routes)
    app.state.simulator = state
    app.add_middleware(RateLimitMiddleware, state=state)
    return app
