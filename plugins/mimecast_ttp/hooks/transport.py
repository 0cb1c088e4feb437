"""The wire: one keep-alive ``requests`` session per hook, and one call that refuses what is unsafe.

The session is built from the checked connection alone (TLS verification, proxies, client
certificate, other extras as headers, as the HTTP provider's session does), with the HTTP
provider's TCP keep-alive adapter. A call never follows a redirect (it would carry the client
secret or a signed request to another origin), turns a certificate that does not verify into an
error that says how to fix it, and reports a 429 to the retry layer with the server's reset header.
Pre-signed batch files (the SIEM stream) are fetched by a session of their own that carries no
credential and none of the connection's headers (:func:`new_download_session`).
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from mimecast_ttp.hooks.connection import MimecastConnectionConfig
from mimecast_ttp.hooks.errors import MimecastRedirectRefused, MimecastTLSError
from mimecast_ttp.hooks.retry import RateLimited


def new_session(config: MimecastConnectionConfig) -> requests.Session:
    """A session for ``config``: its TLS, proxies and headers; no auth (the hook sets it)."""
    session = requests.Session()
    adapter = TCPKeepAliveAdapter(idle=120, count=20, interval=30)  # HttpHook's defaults
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = config.verify
    session.cert = config.cert
    session.trust_env = config.trust_env
    if config.proxies:
        session.proxies.update(config.proxies)
    session.headers.update(config.headers)
    session.headers["Accept"] = "application/json"
    return session


def new_download_session(config: MimecastConnectionConfig) -> requests.Session:
    """A session for pre-signed file URLs: the connection's TLS and proxies, no auth, no extra headers.

    The URL's own signature is the credential; the connection's headers may hold secrets of the
    API's origin and must not travel to a storage host.
    """
    session = requests.Session()
    session.verify = config.verify
    session.cert = config.cert
    session.trust_env = config.trust_env
    if config.proxies:
        session.proxies.update(config.proxies)
    return session


def prepare_post(session: requests.Session, config: MimecastConnectionConfig, path: str, **request_kwargs: Any
                 ) -> requests.PreparedRequest:
    """A POST of ``path`` signed by the session's auth (which may mint a token on the way)."""
    return prepare(session, config, "POST", path, **request_kwargs)


def prepare(session: requests.Session, config: MimecastConnectionConfig, method: str, path: str,
            **request_kwargs: Any) -> requests.PreparedRequest:
    """A ``method`` call of ``path`` on the connection's base URL, signed by the session's auth."""
    return session.prepare_request(requests.Request(method, config.base_url + path, **request_kwargs))


def send(session: requests.Session, config: MimecastConnectionConfig, request: requests.PreparedRequest,
         path: str) -> requests.Response:
    """Send one prepared call: the response, unless it is a redirect, a bad certificate or a 429."""
    settings = session.merge_environment_settings(request.url, session.proxies, session.stream, session.verify,
                                                  session.cert)
    try:
        response = session.send(request, timeout=config.timeout, allow_redirects=False, **settings)
    except requests.exceptions.SSLError as err:
        if not _is_certificate_failure(err):
            raise
        raise MimecastTLSError(
            f"{request.method} {path}: the TLS certificate of {urlsplit(request.url).hostname} did not verify "
            f"({_ssl_reason(err)}); if the host is right, set the connection's extra \"verify\" to the "
            f"path of the CA bundle that signs it (\"false\" turns verification off: never in "
            f"production)", path=path) from None
    if response.is_redirect or 300 <= response.status_code < 400:
        raise MimecastRedirectRefused(
            f"{request.method} {path} answered HTTP {response.status_code}, a redirect to {_origin_of(response)}; "
            f"redirects are not followed (they would carry credentials or a signed request to "
            f"another origin): check the connection's host", path=path, status=response.status_code)
    if response.status_code == 429:
        raise RateLimited(path, response.headers.get("X-RateLimit-Reset"))
    return response


def _is_certificate_failure(err: requests.exceptions.SSLError) -> bool:
    """Whether the TLS error is a certificate that did not verify (urllib3 nests the ssl error in args)."""
    cause: BaseException | None = err
    for _ in range(10):  # the chain is short; the bound only guards against a cycle
        if cause is None:
            return False
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return True
        cause = cause.__cause__ or cause.__context__ or (cause.args[0] if cause.args and isinstance(
            cause.args[0], BaseException) else None)
    return False


def _ssl_reason(err: requests.exceptions.SSLError) -> str:
    text = str(err)
    for marker in ("certificate verify failed: ", "CERTIFICATE_VERIFY_FAILED"):
        if marker in text:
            return text[text.index(marker):].split(")")[0].split("'")[0][:160]
    return type(err).__name__


def _origin_of(response: requests.Response) -> str:
    """Scheme and host of a redirect's target, nothing more (a Location may carry a secret in its query)."""
    location = response.headers.get("Location")
    if not location:
        return "no Location given"
    target = urlsplit(requests.compat.urljoin(response.url or "", location))
    return f"{target.scheme}://{target.hostname}" + (f":{target.port}" if target.port else "")
