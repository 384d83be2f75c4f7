"""The Zendesk tickets half of the vendor sandbox: tickets with timestamps, and the cursor-based export.

``GET /api/v2/incremental/tickets/cursor[.json]`` (Zendesk's "Incremental Ticket Export, Cursor Based"),
as documented where the documentation says, and as chosen here where it does not:

- ``start_time`` (Unix epoch seconds) on the first request, then ``cursor`` (the previous answer's
  ``after_cursor``); when both are given the cursor wins. ``per_page`` defaults to 1000 and is capped there.
  ``exclude_deleted=true`` leaves deleted tickets out.
- A ``start_time`` less than 60 seconds in the past (or in the future) is answered **400**
  ``{"error": "StartTimeTooRecent", "description": "Too recent start_time. Use a start_time older than
  1 minute"}``. The reference only says it "must be at least one minute in the past"; the status and body
  were not confirmed. 400 ``StartTimeTooRecent`` is what the most recent reports (2023 on) describe;
  older clients saw 422 ``{"error": "InvalidValue", "description": "Too recent start_time. ..."}``.
  ``linksync.zendesk.start_time_too_recent`` recognises both.
- Tickets come in order of ``generated_timestamp`` (epoch seconds, set with ``updated_at`` on every
  change), then id. Tickets changed within the 60 seconds before the request are left out until they are
  older ("data isn't provided for the most recent minute"); the last page's ``after_cursor`` points past
  that minute's start, so the next export resumes there and misses nothing.
- Deleted tickets stay in the export with ``"status": "deleted"`` (third-party reports; the reference
  says deletions "appear in the ticket stream" but shows no example). A permanent delete also scrubs the
  subject and custom field values.
- Answers ``{"tickets", "after_cursor", "after_url", "before_cursor", "before_url", "end_of_stream"}``;
  the sandbox never pages backwards, so ``before_*`` are always null. The cursor is opaque: base64 of
  ``"<seconds>.0||<id>|"``, the shape of the documented example.
- 10 requests per rolling minute (the documented limit without the High Volume add-on); the 11th is
  answered 429 with ``Retry-After`` (seconds until the oldest of the ten leaves the window).

The links lists' query parameters are read here too (``links_v2_request``, ``deprecated_limit``); the
routes themselves are in ``local.vendors``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

Reply = tuple[int, Any, dict[str, str]]

EXPORT_PATH_RE = re.compile(r"^/api/v2/incremental/tickets/cursor(?:\.json)?$")
LAG_SECONDS = 60
MAX_PER_PAGE = 1000
EXPORT_REQUESTS_PER_MINUTE = 10
_CURSOR_RE = re.compile(r"^(\d+)\.0\|\|(\d+)\|$")
# Kept in the sandbox's record of a ticket, not part of GET /api/v2/tickets/{id}.
_EXPORT_ONLY = ("generated_timestamp",)


def iso(now: float) -> str:
    return datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_ticket(
    ticket_id: int | str, custom_fields: dict[str, Any] | None, status: str, now: float
) -> dict[str, Any]:
    ticket = {
        "id": int(ticket_id),
        "status": status,
        "subject": f"Ticket {ticket_id}",
        "custom_fields": [{"id": int(k), "value": v} for k, v in (custom_fields or {}).items()],
        "created_at": iso(now),
    }
    touch(ticket, now)
    return ticket


def touch(ticket: dict[str, Any], now: float) -> None:
    """A change: ``updated_at`` and ``generated_timestamp`` move to now."""
    ticket["updated_at"] = iso(now)
    ticket["generated_timestamp"] = int(now)


def mark_deleted(ticket: dict[str, Any], now: float, *, permanent: bool) -> None:
    ticket["status"] = "deleted"
    if permanent:
        ticket["subject"] = "SCRUBBED"
        ticket["custom_fields"] = [{"id": item["id"], "value": None} for item in ticket["custom_fields"]]
    touch(ticket, now)


def is_deleted(ticket: dict[str, Any]) -> bool:
    return bool(ticket.get("status") == "deleted")


def public_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket as ``GET /api/v2/tickets/{id}`` shows it (a deep copy)."""
    return {k: _copy(v) for k, v in ticket.items() if k not in _EXPORT_ONLY}


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


