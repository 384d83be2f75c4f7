"""The Zendesk client against the sandbox over real HTTP: requests as documented, errors typed."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
import requests

from linksync import errors, zendesk
from local.vendors import VendorSandbox


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_create_link_posts_documented_body_with_token_auth(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    link = zendesk_client.create_link(issue_id="5461", issue_key="PROJ-7", ticket_id="5001")

    assert isinstance(link.id, int)
    assert (link.issue_id, link.issue_key, link.ticket_id) == ("5461", "PROJ-7", "5001")
    assert link.url and link.url.endswith(f"/api/services/jira/links/{link.id}")
    (call,) = sandbox.calls
    assert (call.method, call.path) == ("POST", "/api/services/jira/links")
    assert call.body == {"link": {"issue_id": "5461", "issue_key": "PROJ-7", "ticket_id": "5001"}}
    assert call.headers["authorization"] == _basic("agent@example.com/token", "zendesk-test-token")
    assert call.headers["content-type"] == "application/json"
    assert sandbox.link_pairs() == [("5461", "5001")]


def test_show_and_delete_link(sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient) -> None:
    made = sandbox.add_link(issue_id="1", issue_key="A-1", ticket_id="2")

    shown = zendesk_client.show_link(made["id"])
    zendesk_client.delete_link(made["id"])

    assert shown.id == made["id"] and shown.issue_key == "A-1"
    assert [(c.method, c.path) for c in sandbox.calls] == [
        ("GET", f"/api/services/jira/links/{made['id']}"),
        ("DELETE", f"/api/services/jira/links/{made['id']}"),
    ]
    assert sandbox.links() == []
    with pytest.raises(errors.ZendeskNotFoundError) as caught:
        zendesk_client.delete_link(made["id"])
    assert caught.value.status == 404 and not caught.value.retryable
    assert caught.value.body == {"error": "RecordNotFound", "description": "Not found"}


def test_iter_links_follows_cursor_across_pages(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    for i in range(7):
        sandbox.add_link(issue_id=str(100 + i), issue_key=f"A-{i + 1}", ticket_id="42")
    sandbox.add_link(issue_id="999", issue_key="B-1", ticket_id="43")

    links = list(zendesk_client.iter_links(ticket_id="42", page_size=3))

    assert [link.issue_id for link in links] == [str(100 + i) for i in range(7)]
    gets = sandbox.calls_to("GET", "/api/v2/jira/links")
    assert len(gets) == 3
    assert all(c.query["filter[ticket_id]"] == ["42"] and c.query["page[size]"] == ["3"] for c in gets)
    assert "page[after]" not in gets[0].query
    assert gets[1].query["page[after]"] == [str(links[2].id)]
    assert gets[2].query["page[after]"] == [str(links[5].id)]


def test_iter_links_without_filter_lists_everything(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    for i in range(5):
        sandbox.add_link(issue_id=str(i), issue_key=f"A-{i + 1}", ticket_id=str(i))
    assert len(list(zendesk_client.iter_links(page_size=2))) == 5
    assert all("filter[ticket_id]" not in c.query for c in sandbox.calls)


def test_deprecated_list_pages_by_since_id_and_filters_by_issue(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    for i in range(7):
        sandbox.add_link(issue_id="777", issue_key="A-1", ticket_id=str(1000 + i))
    sandbox.add_link(issue_id="778", issue_key="A-2", ticket_id="1000")

    links = list(zendesk_client.iter_links_deprecated(issue_id="777", limit=3))

    assert [link.ticket_id for link in links] == [str(1000 + i) for i in range(7)]
    calls = sandbox.calls_to("GET", "/api/services/jira/links")
    # Pages of 3, 3 and 1, then the empty page that ends the list.
    assert [c.query.get("since_id") for c in calls] == [
        None,
        [str(links[2].id)],
        [str(links[5].id)],
        [str(links[6].id)],
    ]
    assert all(c.query["issue_id"] == ["777"] and c.query["limit"] == ["3"] for c in calls)


def test_deprecated_list_pages_on_when_zendesk_caps_the_limit() -> None:
    """A page shorter than `limit` is not the last one: a Zendesk that caps `limit` at 50 still gives
    every link of a deleted issue, not the first 50."""
    with VendorSandbox(deprecated_limit_cap=50) as capped:
        client = zendesk.ZendeskClient(
            capped.url, zendesk.api_token_auth(capped.zendesk_email, capped.zendesk_token)
        )
        made = [
            capped.add_link(issue_id="777", issue_key="A-1", ticket_id=str(1000 + i))["id"]
            for i in range(120)
        ]
        capped.add_link(issue_id="778", issue_key="A-2", ticket_id="1000")

        links = list(client.iter_links_deprecated(issue_id="777", limit=100))

        assert [link.id for link in links] == made
        calls = capped.calls_to("GET", "/api/services/jira/links")
        assert [len(c.query.get("since_id", [])) for c in calls] == [0, 1, 1, 1]
        assert [c.query.get("since_id") for c in calls[1:]] == [
            [str(made[49])],
            [str(made[99])],
            [str(made[119])],
        ]


class _SamePage(requests.Session):
    """A server that ignores `since_id`: every request gets the same two links."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append(dict(kwargs.get("params") or {}))
        response = requests.Response()
        response.status_code = 200
        links = [{"id": i, "issue_id": "777", "issue_key": "A-1", "ticket_id": str(i)} for i in (1, 2)]
        response._content = json.dumps({"links": links}).encode()
        return response


