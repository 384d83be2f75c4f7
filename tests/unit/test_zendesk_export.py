"""The Zendesk client's incremental ticket export against the sandbox (time frozen, moved by hand)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from linksync import errors, zendesk
from local import vendors_zendesk
from local.vendors import VendorSandbox

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
FIELD = "360001"
EXPORT = "/api/v2/incremental/tickets/cursor.json"


@pytest.fixture
def sandbox() -> Iterator[VendorSandbox]:
    with VendorSandbox(slow_seconds=1.5, clock=lambda: T0) as sb:
        yield sb


def _export_all(client: zendesk.ZendeskClient, start_time: int, per_page: int) -> list[zendesk.ExportPage]:
    pages = [client.export_tickets_page(start_time=start_time, per_page=per_page)]
    for _ in range(20):
        if pages[-1].end_of_stream:
            break
        pages.append(client.export_tickets_page(cursor=pages[-1].after_cursor, per_page=per_page))
    return pages


def test_first_page_request_and_ticket_shape(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    sandbox.add_ticket(35436, {FIELD: "PROJ-1, PROJ-2", "360002": None})
    sandbox.advance(61)

    page = zendesk_client.export_tickets_page(start_time=int(T0) - 3600, per_page=100)

    (call,) = sandbox.calls
    assert (call.method, call.path) == ("GET", EXPORT)
    assert call.query == {"start_time": [str(int(T0) - 3600)], "per_page": ["100"]}
    expected = "Basic " + base64.b64encode(b"agent@example.com/token:zendesk-test-token").decode()
    assert call.headers["authorization"] == expected
    (ticket,) = page.tickets
    assert (ticket.id, ticket.status, ticket.deleted) == ("35436", "open", False)
    assert ticket.updated_ms == int(T0) * 1000
    assert ticket.field_value(360001) == "PROJ-1, PROJ-2" and ticket.field_value("360002") is None
    assert page.end_of_stream is True and page.after_cursor


def test_pages_follow_the_cursor_in_update_order_until_end_of_stream(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    for ticket_id in (5, 3, 9, 1, 7):
        sandbox.add_ticket(ticket_id)
        sandbox.advance(10)
    sandbox.add_ticket(2)  # same second as the last advance: ties go by id
    sandbox.add_ticket(4)
    sandbox.advance(61)

    pages = _export_all(zendesk_client, int(T0) - 60, per_page=3)

    assert [[t.id for t in p.tickets] for p in pages] == [["5", "3", "9"], ["1", "7", "2"], ["4"]]
    assert [p.end_of_stream for p in pages] == [False, False, True]
    calls = sandbox.calls_to("GET", EXPORT)
    assert "cursor" not in calls[0].query
    assert [c.query["cursor"] for c in calls[1:]] == [[pages[0].after_cursor], [pages[1].after_cursor]]
    assert all("start_time" not in c.query for c in calls[1:])


def test_the_last_minute_is_left_out_until_it_is_older(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    sandbox.add_ticket(1)
    sandbox.advance(120)
    sandbox.add_ticket(2)  # changed "now"
    sandbox.advance(30)

    first = zendesk_client.export_tickets_page(start_time=int(T0) - 60)
    assert [t.id for t in first.tickets] == ["1"] and first.end_of_stream

    again = zendesk_client.export_tickets_page(cursor=first.after_cursor)
    assert again.tickets == [] and again.end_of_stream

    sandbox.advance(31)  # ticket 2 is now more than a minute old
    later = zendesk_client.export_tickets_page(cursor=again.after_cursor)
    assert [t.id for t in later.tickets] == ["2"]

    sandbox.set_ticket_field(1, FIELD, "PROJ-9")  # a change brings a ticket back into the stream
    sandbox.advance(61)
    changed = zendesk_client.export_tickets_page(cursor=later.after_cursor)
    assert [(t.id, t.field_value(FIELD)) for t in changed.tickets] == [("1", "PROJ-9")]


def test_deleted_tickets_stay_in_the_export(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    sandbox.add_ticket(1, {FIELD: "PROJ-1"})
    sandbox.add_ticket(2, {FIELD: "PROJ-2"})
    sandbox.add_ticket(3, {FIELD: "PROJ-3"})
    sandbox.advance(5)
    sandbox.delete_ticket(1)
    sandbox.delete_ticket(2, permanent=True)
    sandbox.advance(61)

    page = zendesk_client.export_tickets_page(start_time=int(T0) - 60)

    by_id = {t.id: t for t in page.tickets}
    assert [t.id for t in page.tickets] == ["3", "1", "2"]  # the deletes are the newer changes
    assert by_id["1"].deleted and by_id["1"].status == "deleted" and by_id["1"].field_value(FIELD) == "PROJ-1"
    assert by_id["2"].deleted and by_id["2"].field_value(FIELD) is None  # scrubbed
    assert not by_id["3"].deleted
    assert by_id["1"].updated_ms == (int(T0) + 5) * 1000
    for gone in ("1", "2"):
        with pytest.raises(errors.ZendeskNotFoundError):
            zendesk_client.get_ticket(gone)
    with pytest.raises(KeyError):
        sandbox.set_ticket_field(1, FIELD, "x")


def test_start_time_less_than_a_minute_old_is_refused(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    with pytest.raises(errors.ZendeskValidationError) as caught:
        zendesk_client.export_tickets_page(start_time=int(T0) - 30)
    assert caught.value.status == 400
    assert caught.value.body["error"] == "StartTimeTooRecent"
    assert zendesk.start_time_too_recent(caught.value)
    assert zendesk_client.export_tickets_page(start_time=int(T0) - 60).tickets == []


def test_too_recent_is_recognised_in_its_older_form_too() -> None:
    old = errors.ZendeskValidationError(
        "HTTP 422",
        status=422,
        body={
            "error": "InvalidValue",
            "description": "Too recent start_time. Use a start_time older than 5 minutes",
        },
    )
    other = errors.ZendeskValidationError("HTTP 400", status=400, body={"error": "InvalidValue"})
    limited = errors.ZendeskRateLimitedError("HTTP 429", status=429, body="too recent")
    assert zendesk.start_time_too_recent(old)
    assert not zendesk.start_time_too_recent(other)
    assert not zendesk.start_time_too_recent(limited)


def test_start_time_or_cursor_exactly_one(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    with pytest.raises(ValueError, match="not both"):
        zendesk_client.export_tickets_page()
    with pytest.raises(ValueError, match="not both"):
        zendesk_client.export_tickets_page(start_time=1, cursor="abc")
    assert sandbox.calls == []
    with pytest.raises(errors.ZendeskValidationError):
        zendesk_client.export_tickets_page(cursor="not-a-cursor")


def test_the_eleventh_request_in_a_minute_is_rate_limited(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    start = int(T0) - 3600
    for _ in range(10):
        zendesk_client.export_tickets_page(start_time=start)
        sandbox.advance(1)

    with pytest.raises(errors.ZendeskRateLimitedError) as caught:
        zendesk_client.export_tickets_page(start_time=start)
    assert caught.value.status == 429 and caught.value.retryable
    assert caught.value.retry_after == 50  # the first of the ten leaves the window 50 s from now
    assert sandbox.calls[-1].status == 429

    sandbox.advance(50)
    assert zendesk_client.export_tickets_page(start_time=start).end_of_stream
    with pytest.raises(errors.ZendeskRateLimitedError) as again:
        zendesk_client.export_tickets_page(start_time=start)
    assert again.value.retry_after == 1


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        ("429", errors.ZendeskRateLimitedError),
        ("503", errors.ZendeskUnavailableError),
        ("lost_drop", errors.ZendeskUnavailableError),
    ],
)
def test_export_faults_are_typed(
    sandbox: VendorSandbox,
    zendesk_client: zendesk.ZendeskClient,
    kind: str,
    error_type: type[errors.ZendeskError],
) -> None:
    sandbox.fail_next(kind, path_prefix="/api/v2/incremental/", retry_after=42)
    with pytest.raises(error_type) as caught:
        zendesk_client.export_tickets_page(start_time=int(T0) - 600)
    assert caught.value.retryable
    if kind == "429":
        assert isinstance(caught.value, errors.RateLimitedError) and caught.value.retry_after == 42
    assert sandbox.calls[0].fault == kind


def test_export_needs_auth(sandbox: VendorSandbox) -> None:
    client = zendesk.ZendeskClient(sandbox.url, zendesk.api_token_auth("agent@example.com", "wrong"))
    with pytest.raises(errors.ZendeskAuthError):
        client.export_tickets_page(start_time=int(T0) - 600)


def test_sandbox_can_leave_deleted_tickets_out(sandbox: VendorSandbox) -> None:
    sandbox.add_ticket(1)
    sandbox.add_ticket(2)
    sandbox.delete_ticket(2)
    status, body, _ = vendors_zendesk.export(
        sandbox.state.tickets.values(),
        {"start_time": str(int(T0) - 60), "exclude_deleted": "true"},
        T0 + 61,
        "http://x",
    )
    assert status == 200
    assert [t["id"] for t in body["tickets"]] == [1]
    assert body["before_cursor"] is None and body["before_url"] is None
    assert body["after_url"].startswith("http://x/api/v2/incremental/tickets/cursor.json?cursor=")
    assert [t["status"] for t in sandbox.live_tickets()] == ["open"]


# --------------------------------------------------------------------------- the links list, account-wide


def test_list_links_page_pages_the_whole_account(
    sandbox: VendorSandbox, zendesk_client: zendesk.ZendeskClient
) -> None:
    made = [
        sandbox.add_link(issue_id=str(500 + i), issue_key=f"A-{i}", ticket_id=str(i % 3 + 1))
        for i in range(8)
    ]

    pages: list[list[zendesk.JiraLink]] = []
    after: str | None = None
    for _ in range(10):
        links, after = zendesk_client.list_links_page(ticket_id=None, after=after, page_size=3)
        pages.append(links)
        if after is None:
            break

    assert [[link.id for link in page] for page in pages] == [
        [m["id"] for m in made[0:3]],
        [m["id"] for m in made[3:6]],
        [m["id"] for m in made[6:8]],
    ]
    calls = sandbox.calls_to("GET", "/api/v2/jira/links")
    assert all("filter[ticket_id]" not in c.query and c.query["page[size]"] == ["3"] for c in calls)
    assert [c.query.get("page[after]") for c in calls] == [None, [str(made[2]["id"])], [str(made[5]["id"])]]
    assert {link.ticket_id for page in pages for link in page} == {"1", "2", "3"}


def test_list_links_page_reads_ids_as_strings_or_numbers(
    zendesk_client: zendesk.ZendeskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference types issue_id/ticket_id as strings (older pages: integers); old rows have no key."""
    answer = {
        "links": [
            {"id": "1234", "issue_id": 5460, "issue_key": None, "ticket_id": "5000"},
            {"id": 1235, "issue_id": "5461", "issue_key": "TEST-1", "ticket_id": 5001},
        ],
        "meta": {
            "after_cursor": "https://x.zendesk.com/api/v2/jira/links?page%5Bafter%5D=1235",
            "has_more": True,
        },
    }
    monkeypatch.setattr(zendesk_client._api, "call", lambda *a, **k: answer)

    links, after = zendesk_client.list_links_page(page_size=1000)

    assert [(x.id, x.issue_id, x.issue_key, x.ticket_id) for x in links] == [
        (1234, "5460", "", "5000"),
        (1235, "5461", "TEST-1", "5001"),
    ]
    assert after == "1235"
    answer["meta"] = {"after_cursor": 1235, "has_more": True}
    assert zendesk_client.list_links_page()[1] == "1235"
    answer["links"] = [{"id": "abc"}]
    with pytest.raises(errors.ZendeskError, match="link id"):
        zendesk_client.list_links_page()
