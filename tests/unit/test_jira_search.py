"""The Jira client's search and find_issues against the sandbox over HTTP (time frozen, moved by hand)."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from linksync import errors, jira
from linksync.times import epoch_ms
from local.vendors import VendorSandbox

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
CF = "customfield_10100"


@pytest.fixture
def sandbox() -> Iterator[VendorSandbox]:
    with VendorSandbox(slow_seconds=1.5, clock=lambda: T0) as sb:
        yield sb


def _seed(sandbox: VendorSandbox, n: int, *, tickets: str | None = "1") -> None:
    for i in range(1, n + 1):
        sandbox.add_issue(f"PROJ-{i}", str(10000 + i), {CF: tickets} if tickets else None)


def test_search_page_posts_the_documented_body_with_basic_auth(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    sandbox.add_issue("PROJ-1", "10001", {CF: "35436, 35437"})

    page = jira_client.search_page("cf[10100] is not EMPTY", fields=[CF, "updated"], max_results=10)

    (call,) = sandbox.calls
    assert (call.method, call.path) == ("POST", "/rest/api/3/search/jql")
    assert call.body == {"jql": "cf[10100] is not EMPTY", "fields": [CF, "updated"], "maxResults": 10}
    assert (
        call.headers["authorization"]
        == "Basic " + base64.b64encode(b"jira@example.com:jira-test-token").decode()
    )
    assert call.headers["content-type"] == "application/json"
    (issue,) = page.issues
    assert (issue.id, issue.key, issue.field(CF)) == ("10001", "PROJ-1", "35436, 35437")
    assert issue.fields["updated"] == "2027-01-15T08:00:00.000+0000"
    assert issue.updated_ms == int(T0 * 1000)
    assert page.next_page_token is None


def test_search_pages_with_next_page_token_until_is_last(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    _seed(sandbox, 7)
    sandbox.add_issue("OTHER-1", "30001")  # field empty: not found

    issues = list(jira_client.search("cf[10100] is not EMPTY ORDER BY id", fields=[CF], page_size=3))

    assert [i.key for i in issues] == [f"PROJ-{i}" for i in range(1, 8)]
    calls = sandbox.calls_to("POST", "/rest/api/3/search/jql")
    assert len(calls) == 3
    assert "nextPageToken" not in calls[0].body
    tokens = [c.body.get("nextPageToken") for c in calls[1:]]
    assert all(isinstance(t, str) and t for t in tokens) and tokens[0] != tokens[1]
    assert all(c.body["maxResults"] == 3 for c in calls)


def test_search_page_reports_the_last_page(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    _seed(sandbox, 4)
    first = jira_client.search_page("cf[10100] is not EMPTY", max_results=2)
    second = jira_client.search_page(
        "cf[10100] is not EMPTY", max_results=2, next_page_token=first.next_page_token
    )
    assert first.next_page_token is not None
    assert second.next_page_token is None
    assert [i.key for i in first.issues + second.issues] == ["PROJ-1", "PROJ-2", "PROJ-3", "PROJ-4"]


def test_without_fields_only_ids_and_keys_come_back(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    _seed(sandbox, 2)
    page = jira_client.search_page("cf[10100] is not EMPTY")
    assert [(i.id, i.key, i.fields, i.updated_ms) for i in page.issues] == [
        ("10001", "PROJ-1", {}, None),
        ("10002", "PROJ-2", {}, None),
    ]
    assert sandbox.calls[0].body["fields"] == []


def test_updated_since_finds_what_changed(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    _seed(sandbox, 3)
    sandbox.advance(600)
    sandbox.set_issue_field("PROJ-2", CF, "2")  # updated moves to T0 + 600 s

    since = jira.jql_time(int((T0 + 300) * 1000))
    changed = list(jira_client.search(f"updated >= {since}", fields=["updated"]))
    relative = list(jira_client.search('updated >= "-5m"', fields=["updated"]))

    assert since == '"2027/01/15 08:05"'
    assert [i.key for i in changed] == [i.key for i in relative] == ["PROJ-2"]
    assert changed[0].updated_ms == int((T0 + 600) * 1000)


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        ("429", errors.JiraRateLimitedError),
        ("503", errors.JiraUnavailableError),
        ("drop", errors.JiraUnavailableError),
    ],
)
def test_search_faults_are_typed(
    sandbox: VendorSandbox, jira_client: jira.JiraClient, kind: str, error_type: type[errors.JiraError]
) -> None:
    _seed(sandbox, 1)
    sandbox.fail_next(kind, path_prefix="/rest/api/3/search", retry_after=23)
    with pytest.raises(error_type) as caught:
        jira_client.search_page("cf[10100] is not EMPTY")
    assert caught.value.retryable
    if kind == "429":
        assert isinstance(caught.value, errors.RateLimitedError) and caught.value.retry_after == 23
    assert sandbox.calls[0].fault == kind
    assert len(jira_client.search_page("cf[10100] is not EMPTY").issues) == 1


def test_bad_jql_is_a_validation_error(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    with pytest.raises(errors.JiraValidationError) as caught:
        jira_client.search_page("project = PROJ OR cf[10100] is EMPTY")
    assert caught.value.status == 400 and not caught.value.retryable
    assert caught.value.body["errorMessages"][0].startswith("Error in the JQL Query")
    with pytest.raises(errors.JiraValidationError, match="400") as unbounded:
        jira_client.search_page("ORDER BY key")
    assert "Unbounded JQL" in unbounded.value.body["errorMessages"][0]


def test_search_refuses_bad_credentials(sandbox: VendorSandbox) -> None:
    client = jira.JiraClient(sandbox.url, jira.api_token_auth("jira@example.com", "wrong"))
    with pytest.raises(errors.JiraAuthError):
        client.search_page("cf[10100] is not EMPTY")


def test_deleted_issues_are_gone_from_search_and_get(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    _seed(sandbox, 2)
    sandbox.delete_issue("PROJ-1")
    assert [i.key for i in jira_client.search("cf[10100] is not EMPTY")] == ["PROJ-2"]
    with pytest.raises(errors.JiraNotFoundError):
        jira_client.get_issue("PROJ-1")


# --------------------------------------------------------------------------- loop bounds


def test_search_stops_after_max_pages(
    sandbox: VendorSandbox, jira_client: jira.JiraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(sandbox, 5)
    monkeypatch.setattr(jira, "MAX_PAGES", 2)
    seen: list[str] = []
    with pytest.raises(errors.JiraError, match="more than 2 pages"):
        seen.extend(i.key for i in jira_client.search("cf[10100] is not EMPTY", page_size=2))
    assert seen == ["PROJ-1", "PROJ-2", "PROJ-3", "PROJ-4"]
    assert len(sandbox.calls) == 2


def test_search_stops_when_a_token_repeats(
    jira_client: jira.JiraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages: list[str | None] = []

    def going_round(
        jql: str, *, fields: Sequence[str] = (), max_results: int = 100, next_page_token: str | None = None
    ) -> jira.SearchPage:
        pages.append(next_page_token)
        token = "B" if next_page_token == "A" else "A"
        return jira.SearchPage([jira.JiraIssue(str(len(pages)), f"X-{len(pages)}", None, {})], token)

    monkeypatch.setattr(jira_client, "search_page", going_round)
    with pytest.raises(errors.JiraError, match="repeated"):
        list(jira_client.search("id in (1)"))
    assert pages == [None, "A", "B"]


# --------------------------------------------------------------------------- find_issues


def test_find_issues_drops_unknown_keys_named_in_a_400_and_asks_again(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    _seed(sandbox, 3, tickets=None)

    found = jira_client.find_issues(keys=["PROJ-1", "nope-9", "proj-3", "NOPE-10", "../x", "PROJ-1"])

    assert sorted(i.key for i in found) == ["PROJ-1", "PROJ-3"]
    assert all(i.updated_ms == int(T0 * 1000) for i in found)
    bodies = [c.body for c in sandbox.calls_to("POST", "/rest/api/3/search/jql")]
    assert [b["jql"] for b in bodies] == [
        "key in (PROJ-1, NOPE-9, PROJ-3, NOPE-10)",
        "key in (PROJ-1, PROJ-3)",
    ]
    assert all(b["fields"] == ["updated"] for b in bodies)
    assert [c.status for c in sandbox.calls] == [400, 200]


def test_find_issues_by_id_skips_unknown_ids_the_server_leaves_out(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    _seed(sandbox, 3, tickets=None)
    sandbox.delete_issue("PROJ-2")

    found = jira_client.find_issues(ids=["10001", "10002", "99999", "x1", " 10003 "])

    assert [(i.id, i.key) for i in found] == [("10001", "PROJ-1"), ("10003", "PROJ-3")]
    (call,) = sandbox.calls
    assert call.body["jql"] == "id in (10001, 10002, 99999, 10003)"


def test_find_issues_batches(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    _seed(sandbox, 5, tickets=None)
    found = jira_client.find_issues(ids=["10001", "10002"], keys=[f"PROJ-{i}" for i in range(1, 6)], batch=2)
    assert sorted(i.key for i in found) == [f"PROJ-{i}" for i in range(1, 6)]  # each issue once
    jqls = [c.body["jql"] for c in sandbox.calls]
    assert jqls == [
        "id in (10001, 10002)",
        "key in (PROJ-1, PROJ-2)",
        "key in (PROJ-3, PROJ-4)",
        "key in (PROJ-5)",
    ]


def test_find_issues_with_nothing_valid_makes_no_call(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    assert jira_client.find_issues(ids=["abc", ""], keys=["", "1-PROJ", "PROJ-0"]) == []
    assert sandbox.calls == []


def test_find_issues_reraises_a_400_that_names_nothing_it_sent(
    jira_client: jira.JiraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def refuses(jql: str, *, fields: Sequence[str] = (), page_size: int = 100) -> Iterator[jira.JiraIssue]:
        calls.append(jql)
        raise errors.JiraValidationError(
            "POST /rest/api/3/search/jql: HTTP 400",
            status=400,
            body={"errorMessages": ["An issue with key 'ELSE-1' does not exist for field 'key'."]},
        )

    monkeypatch.setattr(jira_client, "search", refuses)
    with pytest.raises(errors.JiraValidationError):
        jira_client.find_issues(keys=["PROJ-1", "PROJ-2"])
    assert calls == ["key in (PROJ-1, PROJ-2)"]


def test_find_issues_retries_are_bounded_by_the_batch(
    jira_client: jira.JiraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that names one unknown key per answer: one more try per key, never more."""
    calls: list[str] = []

    def one_at_a_time(
        jql: str, *, fields: Sequence[str] = (), page_size: int = 100
    ) -> Iterator[jira.JiraIssue]:
        calls.append(jql)
        first = jql.split("(", 1)[1].split(",")[0].rstrip(")")
        raise errors.JiraValidationError(
            "HTTP 400",
            status=400,
            body={
                "errorMessages": [f"An issue with key '{first}' does not exist for field 'key'."],
                "errors": {},
            },
        )

    monkeypatch.setattr(jira_client, "search", one_at_a_time)
    assert jira_client.find_issues(keys=["A-1", "A-2", "A-3"]) == []
    assert calls == ["key in (A-1, A-2, A-3)", "key in (A-2, A-3)", "key in (A-3)"]


def test_a_moved_issue_is_found_and_answered_under_its_id(
    sandbox: VendorSandbox, jira_client: jira.JiraClient
) -> None:
    sandbox.add_issue("NEW-5", "10001")
    (issue,) = jira_client.find_issues(ids=["10001"])
    assert (issue.id, issue.key) == ("10001", "NEW-5")


# --------------------------------------------------------------------------- parsing


def test_jira_timestamps() -> None:
    assert epoch_ms("2026-12-01T10:00:00.000+0000") == int(
        datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp() * 1000
    )
    assert (
        epoch_ms("2026-12-01T11:00:00.123+0100")
        == int(datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp() * 1000) + 123
    )
    for odd in (None, "", "yesterday", 17):
        assert epoch_ms(odd) is None
    issue = jira.JiraIssue.from_api({"id": "1", "fields": {"updated": "soon"}})
    assert (issue.key, issue.updated_ms) == ("", None)
    with pytest.raises(errors.JiraError):
        jira.JiraIssue.from_api({"key": "A-1"})
