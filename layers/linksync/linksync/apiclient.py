"""The one path to the network for the vendor clients: session, auth, timeouts, error mapping.

Both Zendesk and Jira clients send every request through :meth:`JsonApi.call`, which turns each
HTTP status and each transport failure into one typed error of the client's family. Nothing here
retries: retrying is the retry queue's job, so a webhook never sleeps inside Lambda.
"""

from __future__ import annotations

import base64
import ipaddress
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import errors
from .timing import DEFAULT_TIMEOUTS

DEFAULT_TIMEOUT = DEFAULT_TIMEOUTS.http
USER_AGENT = "zendesk-jira-linksync/0.2"
# A call cut short by a deadline still gets this long: less would only make it fail.
MIN_CALL_SECONDS = 0.5
_CALLS_END: ContextVar[float | None] = ContextVar("linksync_calls_end", default=None)


@contextmanager
def calls_end_by(end: float) -> Iterator[None]:
    """Every vendor call made inside (in this thread) ends by ``end`` (``time.monotonic``): its connect and
    read timeouts are cut to what is left, but never below MIN_CALL_SECONDS."""
    token = _CALLS_END.set(end)
    try:
        yield
    finally:
        _CALLS_END.reset(token)


def _bounded(timeout: float | tuple[float, float]) -> float | tuple[float, float]:
    end = _CALLS_END.get()
    if end is None:
        return timeout
    left = max(MIN_CALL_SECONDS, end - time.monotonic())
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (min(connect, left), min(read, left))


@dataclass(frozen=True)
class BasicTokenAuth(requests.auth.AuthBase):
    """HTTP Basic with an API token. ``username`` is what goes before the colon."""

    username: str
    token: str = field(repr=False)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        raw = f"{self.username}:{self.token}".encode()
        r.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        return r


@dataclass(frozen=True)
class BearerAuth(requests.auth.AuthBase):
    """OAuth 2.0 access token."""

    token: str = field(repr=False)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@dataclass(frozen=True)
class ErrorFamily:
    """The error classes one vendor's client raises, by kind."""

    base: type[errors.ApiError]
    auth: type[errors.ApiError]
    not_found: type[errors.ApiError]
    validation: type[errors.ApiError]
    rate_limited: type[errors.RateLimitedError]
    unavailable: type[errors.ApiError]

    def for_status(self, status: int) -> type[errors.ApiError]:
        """The error class for an HTTP status that is not a success."""
        if status in (401, 403):
            return self.auth
        if status == 404:
            return self.not_found
        if status == 429:
            return self.rate_limited
        if status in (408, 409, 425) or status >= 500:
            return self.unavailable
        if status in (400, 422):
            return self.validation
        return self.base


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(base_url: str) -> str:
    """HTTPS only, except for loopback hosts (the local sandbox). Returns it without a trailing slash."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise errors.ConfigError(f"base URL must be an absolute http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise errors.ConfigError(f"base URL must use https (plain http only for loopback): {base_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise errors.ConfigError("base URL must not carry a query, fragment or credentials")
    return base_url.rstrip("/")


def new_session(pool_size: int = 10) -> requests.Session:
    """A pooled session, no automatic retries (the retry queue owns retries)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
    return session


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _body_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


class JsonApi:
    """A JSON-over-HTTPS API at one base URL, with one auth and one error family."""

    request_id_headers = ("X-Request-Id", "X-Zendesk-Request-Id", "X-Arequestid")

    def __init__(
        self,
        base_url: str,
        auth: requests.auth.AuthBase,
        family: ErrorFamily,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self._auth = auth
        self._family = family
        self._session = session or new_session()
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        """Send one request; return the decoded JSON body (None for an empty one) or raise."""
        what = f"{method} {path}"
        response = self._send(method, path, what, params=params, json=json)
        status = response.status_code
        if status not in ok:
            raise self._error(response, what)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            # A 2xx we cannot read may still have been applied: treat as retryable.
            raise self._family.unavailable(f"{what}: unreadable response body", status=status) from e

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        unavailable = self._family.unavailable
        try:
            return self._session.request(
                method,
                self.base_url + path,
                auth=self._auth,
                timeout=_bounded(self._timeout),
                allow_redirects=False,
                **kwargs,
            )
        except requests.Timeout as e:
            raise unavailable(f"{what}: timed out ({type(e).__name__})") from e
        except requests.ConnectionError as e:
            raise unavailable(f"{what}: connection failed ({type(e).__name__})") from e
        except requests.RequestException as e:
            raise unavailable(f"{what}: request failed ({type(e).__name__})") from e

    def _error(self, response: requests.Response, what: str) -> errors.ApiError:
        status = response.status_code
        request_id = next(
            (response.headers[h] for h in self.request_id_headers if h in response.headers), None
        )
        kwargs: dict[str, Any] = {"status": status, "body": _body_of(response), "request_id": request_id}
        message = f"{what}: HTTP {status}"
        kind = self._family.for_status(status)
        if issubclass(kind, errors.RateLimitedError):
            return kind(message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs)
        return kind(message, **kwargs)
