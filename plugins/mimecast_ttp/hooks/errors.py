"""The hook's errors: what went wrong, and whether a retry of the task can help.

Every error the hook raises is a :class:`MimecastError` whose message names the endpoint or path and
the status, never a credential. Those that derive from ``AirflowFailException`` fail the task at
once: retrying cannot fix them (refused credentials, a redirect, a bad certificate, an unreadable
page already asked for again).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class MimecastError(AirflowException):
    """Base of every error the hook raises. Messages name the endpoint and status, never a credential."""

    def __init__(self, message: str, *, path: str | None = None, status: int | None = None,
                 codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.status = status
        self.codes = codes


class MimecastConfigurationError(MimecastError, AirflowFailException, ValueError):
    """The connection holds a value the hook cannot use; retrying will not fix it."""


class MimecastRetryableError(MimecastError):
    """Transient trouble that outlasted the hook's own retries: the task's retry should take over."""


class MimecastRateLimitExceeded(MimecastRetryableError):
    """429s asked for more waiting than the window's rate-limit budget allows."""


class MimecastResponseError(MimecastError):
    """The API answered something unusable that repeating the request will not change."""


class MimecastUnreadablePage(MimecastResponseError, AirflowFailException):
    """A page stayed unreadable (not JSON, nested too deeply, not an envelope) through every attempt.

    Not retried by the task: the hook has already asked again; a page that cannot be split into
    records cannot be partly loaded either, so the window fails with the page named.
    """


class MimecastRedirectRefused(MimecastResponseError, AirflowFailException):
    """The API answered a redirect. The hook follows none: a redirect would carry the client secret
    (token call) or the signed request to another origin, and an empty page from there would pass
    for a quiet window."""


class MimecastTLSError(MimecastError, AirflowFailException):
    """The server's certificate did not verify; retrying cannot fix it, the connection's ``verify`` can."""


class MimecastPagingError(MimecastResponseError):
    """Paging does not converge: a page token came back twice, or the page budget ran out."""


class MimecastAuthError(MimecastError, AirflowFailException):
    """The API refused the credentials (a 401 even after a freshly minted token, a bad 1.0 signature).

    Not retried: wrong or revoked credentials are the operator's to fix, and retrying only burns quota.
    """


class MimecastKeysExpired(MimecastAuthError, AirflowFailException):
    """API 1.0 answered 418: the keys' binding expired. Only new keys help, so the task must not retry."""


class MimecastEndpointNotLicensed(MimecastError, AirflowFailException):
    """403: the account is not licensed or not permitted for this endpoint; the others may still load."""


class _TransientFailure(Exception):
    """One attempt failed in a way another attempt may not (5xx, unreadable body, retryable ``fail``)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _UnreadableBody(_TransientFailure):
    """The body of one attempt could not be read as a get-logs page; asked again, then fatal."""
