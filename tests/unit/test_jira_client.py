"""The Jira client against the sandbox: key → id, cached; errors typed like Zendesk's."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from linksync import errors, jira
from linksync.apiclient import parse_retry_after
from local.vendors import VendorSandbox


def test_get_issue_resolves_key_with_basic_auth(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    sandbox.add_issue("PROJ-12", "10012")

    ref = jira_client.get_issue("PROJ-12")

    assert ref == jira.JiraIssueRef(id="10012", key="PROJ-12")
    (call,) = sandbox.calls
    assert (call.method, call.path) == ("GET", "/rest/api/3/issue/PROJ-12")
    assert call.query == {"fields": [""]}
    expected = "Basic " + base64.b64encode(b"jira@example.com:jira-test-token").decode()
    assert call.headers["authorization"] == expected


def test_resolve_caches_per_key(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    sandbox.add_issue("PROJ-1", "1")
    sandbox.add_issue("PROJ-2", "2")
    assert jira_client.resolve_issue_id("PROJ-1").id == "1"
    assert jira_client.resolve_issue_id("PROJ-1").id == "1"
    assert jira_client.resolve_issue_id("PROJ-2").id == "2"
    assert len(sandbox.calls) == 2


def test_missing_issue_is_not_found(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    with pytest.raises(errors.JiraNotFoundError) as caught:
        jira_client.get_issue("NOPE-1")
    assert caught.value.status == 404 and not caught.value.retryable
    assert isinstance(caught.value, errors.NotFoundError)


def test_invalid_key_is_refused_without_a_call(sandbox: VendorSandbox, jira_client: jira.JiraClient) -> None:
    for bad in ("proj-1", "PROJ-", "../../admin", "PROJ-1/../x", ""):
        with pytest.raises(errors.JiraValidationError):
            jira_client.get_issue(bad)
    assert sandbox.calls == []


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        ("503", errors.JiraUnavailableError),
        ("429", errors.JiraRateLimitedError),
        ("drop", errors.JiraUnavailableError),
        ("slow", errors.JiraUnavailableError),
    ],
)
def test_transient_faults_are_retryable(
    sandbox: VendorSandbox, jira_client: jira.JiraClient, kind: str, error_type: type[errors.JiraError]
) -> None:
    sandbox.add_issue("PROJ-1", "1")
    sandbox.fail_next(kind, path_prefix="/rest/")
    with pytest.raises(error_type) as caught:
        jira_client.get_issue("PROJ-1")
    assert caught.value.retryable
    assert jira_client.get_issue("PROJ-1").id == "1"


def test_bad_credentials_are_auth_errors(sandbox: VendorSandbox) -> None:
    client = jira.JiraClient(sandbox.url, jira.api_token_auth("jira@example.com", "wrong-token"))
    with pytest.raises(errors.JiraAuthError) as caught:
        client.get_issue("PROJ-1")
    assert "wrong-token" not in str(caught.value) + repr(caught.value)


def test_plain_http_refused_for_remote_jira() -> None:
    with pytest.raises(errors.ConfigError):
        jira.JiraClient("http://example.atlassian.net", jira.api_token_auth("a", "b"))


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    parsed = parse_retry_after(later)
    assert parsed is not None and 100 < parsed <= 120
