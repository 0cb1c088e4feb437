"""The Mimecast connection, read once and checked: what the hook needs from it, or an error naming the field.

Connection type ``mimecast`` (the provider's form, :mod:`mimecast_ttp.provider`) or legacy
``http``: host (or a base URL), login and password, and the extras ``api_version``, ``app_id``,
``app_key``, ``page_size``, ``timeout``, ``verify`` (plain or with the form's ``extra__mimecast__``
prefix).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mimecast_ttp.hooks.errors import MimecastConfigurationError

GLOBAL_API2_URL = "https://api.services.mimecast.com"
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000  # the most any client of these endpoints is seen asking for; the DAG param's bound too
DEFAULT_TIMEOUT_SECONDS = 60.0
# Settings of ours that live in the connection's extra: never sent as headers.
MIMECAST_EXTRAS = frozenset({"api_version", "page_size", "timeout", "verify", "app_id", "app_key"})
# The HTTP provider's session extras: honoured (proxies, cert, trust_env) or meaningless here
# (redirects are never followed, responses always checked); none is sent as a header.
SESSION_EXTRAS = frozenset({"proxies", "proxy", "cert", "trust_env", "stream", "verify_ssl", "allow_redirects",
                            "max_redirects", "check_response", "srv_lookup"})


@dataclass(frozen=True)
class MimecastConnectionConfig:
    """The connection, checked once. Secrets are left out of ``repr`` so a log of this object is safe."""

    conn_id: str
    api_version: int
    base_url: str
    page_size: int
    timeout: float
    verify: bool | str
    login: str = field(repr=False)
    password: str = field(repr=False)
    app_id: str | None = field(default=None, repr=False)
    app_key: str | None = field(default=None, repr=False)
    proxies: dict[str, str] = field(default_factory=dict, repr=False)  # a proxy URL may hold a password
    cert: str | None = None
    trust_env: bool = True
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # the other extras, as HttpHook sends them

    @classmethod
    def from_connection(cls, conn: Any) -> MimecastConnectionConfig:
        conn_id = conn.conn_id
        extra = mimecast_extras(conn.extra_dejson or {})

        def fail(message: str) -> MimecastConfigurationError:
            return MimecastConfigurationError(f"connection {conn_id!r}: {message}")

        api_version = _api_version(extra.get("api_version") or "2", fail)
        login = (conn.login or "").strip()
        password = (conn.password or "").strip()
        what = ("client id", "client secret") if api_version == 2 else ("access key", "secret key")
        if not login:
            raise fail(f"login (the API {api_version}.0 {what[0]}) is empty")
        if not password:
            raise fail(f"password (the API {api_version}.0 {what[1]}) is empty")
        app_id = app_key = None
        if api_version == 1:
            app_id = str(extra.get("app_id") or "").strip()
            app_key = str(extra.get("app_key") or "").strip()
            if not app_id:
                raise fail("extra app_id (the API 1.0 application id) is required when api_version is 1")
            if not app_key:
                raise fail("extra app_key (the API 1.0 application key) is required when api_version is 1")
            try:
                base64.b64decode(password, validate=True)
            except (binascii.Error, ValueError):
                raise fail("password (the API 1.0 secret key) is not valid base64") from None
        return cls(
            conn_id=conn_id,
            api_version=api_version,
            base_url=_base_url(conn, api_version, fail),
            page_size=_page_size(_given(extra.get("page_size"), DEFAULT_PAGE_SIZE), fail),
            timeout=_positive_number(_given(extra.get("timeout"), DEFAULT_TIMEOUT_SECONDS), "timeout", fail),
            verify=_verify(_given(extra.get("verify"), True), fail),
            login=login,
            password=password,
            app_id=app_id,
            app_key=app_key,
            proxies=_proxies(extra.get("proxies", extra.get("proxy")), fail),
            cert=str(extra["cert"]) if extra.get("cert") else None,
            trust_env=_verify(_given(extra.get("trust_env"), True), fail, name="trust_env") is not False,
            headers={str(k): str(v) for k, v in extra.items() if k not in MIMECAST_EXTRAS | SESSION_EXTRAS},
        )


def _api_version(value: Any, fail: Callable[[str], MimecastConfigurationError]) -> int:
    text = str(value).strip().lower().removeprefix("v")
    if text in {"2", "2.0"}:
        return 2
    if text in {"1", "1.0"}:
        return 1
    raise fail(f"extra api_version={value!r} must be \"2\" (OAuth, the default) or \"1\" (HMAC keys)")


def _base_url(conn: Any, api_version: int, fail: Callable[[str], MimecastConfigurationError]) -> str:
    host = (conn.host or "").strip()
    if not host:
        if api_version == 1:
            raise fail("host is empty: API 1.0 needs your region's host, e.g. https://eu-api.mimecast.com")
        host = GLOBAL_API2_URL
    url = host if "://" in host else f"{(conn.schema or 'https').strip().lower()}://{host}"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise fail(f"host/schema give scheme {scheme!r}; use https")
    if not parts.hostname:
        raise fail(f"host={conn.host!r} has no host name")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise fail("host must be a plain base URL (no credentials, query or fragment)")
    if scheme == "http" and not _is_loopback(parts.hostname):
        raise fail(f"plain http:// to {parts.hostname} is refused; use https (http is for loopback only)")
    try:
        port = parts.port or conn.port
    except ValueError:
        raise fail(f"host={conn.host!r} has an invalid port") from None
    netloc = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port:
        netloc = f"{netloc}:{int(port)}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


FORM_PREFIX = "extra__mimecast__"  # how older Airflow UIs store a connection form's own fields


def mimecast_extras(extra: dict[str, Any]) -> dict[str, Any]:
    """The connection's extras with the form's prefixed names (``extra__mimecast__app_id``) made plain."""
    plain = {k: v for k, v in extra.items() if not k.startswith(FORM_PREFIX)}
    for key, value in extra.items():
        if key.startswith(FORM_PREFIX) and value not in (None, ""):
            plain.setdefault(key[len(FORM_PREFIX):], value)
    return plain


def _given(value: Any, default: Any) -> Any:
    """A form leaves fields it has no value for empty, not absent: those take the default."""
    return default if value is None or (isinstance(value, str) and not value.strip()) else value


def _page_size(value: Any, fail: Callable[[str], MimecastConfigurationError]) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise fail(f"extra page_size={value!r} is not a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(text)


def _positive_number(value: Any, name: str, fail: Callable[[str], MimecastConfigurationError]) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise fail(f"extra {name}={value!r} is not a number of seconds > 0")
    return number


def _verify(value: Any, fail: Callable[[str], MimecastConfigurationError], name: str = "verify") -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in {"true", "1", "yes", "on"}:
        return True
    if text.lower() in {"false", "0", "no", "off"}:
        return False
    if text.startswith("/") and name == "verify":
        return text  # a CA bundle, as requests understands ``verify``
    if name == "verify":
        raise fail(f"extra verify={value!r} must be true, false or the path of a CA bundle")
    raise fail(f"extra {name}={value!r} must be true or false")


def _proxies(value: Any, fail: Callable[[str], MimecastConfigurationError]) -> dict[str, str]:
    """``{"https": "http://proxy:3128"}`` as requests takes it; the values are not echoed (they may hold a password)."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise fail("extra proxies must be an object of scheme to proxy URL, e.g. {\"https\": \"http://proxy:3128\"}")
    return {str(k): v for k, v in value.items()}
