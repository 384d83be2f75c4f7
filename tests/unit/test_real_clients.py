"""The sandbox against real vendor clients: zenpy for Zendesk, pycontribs ``jira`` for Jira.

If the sandbox only answered our own client, a shape we both got wrong would never show. These clients
were written against the real services, so what they send and what they expect back is a second opinion.

- zenpy builds ``https://{subdomain}.{domain}/...`` URLs, but reads two environment variables for exactly
  this case (``zenpy.lib.api.BaseApi._build_url``): ``ZENPY_FORCE_SCHEME`` and ``ZENPY_FORCE_NETLOC``. The
  tests set them (``monkeypatch.setenv``); nothing in zenpy is patched.
- ``jira.JIRA(server=...)`` takes any base URL, http included, and speaks REST v2 by default
  (``rest_api_version`` "2"): ``serverInfo`` when it connects, ``issue/{idOrKey}`` to read an issue,
  ``field`` then ``search/jql`` to search (the Cloud search, since ``serverInfo`` says ``Cloud``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jira import JIRA
from zenpy import Zenpy  # type: ignore[import-untyped]
from zenpy.lib.api_objects import Link  # type: ignore[import-untyped]

from local.vendors import VendorSandbox

ISSUE_FIELD = "360001"


@pytest.fixture
def capped() -> Iterator[VendorSandbox]:
    """A sandbox whose deprecated list holds 2 links a page, so listing takes several pages."""
    with VendorSandbox(deprecated_limit_cap=2) as sb:
        yield sb


def _zenpy(sandbox: VendorSandbox, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", sandbox.url.split("://", 1)[1])
    return Zenpy(subdomain="sandbox", email=sandbox.zendesk_email, token=sandbox.zendesk_token)


def _calls(sandbox: VendorSandbox) -> list[tuple[str, str, dict[str, list[str]], int | None]]:
    return [(c.method, c.path, c.query, c.status) for c in sandbox.calls]


# --------------------------------------------------------------------------- zenpy


def test_zenpy_lists_links_page_after_page(capped: VendorSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    made = [
        capped.add_link(issue_id=str(100 + i), issue_key=f"A-{i + 1}", ticket_id="35436") for i in range(5)
    ]
    zenpy = _zenpy(capped, monkeypatch)

    listed = [(link.id, link.issue_id, link.issue_key, link.ticket_id) for link in zenpy.jira_links()]

    assert listed == [(x["id"], x["issue_id"], x["issue_key"], x["ticket_id"]) for x in made]
    # zenpy pages the deprecated list by since_id (exclusive) while `total` is at least 1.
    assert _calls(capped) == [
        ("GET", "/api/services/jira/links.json", {}, 200),
        ("GET", "/api/services/jira/links.json", {"since_id": [str(made[1]["id"])]}, 200),
        ("GET", "/api/services/jira/links.json", {"since_id": [str(made[3]["id"])]}, 200),
        ("GET", "/api/services/jira/links.json", {"since_id": [str(made[4]["id"])]}, 200),
    ]


def test_zenpy_filters_links_by_ticket_and_by_issue(
    capped: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        capped.add_link(issue_id="777", issue_key="A-1", ticket_id=str(1000 + i))
    capped.add_link(issue_id="778", issue_key="A-2", ticket_id="1000")
    zenpy = _zenpy(capped, monkeypatch)

    by_issue = [link.ticket_id for link in zenpy.jira_links(issue_id="777")]
    by_ticket = [link.issue_id for link in zenpy.jira_links(ticket_id="1000")]

    assert by_issue == ["1000", "1001", "1002"]
    assert by_ticket == ["777", "778"]
    assert all(c.status == 200 for c in capped.calls)


def test_zenpy_creates_and_deletes_a_link(sandbox: VendorSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    zenpy = _zenpy(sandbox, monkeypatch)

    created = zenpy.jira_links.create(Link(issue_id="10001", issue_key="PROJ-1", ticket_id="35436"))
    link = created.response.json()["link"]
    assert created.response.status_code == 201
    assert sandbox.link_pairs() == [("10001", "35436")]

    deleted = zenpy.jira_links.delete(Link(id=link["id"]))

    assert deleted.status_code == 204
    assert sandbox.links() == []
    assert _calls(sandbox) == [
        ("POST", "/api/services/jira/links.json", {}, 201),
        ("DELETE", f"/api/services/jira/links/{link['id']}", {}, 204),
    ]
    assert sandbox.calls[0].body == {
        "link": {"issue_id": "10001", "issue_key": "PROJ-1", "ticket_id": "35436"}
    }


def test_zenpy_reads_a_ticket_and_its_custom_fields(
    sandbox: VendorSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.add_ticket(35436, {ISSUE_FIELD: "PROJ-1 PROJ-2"})
    zenpy = _zenpy(sandbox, monkeypatch)

    ticket = zenpy.tickets(id=35436)

    assert (ticket.id, ticket.status) == (35436, "open")
    assert {str(f["id"]): f["value"] for f in ticket.custom_fields} == {ISSUE_FIELD: "PROJ-1 PROJ-2"}
    assert _calls(sandbox) == [("GET", "/api/v2/tickets/35436.json", {}, 200)]
    assert sandbox.calls[0].headers["user-agent"].startswith("Zenpy/")


# --------------------------------------------------------------------------- pycontribs jira


def _jira(sandbox: VendorSandbox) -> JIRA:
    return JIRA(server=sandbox.url, basic_auth=(sandbox.jira_email, sandbox.jira_token), max_retries=0)


def test_jira_connects_through_server_info(sandbox: VendorSandbox) -> None:
    client = _jira(sandbox)

    assert client.deploymentType == "Cloud"
    assert client.server_info()["baseUrl"] == sandbox.url
    assert [(c.method, c.path, c.status) for c in sandbox.calls] == [
        ("GET", "/rest/api/2/serverInfo", 200),
        ("GET", "/rest/api/2/serverInfo", 200),
    ]


def test_jira_reads_an_issue_by_key_and_by_id(sandbox: VendorSandbox) -> None:
    sandbox.add_issue("PROJ-1", "10001", {"summary": "One", "customfield_10100": "35436"})
    client = _jira(sandbox)
    sandbox.reset_calls()

    by_key = client.issue("PROJ-1")
    by_id = client.issue("10001", fields="summary")

    assert (by_key.id, by_key.key) == ("10001", "PROJ-1")
    assert by_key.raw["fields"]["customfield_10100"] == "35436"
    assert (by_id.key, by_id.raw["fields"]) == ("PROJ-1", {"summary": "One"})
    assert by_key.self.endswith("/rest/api/2/issue/10001")
    assert _calls(sandbox) == [
        ("GET", "/rest/api/2/issue/PROJ-1", {}, 200),
        ("GET", "/rest/api/2/issue/10001", {"fields": ["summary"]}, 200),
    ]


def test_jira_searches_with_the_cloud_search(sandbox: VendorSandbox) -> None:
    sandbox.add_issue("PROJ-1", "10001", {"summary": "One", "customfield_10100": "35436"})
    sandbox.add_issue("PROJ-2", "10002", {"summary": "Two"})
    client = _jira(sandbox)
    sandbox.reset_calls()

    found = client.search_issues("cf[10100] is not EMPTY")
    posted = client.search_issues("key in (PROJ-1, PROJ-2)", fields="summary", use_post=True)

    assert [issue.key for issue in found] == ["PROJ-1"]
    assert [(issue.key, issue.raw["fields"]) for issue in posted] == [
        ("PROJ-1", {"summary": "One"}),
        ("PROJ-2", {"summary": "Two"}),
    ]
    paths = [(c.method, c.path, c.status) for c in sandbox.calls]
    assert paths == [
        ("GET", "/rest/api/2/field", 200),  # names to ids, read once before the first search
        ("GET", "/rest/api/2/search/jql", 200),
        ("POST", "/rest/api/2/search/jql", 200),
    ]
    assert sandbox.calls[1].query == {
        "jql": ["cf[10100] is not EMPTY"],
        "fields": ["*all"],
        "maxResults": ["50"],
    }


def test_jira_follows_next_page_tokens(sandbox: VendorSandbox) -> None:
    """At most 100 issues a page with fields: pycontribs follows nextPageToken to the end."""
    for n in range(1, 151):
        sandbox.add_issue(f"PROJ-{n}", str(10000 + n), {"customfield_10100": str(n)})
    client = _jira(sandbox)
    sandbox.reset_calls()

    found = client.enhanced_search_issues("cf[10100] is not EMPTY", maxResults=0)

    assert [issue.key for issue in found] == [f"PROJ-{n}" for n in range(1, 151)]
    searches = sandbox.calls_to("GET", "/rest/api/2/search/jql")
    assert len(searches) == 2
    assert "nextPageToken" not in searches[0].query and searches[1].query["nextPageToken"]
