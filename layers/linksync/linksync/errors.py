"""Typed errors: what went wrong, with the data a caller needs to decide what to do next.

Vendor errors come in two families (Zendesk, Jira) crossed with five kinds (auth, not found,
validation, rate limited, unavailable), so a caller can catch by vendor (``ZendeskError``) or by kind
(``RateLimitedError``), and every error says whether retrying it can help (``retryable``).
Messages never include credentials: they carry the method, the path, the status and the vendor's
error body, nothing from the request's headers.
"""

from __future__ import annotations

from typing import Any


class LinkSyncError(Exception):
    """Base of every error this package raises on purpose."""

    retryable: bool = False


class ConfigError(LinkSyncError):
    """The function's configuration (environment or secret) is missing or invalid."""


# --------------------------------------------------------------------------- vendor API errors


class ApiError(LinkSyncError):
    """A call to a vendor API failed. ``status`` is None when no HTTP answer arrived."""

    service = "api"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [f"{self.service}: {self.message}"]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, retryable={self.retryable})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description, e.g. for a dead-letter message."""
        return {
            "error": type(self).__name__,
            "service": self.service,
            "message": self.message,
            "status": self.status,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "body": self.body if isinstance(self.body, (dict, list, str, type(None))) else str(self.body),
        }


class AuthError(ApiError):
    """401/403: bad credentials, or the account does not allow it (e.g. "Manage links" is off)."""


class NotFoundError(ApiError):
    """404: the resource does not exist."""


class ValidationError(ApiError):
    """400/422: the vendor refused the request's content."""


class RateLimitedError(ApiError):
    """429: too many requests; ``retry_after`` is the vendor's Retry-After in seconds, if given."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after": self.retry_after}


class UnavailableError(ApiError):
    """5xx, a timeout or a broken connection: the vendor may well answer next time."""

    retryable = True


class ZendeskError(ApiError):
    service = "zendesk"


class ZendeskAuthError(ZendeskError, AuthError):
    pass


class ZendeskNotFoundError(ZendeskError, NotFoundError):
    pass


class ZendeskValidationError(ZendeskError, ValidationError):
    pass


class ZendeskRateLimitedError(ZendeskError, RateLimitedError):
    pass


class ZendeskUnavailableError(ZendeskError, UnavailableError):
    pass


class JiraError(ApiError):
    service = "jira"


class JiraAuthError(JiraError, AuthError):
    pass


class JiraNotFoundError(JiraError, NotFoundError):
    pass


class JiraValidationError(JiraError, ValidationError):
    pass


class JiraRateLimitedError(JiraError, RateLimitedError):
    pass


class JiraUnavailableError(JiraError, UnavailableError):
    pass


# --------------------------------------------------------------------------- webhook input errors


class WebhookError(LinkSyncError):
    """A webhook request that must be refused. ``status`` is the HTTP answer to give."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSignatureError(WebhookError):
    status = 401


class PayloadTooLargeError(WebhookError):
    status = 413


class InvalidPayloadError(WebhookError):
    status = 400


class HandOffError(LinkSyncError):
    """The event could not be stored or queued durably; the sender must deliver it again."""

    retryable = True
