"""Demo credentials the simulator accepts by default, and the Airflow connection that uses them.

They are deliberately fake and public: the simulator is a loopback test server, so its keys
protect nothing. Real credentials only ever come from an Airflow connection.

Connection shape (``demo_connection``): host and port are separate fields (``host`` is the bare
loopback address, ``schema`` is ``http``, ``port`` the simulator's port), so the HTTP provider's
``HttpHook`` builds ``http://127.0.0.1:PORT`` from it, and the dict round-trips through
``AIRFLOW_CONN_MIMECAST_DEFAULT='<json>'`` unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

# API 2.0 (OAuth 2.0 client credentials)
DEMO_CLIENT_ID = "mimecast-ttp-simulator-client"
DEMO_CLIENT_SECRET = "simulator-client-secret-not-a-real-one"

# API 1.0 (HMAC-SHA1 signed headers); the secret key is base64, as Mimecast issues it.
DEMO_ACCESS_KEY = "simulator-access-key-0001"
DEMO_SECRET_KEY = "bWltZWNhc3QtdHRwIHNpbXVsYXRvciBkZW1vIHNlY3JldCBrZXksIG5vdCBhIHJlYWwgb25l"
DEMO_APP_ID = "5e1f7c2a-0d4b-4c8e-9a3f-51a7be0c0001"
DEMO_APP_KEY = "7b2d9e40-6c1a-4f5b-8e3d-2a9c4f6b0002"
# API 1.0 login (POST /api/login/login with Basic-Cloud), which published clients call for new keys on 418.
DEMO_USER_NAME = "simulator-admin@example.com"
DEMO_USER_PASSWORD = "simulator-login-password-not-a-real-one"


def hmac_signature(secret_key: str, date: str, request_id: str, path: str, app_key: str) -> str:
    """The API 1.0 signature: base64(HMAC-SHA1(base64decode(secret), "date:req-id:path:app-key"))."""
    message = f"{date}:{request_id}:{path}:{app_key}".encode()
    digest = hmac.new(base64.b64decode(secret_key), message, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def demo_connection(
    url: str,
    api_version: int = 2,
    *,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
    access_key: str = DEMO_ACCESS_KEY,
    secret_key: str = DEMO_SECRET_KEY,
    app_id: str = DEMO_APP_ID,
    app_key: str = DEMO_APP_KEY,
) -> dict[str, Any]:
    """The ``mimecast_default`` connection for a simulator at ``url`` as a JSON-able dict.

    ``url`` is the server's base URL (``SimulatorServer.url``). API 2.0: login/password are the
    client id/secret. API 1.0: login/password are the access/secret key and ``extra`` carries
    ``app_id`` and ``app_key``.
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"simulator URL {url!r} needs a scheme and a host, e.g. http://127.0.0.1:8089")
    version = str(api_version)
    if version not in ("1", "2"):
        raise ValueError(f"api_version must be 1 or 2, not {api_version!r}")
    conn: dict[str, Any] = {
        "conn_type": "mimecast",
        "host": parts.hostname,
        "schema": parts.scheme,
        "port": parts.port,
    }
    if version == "2":
        conn.update(login=client_id, password=client_secret, extra={"api_version": "2"})
    else:
        conn.update(
            login=access_key,
            password=secret_key,
            extra={"api_version": "1", "app_id": app_id, "app_key": app_key},
        )
    return conn
