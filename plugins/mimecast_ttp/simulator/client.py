"""A deliberately small reference client for the simulator: its own tests and its benchmark.

It speaks both auth schemes and pages to the end, and nothing more (no retries, no rate-limit
waits): the product's client is the Mimecast hook. Keeping this apart lets the simulator be proven
against the documented protocol without depending on the code it exists to test.
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import requests

from mimecast_ttp.endpoints import get_endpoint
from mimecast_ttp.simulator import credentials

V1_DATE_FORMAT = "%a, %d %b %Y %H:%M:%S UTC"
API_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S+0000"


def v1_headers(path: str, *, access_key: str = credentials.DEMO_ACCESS_KEY,
               secret_key: str = credentials.DEMO_SECRET_KEY, app_id: str = credentials.DEMO_APP_ID,
               app_key: str = credentials.DEMO_APP_KEY, date: str | None = None,
               request_id: str | None = None) -> dict[str, str]:
    """The four API 1.0 headers for a call to ``path``."""
    date = date or datetime.now(UTC).strftime(V1_DATE_FORMAT)
    request_id = request_id or str(uuid.uuid4())
    signature = credentials.hmac_signature(secret_key, date, request_id, path, app_key)
    return {"x-mc-date": date, "x-mc-req-id": request_id, "x-mc-app-id": app_id,
            "Authorization": f"MC {access_key}:{signature}"}


def logs_body(start: datetime, end: datetime, *, page_size: int = 100, page_token: str | None = None,
              oldest_first: bool = True, **filters: Any) -> dict[str, Any]:
    """A get-logs request body for ``[start, end]``."""
    pagination: dict[str, Any] = {"pageSize": page_size}
    if page_token:
        pagination["pageToken"] = page_token
    criteria = {"from": start.astimezone(UTC).strftime(API_DATE_FORMAT),
                "to": end.astimezone(UTC).strftime(API_DATE_FORMAT), "oldestFirst": oldest_first, **filters}
    return {"meta": {"pagination": pagination}, "data": [criteria]}


class ReferenceClient:
    """Calls a simulator at ``url`` with API 2.0 (``api_version=2``) or 1.0 credentials."""

    def __init__(self, url: str, api_version: int = 2, session: requests.Session | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.api_version = api_version
        self.session = session or requests.Session()
        self.timeout = timeout
        self._token: str | None = None

    def token(self, refresh: bool = False) -> str:
        if self._token is None or refresh:
            response = self.session.post(f"{self.url}/oauth/token", timeout=self.timeout, data={
                "client_id": credentials.DEMO_CLIENT_ID, "client_secret": credentials.DEMO_CLIENT_SECRET,
                "grant_type": "client_credentials"})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def auth_headers(self, path: str) -> dict[str, str]:
        if self.api_version == 1:
            return v1_headers(path)
        return {"Authorization": f"Bearer {self.token()}"}

    def post_logs(self, endpoint: str, body: Any, **kwargs: Any) -> requests.Response:
        path = get_endpoint(endpoint).path
        headers = {"Accept": "application/json", **self.auth_headers(path)}
        return self.session.post(f"{self.url}{path}", json=body, headers=headers,
                                 timeout=kwargs.pop("timeout", self.timeout), **kwargs)

    def fetch_all(self, endpoint: str, start: datetime, end: datetime, *, page_size: int = 100,
                  oldest_first: bool = True, max_pages: int = 100_000, **filters: Any) -> tuple[list, int]:
        """Every record of the window and the number of pages read; raises on any non-200 page."""
        records: list[Any] = []
        token = None
        for pages in range(1, max_pages + 1):
            response = self.post_logs(endpoint, logs_body(start, end, page_size=page_size, page_token=token,
                                                          oldest_first=oldest_first, **filters))
            response.raise_for_status()
            body = response.json()
            if body.get("fail"):
                raise RuntimeError(f"{endpoint}: fail entries {body['fail']}")
            page = get_endpoint(endpoint).records_of(body)
            records.extend(page)
            token = (body.get("meta", {}).get("pagination") or {}).get("next")
            if not token or not page:
                return records, pages
        raise RuntimeError(f"{endpoint}: more than {max_pages} pages")

    def list_batches(self, event_type: str = "receipt", *, page_size: int = 100, start: date | None = None,
                     end: date | None = None, next_page: str | None = None) -> requests.Response:
        """One SIEM batch listing call (API 2.0 only)."""
        params: dict[str, Any] = {"type": event_type, "pageSize": page_size}
        if start:
            params["dateRangeStartsAt"] = start.isoformat()
        if end:
            params["dateRangeEndsAt"] = end.isoformat()
        if next_page:
            params["nextPage"] = next_page
        return self.session.get(f"{self.url}/siem/v1/batch/events/cg", params=params, timeout=self.timeout,
                                headers={"Accept": "application/json", "Authorization": f"Bearer {self.token()}"})

    def list_all_batches(self, start: date | None = None, end: date | None = None, *, page_size: int = 100,
                         max_pages: int = 10_000) -> tuple[list[dict], int]:
        """Every listed batch file entry of the range, and the listing calls made (until ``isCaughtUp``)."""
        entries: list[dict] = []
        token = None
        for pages in range(1, max_pages + 1):
            response = self.list_batches(page_size=page_size, start=start, end=end, next_page=token)
            response.raise_for_status()
            body = response.json()
            entries.extend(body["value"])
            token = body["@nextPage"]
            if body["isCaughtUp"] or not body["value"]:
                return entries, pages
        raise RuntimeError(f"more than {max_pages} listing pages")

    @staticmethod
    def download_batch(url: str, timeout: float = 30.0) -> list:
        """A batch file's events: fetched with no credentials at all, as a pre-signed URL is."""
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        return [json.loads(line) for line in gzip.decompress(response.content).decode().splitlines()]
