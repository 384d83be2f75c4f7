"""What the sync needs from the outside world, as protocols: the clients satisfy them, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from .jira import JiraIssueRef
from .zendesk import JiraLink, Ticket


class ZendeskApi(Protocol):
    def create_link(self, *, issue_id: str, issue_key: str, ticket_id: str) -> JiraLink: ...
    def delete_link(self, link_id: int) -> None: ...
    def show_link(self, link_id: int) -> JiraLink: ...
    def iter_links(self, *, ticket_id: str | None = None, page_size: int = 100) -> Iterator[JiraLink]: ...
    def iter_links_deprecated(
        self,
        *,
        ticket_id: str | None = None,
        issue_id: str | None = None,
        limit: int = 100,
        since_id: int | None = None,
    ) -> Iterator[JiraLink]: ...
    def get_ticket(self, ticket_id: str) -> Ticket: ...


class JiraApi(Protocol):
    def resolve_issue_id(self, key: str) -> JiraIssueRef: ...
    def known(self, key: str) -> bool: ...
    def resolve_keys(self, keys: Iterable[str]) -> None: ...


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> None: ...
