"""Client for Zendesk's Jira links API and the one Tickets API call the sync needs.

Endpoints (see the links API reference): list links v2 (cursor pagination), show/create/delete link,
the deprecated list (``since_id``/``limit``, filters ``ticket_id`` and ``issue_id``), show ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from . import errors
from .apiclient import DEFAULT_TIMEOUT, BasicTokenAuth, BearerAuth, ErrorFamily, JsonApi

LINKS_PATH = "/api/services/jira/links"
LINKS_V2_PATH = "/api/v2/jira/links"
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
        if not isinstance(data, dict) or "id" not in data:
            raise errors.ZendeskError("unexpected link object in response", body=data)
        return cls(
            id=int(data["id"]),
            issue_id=str(data.get("issue_id", "")),
            issue_key=str(data.get("issue_key", "")),
            ticket_id=str(data.get("ticket_id", "")),
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
        values: dict[str, Any] = {}
        for item in data.get("custom_fields") or []:
            if isinstance(item, dict) and "id" in item:
                values[str(item["id"])] = item.get("value")
        return cls(id=str(data["id"]), custom_fields=values)

    def field_value(self, field_id: str | int) -> Any:
        return self.custom_fields.get(str(field_id))


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

        Pages by ``since_id``/``limit`` until a short page. ids at or below the last one seen are skipped,
        whichever way the server reads ``since_id`` (inclusive or exclusive).
        """
        last = since_id
        for _ in range(MAX_PAGES):
            params = _given({"limit": limit, "since_id": last, "ticket_id": ticket_id, "issue_id": issue_id})
            data = self._api.call("GET", LINKS_PATH, params=params, ok=(200,)) or {}
            raw = data.get("links") or []
            links = [JiraLink.from_api(item) for item in raw]
            fresh = [link for link in links if last is None or link.id > last]
            yield from fresh
            if len(raw) < limit or not fresh:
                return
            last = max(link.id for link in fresh)
        raise errors.ZendeskError(f"more than {MAX_PAGES} pages of links; stopped")

    # -- tickets

    def get_ticket(self, ticket_id: str) -> Ticket:
        data = self._api.call("GET", f"/api/v2/tickets/{int(ticket_id)}", ok=(200,)) or {}
        return Ticket.from_api(data.get("ticket"))
