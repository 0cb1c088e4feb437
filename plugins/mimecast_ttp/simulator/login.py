"""API 1.0's ``POST /api/login/login``: fresh access and secret keys, as published clients ask after a 418.

Mimecast's API 1.0 keys are bound to a login and expire (HTTP 418 ``err_xdk_binding_expired``).
Published clients then call the login API with ``Authorization: Basic-Cloud base64(user:password)``
(or ``Basic-AD``), the ``x-mc-app-id``, ``x-mc-date`` and ``x-mc-req-id`` headers and, usually,
``x-mc-api-version: 2014.6.1``, and read the new keys from ``data[0].accessKey`` / ``secretKey``.
The simulator accepts its configured user (``SimulatorConfig.user_name`` / ``user_password``) and
remembers the keys it issued: they sign requests like the configured ones and never expire.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mimecast_ttp.simulator.paging import error_body

LOGIN_PATH = "/api/login/login"


class IssuedKeys:
    """API 1.0 keys issued by the login API: access key -> secret key (base64)."""

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self) -> tuple[str, str]:
        access_key = "simulator-login-" + secrets.token_hex(12)
        secret_key = base64.b64encode(secrets.token_bytes(48)).decode()
        with self._lock:
            self._keys[access_key] = secret_key
        return access_key, secret_key

    def secret_of(self, access_key: str) -> str | None:
        with self._lock:
            return self._keys.get(access_key)


def _failure(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(status, code, message), status_code=status)


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, encoded = authorization.partition(" ")
    if scheme not in ("Basic-Cloud", "Basic-AD") or not encoded.strip():
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


async def login_route(request: Request) -> Response:
    state = request.app.state.simulator
    config = state.config
    headers = request.headers
    if not (headers.get("x-mc-date") and headers.get("x-mc-req-id") and headers.get("x-mc-app-id")):
        return _failure(401, "err_xdk_missing_header", "x-mc-date, x-mc-req-id and x-mc-app-id are required")
    credentials = _basic_credentials(headers.get("authorization", ""))
    if headers.get("x-mc-app-id") != config.app_id or credentials is None or not (
            hmac.compare_digest(credentials[0].encode(), config.user_name.encode())
            and hmac.compare_digest(credentials[1].encode(), config.user_password.encode())):
        state.stats.count(auth_failures=1)
        return _failure(401, "err_xdk_invalid_credentials", "the user name, password or application id is wrong")
    access_key, secret_key = state.issued_keys.issue()
    return JSONResponse({"meta": {"status": 200}, "fail": [], "data": [{
        "accessKey": access_key, "secretKey": secret_key, "userName": config.user_name,
        "bindingType": "one_step", "duration": 0, "extendOnValidate": False}]})