class RateWindow:
    """At most ``limit`` requests in any ``window`` seconds; the rest wait."""

    def __init__(self, limit: int = EXPORT_REQUESTS_PER_MINUTE, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def admit(self, now: float) -> float | None:
        """None when the request may go ahead (and counts), else the seconds until one may."""
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return self._times[0] + self.window - now
        self._times.append(now)
        return None

    def reset(self) -> None:
        self._times.clear()


def rate_limited(wait: float) -> Reply:
    body = {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed incremental export API requests per minute exceeded",
    }
    return 429, body, {"Retry-After": str(max(1, math.ceil(wait)))}


class InvalidExportError(Exception):
    """An export request Zendesk answers 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "description": description}


def encode_cursor(seconds: int, ticket_id: int) -> str:
    return base64.b64encode(f"{seconds}.0||{ticket_id}|".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (ValueError, binascii.Error):
        raise InvalidExportError("InvalidCursor", "The cursor is not valid") from None
    m = _CURSOR_RE.match(text)
    if m is None:
        raise InvalidExportError("InvalidCursor", "The cursor is not valid")
    return int(m.group(1)), int(m.group(2))


def _start(q: dict[str, str], now: float) -> tuple[int, int]:
    """Where the export starts: (seconds, id), inclusive."""
    if q.get("cursor"):
        return decode_cursor(q["cursor"])
    raw = q.get("start_time")
    if raw is None or raw == "":
        raise InvalidExportError("InvalidValue", "start_time is required on the initial export request")
    try:
        start_time = int(raw)
    except ValueError:
        raise InvalidExportError("InvalidValue", "start_time must be a Unix epoch time in seconds") from None
    if start_time > now - LAG_SECONDS:
        raise InvalidExportError(
            "StartTimeTooRecent", "Too recent start_time. Use a start_time older than 1 minute"
        )
    return start_time, 0


def _per_page(value: str | None) -> int:
    try:
        return max(1, min(MAX_PER_PAGE, int(value))) if value else MAX_PER_PAGE
    except ValueError:
        return MAX_PER_PAGE


@dataclass(frozen=True)
class _Row:
    seconds: int
    id: int
    ticket: dict[str, Any]

    @property
    def position(self) -> tuple[int, int]:
        return self.seconds, self.id


def export(tickets: Iterable[dict[str, Any]], q: dict[str, str], now: float, base: str) -> Reply:
    """One page of the cursor-based incremental ticket export (rate limiting is the caller's)."""
    try:
        start = _start(q, now)
    except InvalidExportError as e:
        return 400, e.body, {}
    cutoff = int(now) - LAG_SECONDS  # the newest second that may be exported now
    skip_deleted = q.get("exclude_deleted", "").lower() == "true"
    rows = sorted(
        (_Row(int(t["generated_timestamp"]), int(t["id"]), t) for t in tickets),
        key=lambda r: r.position,
    )
    rows = [
        r
        for r in rows
        if start <= r.position and r.seconds <= cutoff and not (skip_deleted and is_deleted(r.ticket))
    ]
    size = _per_page(q.get("per_page"))
    page, more = rows[:size], len(rows) > size
    after = (page[-1].seconds, page[-1].id + 1) if more else max(start, (cutoff + 1, 0))
    cursor = encode_cursor(*after)
    return (
        200,
        {
            "tickets": [{**_copy(r.ticket), "url": f"{base}/api/v2/tickets/{r.id}.json"} for r in page],
            "after_cursor": cursor,
            "after_url": f"{base}/api/v2/incremental/tickets/cursor.json?cursor={quote(cursor, safe='')}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": not more,
        },
        {},
    )


# --------------------------------------------------------------------------- the links lists' parameters

LINKS_MAX_PAGE_SIZE = 1000  # the documented default; no maximum is documented, the sandbox allows no more
LINK_FILTERS = frozenset({"filter[ticket_id]"})
_MAX_ID = 2**63 - 1


class InvalidParameterError(Exception):
    """A query parameter answered 400 in Zendesk's "Invalid attribute" shape (as its API documents for
    other endpoints, e.g. ``{"error": {"title": "Invalid attribute", "message": "You passed an invalid
    value for the id attribute. Invalid parameter: id must be an integer ..."}}``)."""

    def __init__(self, name: str, rule: str) -> None:
        super().__init__(f"{name} {rule}")
        self.body = {
            "error": {
                "title": "Invalid attribute",
                "message": f"You passed an invalid value for the {name} attribute. "
                f"Invalid parameter: {name} {rule}",
            }
        }

    def reply(self) -> Reply:
        return 400, self.body, {}


@dataclass(frozen=True)
class LinksV2Request:
    ticket_id: str | None
    after: int | None
    size: int


def links_v2_request(query: dict[str, list[str]]) -> LinksV2Request:
    """The parameters of ``GET /api/v2/jira/links``, or InvalidParameterError.

    ``filter[ticket_id]`` is the one documented filter; any other ``filter...`` parameter
    (``filter[issue_id]`` among them) is refused rather than ignored, since ignoring it answers with every
    link of the account. ``filter[ticket_id]`` a positive integer, ``page[size]`` 1 to 1000,
    ``page[after]`` a link id (0 or more); a parameter given with an empty value is refused too.
    """
    q = {k: v[-1] for k, v in query.items()}
    unknown = sorted(k for k in q if k.startswith("filter") and k not in LINK_FILTERS)
    if unknown:
        raise InvalidParameterError(unknown[0], "is not supported: the only filter is filter[ticket_id]")
    ticket_id = _int_param(q, "filter[ticket_id]", 1, _MAX_ID)
    size = _int_param(q, "page[size]", 1, LINKS_MAX_PAGE_SIZE)
    return LinksV2Request(
        ticket_id=None if ticket_id is None else str(ticket_id),
        after=_int_param(q, "page[after]", 0, _MAX_ID),
        size=LINKS_MAX_PAGE_SIZE if size is None else size,
    )


def _int_param(q: dict[str, str], name: str, low: int, high: int) -> int | None:
    text = q.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise InvalidParameterError(name, f"must be an integer from {low} to {high}")
    return int(text)


def deprecated_limit(value: str | None, cap: int) -> int:
    """``limit`` of ``GET /api/services/jira/links``: at most ``cap`` (1000 unless the sandbox is told
    otherwise), whatever was asked; a missing or unreadable one is the cap. Never refused: a server that
    caps ``limit`` answers shorter pages, which is what a client must be ready for."""
    try:
        return max(1, min(cap, int(value))) if value else cap
    except ValueError:
        return cap
