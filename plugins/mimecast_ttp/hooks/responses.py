"""What an answer of the API means: a page, a token, or an error that says whether to try again.

Mimecast says "not now" and "never" in many ways: a status code, a ``fail`` array inside a 200, a
body that is not JSON or not a get-logs envelope. Everything here is judged from the response
alone (no I/O), so each answer maps to exactly one outcome: a :class:`~.paging.Page`, a transient
failure the retry layer repeats, or a :class:`~.errors.MimecastError` naming endpoint and status.
"""

from __future__ import annotations

from typing import Any

import requests

from mimecast_ttp.endpoints import Endpoint
from mimecast_ttp.hooks.errors import (
    MimecastAuthError,
    MimecastEndpointNotLicensed,
    MimecastKeysExpired,
    MimecastResponseError,
    _TransientFailure,
    _UnreadableBody,
)
from mimecast_ttp.hooks.paging import Page
from mimecast_ttp.json_lines import TooDeeplyNested, loads

TOKEN_PATH = "/oauth/token"
TRANSIENT_STATUSES = frozenset({408, 425, 500, 502, 503, 504, 509})


def fail_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every error of the ``fail`` array, each as ``{"code", "message", "retryable"}``."""
    errors = []
    for entry in body.get("fail") or []:
        entry_errors = entry.get("errors") if isinstance(entry, dict) else None
        if not isinstance(entry_errors, list) or not entry_errors:
            errors.append({"code": "unknown", "message": str(entry)[:200], "retryable": False})
            continue
        for error in entry_errors:
            error = error if isinstance(error, dict) else {"message": str(error)}
            retryable = error.get("retryable")
            errors.append({
                "code": str(error.get("code") or "unknown"),
                "message": str(error.get("message") or ""),
                "retryable": retryable is True or str(retryable).lower() == "true",
            })
    return errors


def envelope_problem(body: Any) -> str | None:
    """Why a parsed body is not a get-logs envelope, or None when it is one."""
    if not isinstance(body, dict):
        return f"a JSON {type(body).__name__}, not an object"
    if "data" not in body:
        return "no 'data' array"
    if not isinstance(body["data"], list):
        return "'data' is not an array"
    if not isinstance(body.get("fail", []), list):
        return "'fail' is not an array"
    meta = body.get("meta") or {}  # absent or null: no paging information, one page
    if not isinstance(meta, dict):
        return "'meta' is not an object"
    if not isinstance(meta.get("pagination") or {}, dict):
        return "'meta.pagination' is not an object"
    return None


def read_token(response: requests.Response, conn_id: str) -> tuple[str, float]:
    """The ``access_token`` and its lifetime in seconds from a token answer, or the error it is."""
    status = response.status_code
    if status in {400, 401, 403}:
        codes = _body_codes(response)
        raise MimecastAuthError(
            f"connection {conn_id!r}: POST {TOKEN_PATH} refused the client id and secret "
            f"(HTTP {status}){_detail(codes)}; check the connection's login and password",
            path=TOKEN_PATH, status=status, codes=tuple(e["code"] for e in codes))
    if status != 200:
        raise_unexpected(response, TOKEN_PATH, "the token endpoint")
    try:
        body = loads(response.content)
        value = body["access_token"]
        expires_in = float(body.get("expires_in", 1799))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise _TransientFailure(f"POST {TOKEN_PATH} answered HTTP 200 without a readable access_token",
                                status=status) from None
    if not isinstance(value, str) or not value:
        raise _TransientFailure(f"POST {TOKEN_PATH} answered HTTP 200 with an empty access_token", status=status)
    return value, expires_in


def raise_for_status(response: requests.Response, endpoint: Endpoint, *, conn_id: str, api_version: int) -> None:
    """Nothing for a 200; otherwise the error the status means for a get-logs call."""
    status, path = response.status_code, endpoint.path
    if status == 200:
        return
    codes = _body_codes(response)
    detail, code_names = _detail(codes), tuple(e["code"] for e in codes)
    if status == 401:
        hint = ("even with a freshly minted token; check the client's permissions"
                if api_version == 2 else "check the access key, secret key, app id and app key")
        raise MimecastAuthError(f"{endpoint.key}: POST {path} answered HTTP 401{detail} {hint} "
                                f"(connection {conn_id!r})", path=path, status=status, codes=code_names)
    if status == 403:
        raise MimecastEndpointNotLicensed(
            f"{endpoint.key}: POST {path} answered HTTP 403{detail}: the account behind connection "
            f"{conn_id!r} is not licensed or not permitted for this endpoint", path=path, status=status,
            codes=code_names)
    if status == 418:
        raise MimecastKeysExpired(
            f"{endpoint.key}: POST {path} answered HTTP 418{detail}: the API 1.0 keys of connection "
            f"{conn_id!r} have expired; issue new access and secret keys in the Mimecast console and "
            f"update the connection (retrying will not help)", path=path, status=status, codes=code_names)
    raise_unexpected(response, path, endpoint.key)


def raise_unexpected(response: requests.Response, path: str, label: str) -> None:
    """A status with no meaning of its own: transient (5xx and the like) or a plain response error."""
    status = response.status_code
    codes = _body_codes(response)
    if status in TRANSIENT_STATUSES:
        raise _TransientFailure(f"{label}: POST {path} answered HTTP {status}{_detail(codes)}", status=status)
    raise MimecastResponseError(f"{label}: POST {path} answered HTTP {status}{_detail(codes)}",
                                path=path, status=status, codes=tuple(e["code"] for e in codes))


def read_page(response: requests.Response, endpoint: Endpoint, number: int) -> Page:
    """A 200's body as a checked page, or the exception saying why it is not one."""
    raw, status, path = response.content, response.status_code, endpoint.path
    where = f"{endpoint.key} page {number}: POST {path} answered HTTP {status}"
    try:
        body = loads(raw)
    except TooDeeplyNested as err:
        raise _UnreadableBody(f"{where} with a body that is {err} ({len(raw)} bytes)", status=status) from None
    except ValueError:
        raise _UnreadableBody(f"{where} with a body that is not JSON ({len(raw)} bytes, {_preview(raw)})",
                              status=status) from None
    problem = envelope_problem(body)
    if problem:
        raise _UnreadableBody(f"{where} with a body that is not a get-logs envelope: {problem}", status=status)
    errors = fail_errors(body)
    if errors:
        if all(e["retryable"] for e in errors):
            raise _TransientFailure(f"{where} with retryable fail entries: {_describe(errors)}", status=status)
        raise MimecastResponseError(f"{where} with fail entries: {_describe(errors)}",
                                    path=path, status=status, codes=tuple(e["code"] for e in errors))
    try:
        records = endpoint.records_of(body)
    except ValueError as err:
        raise _UnreadableBody(f"{where} with a malformed records array: {err}", status=status) from None
    next_token = ((body.get("meta") or {}).get("pagination") or {}).get("next") or None
    return Page(number=number, body=raw, records=records,
                next_token=str(next_token) if next_token is not None else None, status=status)


def _describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['code']}: {e['message']}".rstrip(": ") for e in errors)


def _detail(codes: list[dict[str, Any]]) -> str:
    return f" ({_describe(codes)})" if codes else ""


def _body_codes(response: requests.Response) -> list[dict[str, Any]]:
    """The ``fail`` errors of an error response, when its body has any (best effort)."""
    try:
        body = loads(response.content)
    except ValueError:
        return []
    return fail_errors(body) if isinstance(body, dict) and isinstance(body.get("fail"), list) else []


def _preview(content: bytes) -> str:
    text = content[:80].decode("utf-8", errors="replace")
    return repr(text) + ("..." if len(content) > 80 else "")