def test_deprecated_list_stops_when_the_server_repeats_itself() -> None:
    """Paging on until an empty page must not loop on a server that ignores `since_id`."""
    session = _SamePage()
    client = zendesk.ZendeskClient(
        "https://example.zendesk.com", zendesk.api_token_auth("a@example.com", "t"), session=session
    )

    links = list(client.iter_links_deprecated(issue_id="777", limit=2))

    assert [link.id for link in links] == [1, 2]
    assert [p.get("since_id") for p in session.sent] == [None, "2"]


def test_get_ticket_reads_custom_fields(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    sandbox.add_ticket(35436, {"360001": "PROJ-1, PROJ-2", "360002": None})

    ticket = zendesk_client.get_ticket("35436")

    assert ticket.id == "35436"
    assert ticket.field_value(360001) == "PROJ-1, PROJ-2"
    assert ticket.field_value("360002") is None
    assert sandbox.calls[0].path == "/api/v2/tickets/35436"
    with pytest.raises(errors.ZendeskNotFoundError):
        zendesk_client.get_ticket("1")


@pytest.mark.parametrize(
    ("kind", "error_type", "status", "retryable"),
    [
        ("500", errors.ZendeskUnavailableError, 500, True),
        ("503", errors.ZendeskUnavailableError, 503, True),
        ("429", errors.ZendeskRateLimitedError, 429, True),
        ("403", errors.ZendeskAuthError, 403, False),
        ("drop", errors.ZendeskUnavailableError, None, True),
        ("slow", errors.ZendeskUnavailableError, None, True),
    ],
)
def test_faults_become_typed_errors(
    sandbox: VendorSandbox,
    zendesk_client: zendesk.ZendeskClient,
    kind: str,
    error_type: type[errors.ZendeskError],
    status: int | None,
    retryable: bool,
) -> None:
    sandbox.fail_next(kind, retry_after=17)

    with pytest.raises(error_type) as caught:
        zendesk_client.create_link(issue_id="1", issue_key="A-1", ticket_id="2")

    err = caught.value
    assert isinstance(err, errors.ZendeskError)
    assert err.status == status
    assert err.retryable is retryable
    if kind == "429":
        assert isinstance(err, errors.RateLimitedError) and err.retry_after == 17
    if status is not None:
        assert err.request_id and err.request_id.startswith("sandbox-")


def test_duplicate_create_is_a_validation_error(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    zendesk_client.create_link(issue_id="1", issue_key="A-1", ticket_id="2")
    with pytest.raises(errors.ZendeskValidationError) as caught:
        zendesk_client.create_link(issue_id="1", issue_key="A-1", ticket_id="2")
    assert caught.value.status == 422 and not caught.value.retryable
    assert caught.value.body["error"] == "RecordInvalid"


def test_oauth_bearer_auth(sandbox: VendorSandbox) -> None:
    client = zendesk.ZendeskClient(sandbox.url, zendesk.oauth_auth("zendesk-oauth-token"))
    client.create_link(issue_id="1", issue_key="A-1", ticket_id="2")
    assert sandbox.calls[0].headers["authorization"] == "Bearer zendesk-oauth-token"

    wrong = zendesk.ZendeskClient(sandbox.url, zendesk.oauth_auth("stolen"))
    with pytest.raises(errors.ZendeskAuthError) as caught:
        list(wrong.iter_links())
    assert caught.value.status == 401 and not caught.value.retryable


def test_bad_token_is_an_auth_error_without_the_secret(
    sandbox: VendorSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    client = zendesk.ZendeskClient(sandbox.url, zendesk.api_token_auth("agent@example.com", secret))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(errors.ZendeskAuthError) as caught:
        client.create_link(issue_id="1", issue_key="A-1", ticket_id="2")

    encoded = base64.b64encode(f"agent@example.com/token:{secret}".encode()).decode()
    texts = [
        str(caught.value),
        repr(caught.value),
        str(caught.value.to_dict()),
        repr(client),
        repr(zendesk.api_token_auth("agent@example.com", secret)),
        caplog.text,
    ]
    for text in texts:
        assert secret not in text
        assert encoded not in text


def test_plain_http_refused_except_loopback() -> None:
    auth = zendesk.api_token_auth("a@example.com", "t")
    with pytest.raises(errors.ConfigError, match="https"):
        zendesk.ZendeskClient("http://example.zendesk.com", auth)
    for ok in (
        "https://example.zendesk.com/",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
    ):
        assert not zendesk.ZendeskClient(ok, auth).base_url.endswith("/")
    with pytest.raises(errors.ConfigError):
        zendesk.ZendeskClient("https://user:pw@example.zendesk.com", auth)
    with pytest.raises(errors.ConfigError):
        zendesk.ZendeskClient("example.zendesk.com", auth)
