"""Airflow hooks of the package: the Mimecast API client (:mod:`mimecast_ttp.hooks.mimecast`), its
connection (:mod:`~mimecast_ttp.hooks.connection`) and its errors (:mod:`~mimecast_ttp.hooks.errors`)."""

from __future__ import annotations

from mimecast_ttp.hooks.mimecast import (
    MimecastAuthError,
    MimecastConfigurationError,
    MimecastEndpointNotLicensed,
    MimecastError,
    MimecastHook,
    MimecastKeysExpired,
    MimecastPagingError,
    MimecastRateLimitExceeded,
    MimecastResponseError,
    MimecastRetryableError,
    Page,
)

__all__ = [
    "MimecastAuthError",
    "MimecastConfigurationError",
    "MimecastEndpointNotLicensed",
    "MimecastError",
    "MimecastHook",
    "MimecastKeysExpired",
    "MimecastPagingError",
    "MimecastRateLimitExceeded",
    "MimecastResponseError",
    "MimecastRetryableError",
    "Page",
]
