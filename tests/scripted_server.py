"""A loopback HTTP server that answers exactly what a test scripts, and records every request it got.

The simulator answers as the API does; this answers as an attacker or a broken proxy might: raw
bytes per get-logs page, redirects, anything. Token calls (``/oauth/token``) get a fixed token
unless scripted otherwise. Each get-logs path serves its scripted pages in order: page ``n`` is
the answer to the request whose ``pageToken`` is ``"page-n"`` (the first has none), and every
page but the last carries ``next``, so a client pages them exactly as it pages the real API.

Usage::

    with ScriptedServer() as server:
        server.pages["/api/ttp/url/get-logs"] = [envelope("clickLogs", [record, ...])]
        server.respond["/oauth/token"] = Answer(307, headers={"Location": other.url + "/steal"})
        ...
        server.requests  # [(method, path, headers, body bytes)], in order
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN_BODY = json.dumps({"access_token": "scripted-token", "token_type": "Bearer", "expires_in": 1799}).encode()


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def envelope(records_key: str, records: list[Any] | str, *, next_token: str | None = None) -> bytes:
    """A get-logs body around ``records`` (a list, or the records array's JSON text as it should be sent)."""
    array = records if isinstance(records, str) else json.dumps(records)
    pagination = {"pageSize": 500, **({"next": next_token} if next_token else {})}
    return (f'{{"meta": {{"status": 200, "pagination": {json.dumps(pagination)}}}, '
            f'"data": [{{"{records_key}": {array}}}], "fail": []}}').encode()


def self_signed_tls_context(folder) -> ssl.SSLContext:
    """A server-side TLS context with a fresh self-signed certificate for 127.0.0.1 (no CA trusts it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


class ScriptedServer:
    """``tls``: a server-side ``ssl.SSLContext`` to serve HTTPS with (see :func:`self_signed_tls_context`)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.pages: dict[str, list[bytes]] = {}  # get-logs path -> page bodies (``next`` added here)
        self.respond: dict[str, Answer] = {"/oauth/token": Answer(200, TOKEN_BODY)}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-server", daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path.split("?")[0] == path]

    def _answer(self, request: Request) -> Answer:
        path = request.path.split("?")[0]
        if path in self.respond:
            return self.respond[path]
        if path in self.pages:
            pages = self.pages[path]
            try:
                token = json.loads(request.body)["meta"]["pagination"].get("pageToken")
            except (ValueError, KeyError, TypeError, AttributeError):
                token = None
            number = int(token.removeprefix("page-")) if token else 1
            body = pages[number - 1]
            if number < len(pages):  # point at the next page, in the envelope's own place
                body = body.replace(b'"pagination": {', b'"pagination": {"next": "page-%d", ' % (number + 1), 1)
            return Answer(200, body, {"Content-Type": "application/json"})
        return Answer(404, b'{"meta": {"status": 404}, "data": [], "fail": [{"code": "not_found"}]}')

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches on
                length = int(self.headers.get("Content-Length") or 0)
                request = Request("POST", self.path, dict(self.headers.items()), self.rfile.read(length))
                with server._lock:
                    server.requests.append(request)
                answer = server._answer(request)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        return Handler
