"""What each vendor call was for, from the sandbox's record of it: the names the bench counts calls by."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from local.vendors import RecordedCall

LINKS = "/api/services/jira/links"
LINKS_V2 = "/api/v2/jira/links"
EXPORT = "/api/v2/incremental/tickets/cursor"
# Page reads: what a backfill pays per page, not per link.
PAGE_KINDS = frozenset({"zendesk export page", "zendesk links page", "jira search page"})


def _query(call: RecordedCall) -> dict[str, str]:
    return {k: v[-1] for k, v in call.query.items() if v}


def _jql(call: RecordedCall) -> str:
    if isinstance(call.body, dict):
        return str(call.body.get("jql", ""))
    return _query(call).get("jql", "")


def call_kind(call: RecordedCall) -> str:
    """``zendesk create link``, ``zendesk links page`` (the whole account's links, a page), ``zendesk links
    of one`` (one ticket's or issue's links), ``zendesk read ticket``, ``jira search page`` (issues whose
    field is set), ``jira find by key`` / ``jira find by id`` (a batch of keys or ids), ``jira read
    issue``."""
    path = call.path.removesuffix(".json")
    if path.startswith("/api/"):
        return "zendesk " + _zendesk_kind(call, path)
    if path.startswith("/rest/api/"):
        return "jira " + _jira_kind(call, path)
    return "other " + path


def _zendesk_kind(call: RecordedCall, path: str) -> str:
    if path in (LINKS, LINKS_V2):
        if call.method == "POST":
            return "create link"
        q = _query(call)
        one = q.get("ticket_id") or q.get("issue_id") or q.get("filter[ticket_id]")
        return "links of one" if one else "links page"
    if path.startswith(LINKS + "/"):
        return {"DELETE": "delete link"}.get(call.method, "show link")
    if path.startswith(EXPORT):
        return "export page"
    if path.startswith("/api/v2/tickets/"):
        return "read ticket"
    return path


def _jira_kind(call: RecordedCall, path: str) -> str:
    if path.endswith("/search/jql") or path.endswith("/search"):
        jql = _jql(call).lower()
        if jql.startswith("key in"):
            return "find by key"
        if jql.startswith("id in"):
            return "find by id"
        return "search page"
    if "/issue/" in path:
        return "read issue"
    return path.rsplit("/", 1)[-1]


def count_kinds(calls: Iterable[RecordedCall]) -> dict[str, int]:
    """Calls per kind, most first."""
    return dict(Counter(call_kind(c) for c in calls).most_common())


def per(count: float, unit: float, per_units: float = 1.0) -> float | None:
    """``count`` per ``per_units`` of ``unit`` (e.g. calls per 100 issues); None when there is no unit."""
    return round(count * per_units / unit, 3) if unit else None


def describe(calls: Iterable[RecordedCall]) -> list[dict[str, Any]]:
    """The calls as short lines (method, path with numbers as {id}, status), in order."""
    from tools.bench.probe import route

    return [{"call": f"{c.method} {route(c.path)}", "status": c.status} for c in calls]
