"""Client for Zendesk's Jira links API and the Tickets API calls the sync needs.

Endpoints (see the links API reference): list links v2 (cursor pagination), show/create/delete link,
the deprecated list (``since_id``/``limit``, filters ``ticket_id`` and ``issue_id``), show ticket, and
the cursor-based incremental ticket export (for reconciliation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from . import errors
from .apiclient import DEFAULT_TIMEOUT, BasicTokenAuth, BearerAuth, ErrorFamily, JsonApi
from .times import epoch_ms

LINKS_PATH = "/api/services/jira/links"
LINKS_V2_PATH = "/api/v2/jira/links"
EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
# Every paged read stops here, whatever the server says (a loop bound, not a limit anyone should reach).
MAX_PAGES = 10_000

ZENDESK_ERRORS = ErrorFamily(
    base=errors.ZendeskError,
    auth=errors.ZendeskAuthError,
    not_found=errors.ZendeskNotFoundError,
    validation=errors.ZendeskValidationError,
    rate_limited=errors.ZendeskRateLimitedError,
    unavailable=errors.ZendeskUnavailableError,
)


def api_token_auth(email: str, api_token: str) -> BasicTokenAuth:
    """Zendesk API token auth: Basic base64("{email}/token:{api_token}")."""
    return BasicTokenAuth(f"{email}/token", api_token)


def oauth_auth(access_token: str) -> BearerAuth:
    return BearerAuth(access_token)


ZendeskAuth = BasicTokenAuth | BearerAuth


@dataclass(frozen=True)
class JiraLink:
    """A link between a Jira issue and a Zendesk ticket, as Zendesk stores it."""

    id: int
    issue_id: str
    issue_key: str
    ticket_id: str
    created_at: str | None = None
    updated_at: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, data: Any) -> JiraLink:
        """Ids may come as numbers or strings (the reference types ``issue_id``/``ticket_id`` as strings,
        older versions as integers); old links may carry ``issue_key: null``."""
        if not isinstance(data, dict) or "id" not in data:
            raise errors.ZendeskError("unexpected link object in response", body=data)
        try:
            link_id = int(data["id"])
        except (TypeError, ValueError) as e:
            raise errors.ZendeskError("unexpected link id in response", body=data) from e
        return cls(
            id=link_id,
            issue_id=_text(data.get("issue_id")),
            issue_key=_text(data.get("issue_key")),
            ticket_id=_text(data.get("ticket_id")),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            url=data.get("url"),
        )


@dataclass(frozen=True)
class Ticket:
    """The part of a Zendesk ticket the sync reads: its id and custom field values."""

    id: str
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Any) -> Ticket:
        if not isinstance(data, dict) or "id" not in data:
            raise errors.ZendeskError("unexpected ticket object in response", body=data)
        return cls(id=str(data["id"]), custom_fields=_custom_fields(data))

    def field_value(self, field_id: str | int) -> Any:
        return self.custom_fields.get(str(field_id))


def _custom_fields(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in data.get("custom_fields") or []:
        if isinstance(item, dict) and "id" in item:
            values[str(item["id"])] = item.get("value")
    return values


@dataclass(frozen=True)
class ExportedTicket:
    """A ticket as the incremental export shows it. Deleted tickets are in the export too."""

    id: str
    status: str
    updated_ms: int | None
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Any) -> ExportedTicket:
        if not isinstance(data, dict) or "id" not in data:
            raise errors.ZendeskError("unexpected ticket object in export", body=data)
        return cls(
            id=str(data["id"]),
            status=_text(data.get("status")).lower(),
            updated_ms=epoch_ms(data.get("updated_at")),
            custom_fields=_custom_fields(data),
        )

    @property
    def deleted(self) -> bool:
        return self.status == "deleted"

    def field_value(self, field_id: str | int) -> Any:
        return self.custom_fields.get(str(field_id))


@dataclass(frozen=True)
class ExportPage:
    tickets: list[ExportedTicket]
    after_cursor: str | None
    end_of_stream: bool


def start_time_too_recent(error: errors.ApiError) -> bool:
    """Whether Zendesk refused an export's ``start_time`` as less than a minute old.

    Seen as 400 ``StartTimeTooRecent`` (recent reports) and 422 ``InvalidValue`` "Too recent start_time"
    (older ones); the reference only says it "must be at least one minute in the past". Nothing to export yet.
    """
    if error.status not in (400, 422):
        return False
    text = str(error.body).lower()
    return "starttimetoorecent" in text or "too recent" in text


def _newer_than(links: list[JiraLink], last: int | None) -> list[JiraLink]:
    return links if last is None else [link for link in links if link.id > last]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _given(params: dict[str, Any]) -> dict[str, str]:
    """Query parameters without the ones not given."""
    return {k: str(v) for k, v in params.items() if v is not None}


def _cursor_from(after_cursor: Any) -> str | None:
    """``meta.after_cursor`` is documented as a URL carrying ``page[after]``; accept a bare cursor too."""
    if after_cursor in (None, ""):
        return None
    text = str(after_cursor)
    if "://" in text or text.startswith("/") or "?" in text:
        values = parse_qs(urlsplit(text).query).get("page[after]")
        return values[0] if values else None
    return text


class ZendeskClient:
    """Zendesk's Jira links API. One instance (and one pooled session) per container."""

    def __init__(
        self,
        base_url: str,
        auth: ZendeskAuth,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._api = JsonApi(base_url, auth, ZENDESK_ERRORS, session=session, timeout=timeout)

    @property
    def base_url(self) -> str:
        return self._api.base_url

    def __repr__(self) -> str:
        return f"ZendeskClient(base_url={self.base_url!r})"

    # -- links

    def create_link(self, *, issue_id: str, issue_key: str, ticket_id: str) -> JiraLink:
        body = {"link": {"issue_id": str(issue_id), "issue_key": issue_key, "ticket_id": str(ticket_id)}}
        data = self._api.call("POST", LINKS_PATH, json=body, ok=(200, 201))
        return JiraLink.from_api((data or {}).get("link"))

    def show_link(self, link_id: int) -> JiraLink:
        data = self._api.call("GET", f"{LINKS_PATH}/{int(link_id)}", ok=(200,))
        return JiraLink.from_api((data or {}).get("link"))

    def delete_link(self, link_id: int) -> None:
        self._api.call("DELETE", f"{LINKS_PATH}/{int(link_id)}", ok=(200, 204))

    def list_links_page(
        self, *, ticket_id: str | None = None, after: str | None = None, page_size: int | None = None
    ) -> tuple[list[JiraLink], str | None]:
        """One page of ``GET /api/v2/jira/links``; returns the links and the next cursor (None at the end)."""
        params = _given({"filter[ticket_id]": ticket_id, "page[after]": after, "page[size]": page_size})
        data = self._api.call("GET", LINKS_V2_PATH, params=params, ok=(200,)) or {}
        links = [JiraLink.from_api(item) for item in data.get("links") or []]
        meta = data.get("meta") or {}
        next_cursor = _cursor_from(meta.get("after_cursor")) if meta.get("has_more") else None
        if meta.get("has_more") and next_cursor is None and links:
            next_cursor = str(links[-1].id)
        return links, next_cursor

    def iter_links(self, *, ticket_id: str | None = None, page_size: int = 100) -> Iterator[JiraLink]:
        """Every link (of one ticket, if given), following the cursor across pages."""
        after: str | None = None
        for _ in range(MAX_PAGES):
            links, after_next = self.list_links_page(ticket_id=ticket_id, after=after, page_size=page_size)
            yield from links
            if after_next is None or after_next == after or not links:
                return
            after = after_next
        raise errors.ZendeskError(f"more than {MAX_PAGES} pages of links; stopped")

    def iter_links_deprecated(
        self,
        *,
        ticket_id: str | None = None,
        issue_id: str | None = None,
        limit: int = 100,
        since_id: int | None = None,
    ) -> Iterator[JiraLink]:
        """``GET /api/services/jira/links``: the only list that filters by Jira ``issue_id``.

        Pages by ``since_id``/``limit`` until a page brings nothing new: an empty page, or one holding only
        ids already seen. A page shorter than ``limit`` is not the end: Zendesk may cap ``limit`` lower than
        asked, and stopping there would leave the rest of a deleted issue's links behind. ids at or below
        the last one seen are skipped, whichever way the server reads ``since_id`` (inclusive or
        exclusive), so a server that ignores ``since_id`` ends the loop instead of repeating it. Bounded
        by MAX_PAGES.
        """
        last = since_id
        for _ in range(MAX_PAGES):
            params = _given({"limit": limit, "since_id": last, "ticket_id": ticket_id, "issue_id": issue_id})
            data = self._api.call("GET", LINKS_PATH, params=params, ok=(200,)) or {}
            links = [JiraLink.from_api(item) for item in data.get("links") or []]
            fresh = _newer_than(links, last)
            if not fresh:
                return
            yield from fresh
            last = max(link.id for link in fresh)
        raise errors.ZendeskError(f"more than {MAX_PAGES} pages of links; stopped")

    # -- tickets

    def get_ticket(self, ticket_id: str) -> Ticket:
        data = self._api.call("GET", f"/api/v2/tickets/{int(ticket_id)}", ok=(200,)) or {}
        return Ticket.from_api(data.get("ticket"))

    def export_tickets_page(
        self, *, start_time: int | None = None, cursor: str | None = None, per_page: int | None = None
    ) -> ExportPage:
        """One page of ``GET /api/v2/incremental/tickets/cursor.json`` (the cursor-based export).

        Give ``start_time`` (epoch seconds, at least a minute in the past) on the first request and
        ``cursor`` (the previous page's ``after_cursor``) after that, never both. Follow ``after_cursor``
        until ``end_of_stream``, then keep it for the next export. Tickets changed in the last minute are
        not in it yet; deleted tickets are, with status "deleted". Zendesk allows 10 export requests a
        minute (429, RateLimitedError with ``retry_after``); a ``start_time`` refused as too recent is a
        ZendeskValidationError for which ``start_time_too_recent`` is true.
        """
        if (start_time is None) == (cursor is None):
            raise ValueError("give start_time for the first page or cursor after it, not both")
        start = None if start_time is None else int(start_time)
        params = _given({"start_time": start, "cursor": cursor, "per_page": per_page})
        data = self._api.call("GET", EXPORT_PATH, params=params, ok=(200,))
        if not isinstance(data, dict) or not isinstance(data.get("tickets"), list):
            raise errors.ZendeskError("unexpected incremental export response", body=data)
        return ExportPage(
            tickets=[ExportedTicket.from_api(item) for item in data["tickets"]],
            after_cursor=_text(data.get("after_cursor")) or None,
            end_of_stream=data.get("end_of_stream") is True,
        )
