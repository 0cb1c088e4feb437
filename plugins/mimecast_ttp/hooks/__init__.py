"""Airflow hooks of the package: the Mimecast API client lives in :mod:`mimecast_ttp.hooks.mimecast`."""

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
