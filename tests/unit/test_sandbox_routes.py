"""The sandbox as real clients meet it: suffixes, refused parameters, auth schemes, methods, Jira's v2 paths.

Raw HTTP, so what is checked is the sandbox's answer, not what one client happens to send.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from local.vendors import VendorSandbox

LINK_FIELDS = {"id", "issue_id", "issue_key", "ticket_id", "created_at", "updated_at", "url"}


def _basic(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def _zendesk(sandbox: VendorSandbox, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {_basic(f'{sandbox.zendesk_email}/token', sandbox.zendesk_token)}"}


def _jira(sandbox: VendorSandbox, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {_basic(sandbox.jira_email, sandbox.jira_token)}"}


def _get(sandbox: VendorSandbox, path: str, headers: dict[str, str], **params: Any) -> requests.Response:
    return requests.get(sandbox.url + path, headers=headers, params=params, timeout=5)


# --------------------------------------------------------------------------- .json suffixes


def test_every_link_route_answers_with_a_json_suffix(sandbox: VendorSandbox) -> None:
    auth = _zendesk(sandbox)
    body = {"link": {"issue_id": 5461, "issue_key": "PROJ-7", "ticket_id": 5001}}  # numbers, as zenpy sends

    created = requests.post(f"{sandbox.url}/api/services/jira/links.json", json=body, headers=auth, timeout=5)
    link_id = created.json()["link"]["id"]
    shown = _get(sandbox, f"/api/services/jira/links/{link_id}.json", auth)
    listed_v2 = _get(sandbox, "/api/v2/jira/links.json", auth)
    listed_old = _get(sandbox, "/api/services/jira/links.json", auth, ticket_id="5001")
    deleted = requests.delete(
        f"{sandbox.url}/api/services/jira/links/{link_id}.json", headers=auth, timeout=5
    )

    assert created.status_code == 201 and set(created.json()["link"]) == LINK_FIELDS
    assert (created.json()["link"]["issue_id"], created.json()["link"]["ticket_id"]) == ("5461", "5001")
    assert shown.status_code == 200 and shown.json()["link"]["id"] == link_id
    assert [x["id"] for x in listed_v2.json()["links"]] == [link_id]
    assert [x["id"] for x in listed_old.json()["links"]] == [link_id]
    assert deleted.status_code == 204
    assert sandbox.links() == []


# --------------------------------------------------------------------------- parameters refused, not ignored


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"filter[issue_id]": "10001"}, "filter[issue_id]"),
        ({"filter[issue_key]": "PROJ-1"}, "filter[issue_key]"),
        ({"filter[ticket_id]": "5000", "filter[anything]": "x"}, "filter[anything]"),
        ({"filter": "5000"}, "filter"),
        ({"filter[ticket_id]": "abc"}, "filter[ticket_id]"),
        ({"filter[ticket_id]": "0"}, "filter[ticket_id]"),
        ({"filter[ticket_id]": ""}, "filter[ticket_id]"),
        ({"page[size]": "0"}, "page[size]"),
        ({"page[size]": "1001"}, "page[size]"),
        ({"page[size]": "-1"}, "page[size]"),
        ({"page[size]": "ten"}, "page[size]"),
        ({"page[after]": "-1"}, "page[after]"),
        ({"page[after]": "abc"}, "page[after]"),
        ({"page[after]": str(2**64)}, "page[after]"),
    ],
)
def test_the_v2_list_refuses_what_it_cannot_honour(
    sandbox: VendorSandbox, params: dict[str, str], named: str
) -> None:
    """Ignoring a filter would answer with every link of the account, which a careless client deletes."""
    sandbox.add_link(issue_id="10001", issue_key="PROJ-1", ticket_id="5000")
    sandbox.add_link(issue_id="10002", issue_key="PROJ-2", ticket_id="5001")

    answer = _get(sandbox, "/api/v2/jira/links", _zendesk(sandbox), **params)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["title"] == "Invalid attribute"
    assert named in error["message"]
    assert "links" not in answer.json()


def test_the_v2_list_takes_what_it_documents(sandbox: VendorSandbox) -> None:
    for i in range(3):
        sandbox.add_link(issue_id=str(10001 + i), issue_key=f"PROJ-{i + 1}", ticket_id="5000")
    sandbox.add_link(issue_id="10009", issue_key="PROJ-9", ticket_id="5001")
    auth = _zendesk(sandbox)

    first = _get(sandbox, "/api/v2/jira/links", auth, **{"filter[ticket_id]": "5000", "page[size]": "2"})
    after = first.json()["links"][-1]["id"]
    rest = _get(
        sandbox, "/api/v2/jira/links", auth, **{"filter[ticket_id]": "5000", "page[after]": str(after)}
    )
    everything = _get(sandbox, "/api/v2/jira/links", auth, **{"page[size]": "1000", "page[after]": "0"})

    assert first.status_code == rest.status_code == everything.status_code == 200
    assert [x["issue_id"] for x in first.json()["links"]] == ["10001", "10002"]
    assert first.json()["meta"]["has_more"] is True
    assert [x["issue_id"] for x in rest.json()["links"]] == ["10003"]
    assert rest.json()["meta"]["has_more"] is False
    assert len(everything.json()["links"]) == 4


def test_the_deprecated_list_caps_limit_and_counts_its_page() -> None:
    with VendorSandbox(deprecated_limit_cap=50) as capped:
        for i in range(60):
            capped.add_link(issue_id="777", issue_key="A-1", ticket_id=str(1000 + i))

        page = _get(capped, "/api/services/jira/links", _zendesk(capped), issue_id="777", limit="100").json()
        last = page["links"][-1]["id"]
        rest = _get(
            capped, "/api/services/jira/links", _zendesk(capped), issue_id="777", since_id=str(last)
        ).json()

    assert (len(page["links"]), page["total"]) == (50, 50)
    assert (len(rest["links"]), rest["total"]) == (10, 10)


# --------------------------------------------------------------------------- auth schemes in any case


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC", "bAsIc"])
def test_basic_auth_scheme_in_any_case(sandbox: VendorSandbox, scheme: str) -> None:
    sandbox.add_issue("PROJ-1", "10001")
    assert _get(sandbox, "/api/v2/jira/links", _zendesk(sandbox, scheme)).status_code == 200
    assert _get(sandbox, "/rest/api/3/issue/PROJ-1", _jira(sandbox, scheme)).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_scheme_in_any_case(sandbox: VendorSandbox, scheme: str) -> None:
    answer = _get(sandbox, "/api/v2/jira/links", {"Authorization": f"{scheme} zendesk-oauth-token"})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Basic",
        "Bearer stolen",
        "bearer ZENDESK-OAUTH-TOKEN",  # the scheme is case-insensitive, the credentials are not
        "Token zendesk-oauth-token",
        "Basic " + _basic("agent@example.com/token", "wrong"),
        "basic " + _basic("agent@example.com/token", "zendesk-test-token").lower(),
    ],
)
def test_wrong_credentials_are_still_refused(sandbox: VendorSandbox, authorization: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    assert _get(sandbox, "/api/v2/jira/links", headers).status_code == 401
    assert _get(sandbox, "/rest/api/3/issue/PROJ-1", headers).status_code == 401


# --------------------------------------------------------------------------- 405 on known paths


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/services/jira/links/10001", "DELETE, GET"),
        ("PATCH", "/api/services/jira/links/10001.json", "DELETE, GET"),
        ("DELETE", "/api/services/jira/links", "GET, POST"),
        ("POST", "/api/v2/jira/links", "GET"),
        ("DELETE", "/api/v2/tickets/1.json", "GET"),
        ("OPTIONS", "/api/v2/jira/links.json", "GET"),
    ],
)
def test_zendesk_unknown_method_on_a_known_path_is_405(
    sandbox: VendorSandbox, method: str, path: str, allow: str
) -> None:
    answer = requests.request(method, sandbox.url + path, headers=_zendesk(sandbox), timeout=5)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == allow
    assert answer.json()["error"] == "MethodNotAllowed"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/rest/api/3/issue/PROJ-1", "GET"),
        ("DELETE", "/rest/api/2/issue/10001", "GET"),
        ("DELETE", "/rest/api/3/search/jql", "GET, POST"),
        ("POST", "/rest/api/2/serverInfo", "GET"),
    ],
)
def test_jira_unknown_method_on_a_known_path_is_405(
    sandbox: VendorSandbox, method: str, path: str, allow: str
) -> None:
    answer = requests.request(method, sandbox.url + path, headers=_jira(sandbox), timeout=5)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == allow
    assert answer.json()["errorMessages"]


def test_unknown_paths_are_still_404(sandbox: VendorSandbox) -> None:
    assert _get(sandbox, "/api/v2/jira/linkz", _zendesk(sandbox)).status_code == 404
    assert _get(sandbox, "/rest/api/4/issue/PROJ-1", _jira(sandbox)).status_code == 404
    answer = requests.put(f"{sandbox.url}/api/v2/users/1", headers=_zendesk(sandbox), timeout=5)
    assert answer.status_code == 404


# --------------------------------------------------------------------------- Jira: id or key, v2, serverInfo


@pytest.mark.parametrize("version", ["2", "3"])
@pytest.mark.parametrize("wanted", ["PROJ-12", "10012"])
def test_jira_issue_by_key_or_by_id_under_v2_and_v3(
    sandbox: VendorSandbox, version: str, wanted: str
) -> None:
    sandbox.add_issue("PROJ-12", "10012", {"customfield_10100": "5001", "summary": "Twelve"})

    answer = _get(sandbox, f"/rest/api/{version}/issue/{wanted}", _jira(sandbox))

    assert answer.status_code == 200
    issue = answer.json()
    assert (issue["id"], issue["key"]) == ("10012", "PROJ-12")
    assert issue["self"].endswith(f"/rest/api/{version}/issue/10012")
    assert issue["fields"]["customfield_10100"] == "5001"
    assert _get(sandbox, f"/rest/api/{version}/issue/99999", _jira(sandbox)).status_code == 404


@pytest.mark.parametrize("version", ["2", "3"])
def test_server_info_answers_anonymously_and_says_cloud(sandbox: VendorSandbox, version: str) -> None:
    anonymous = _get(sandbox, f"/rest/api/{version}/serverInfo", {})
    signed_in = _get(sandbox, f"/rest/api/{version}/serverInfo", _jira(sandbox))
    wrong = _get(sandbox, f"/rest/api/{version}/serverInfo", {"Authorization": "Basic " + _basic("a", "b")})

    assert anonymous.status_code == signed_in.status_code == 200
    info = anonymous.json()
    assert info["deploymentType"] == "Cloud"
    assert info["baseUrl"] == sandbox.url
    assert all(isinstance(n, int) for n in info["versionNumbers"]) and len(info["versionNumbers"]) == 3
    assert wrong.status_code == 401
    # Only serverInfo is anonymous.
    assert _get(sandbox, f"/rest/api/{version}/field", {}).status_code == 401


def test_field_list_names_the_fields_issues_hold(sandbox: VendorSandbox) -> None:
    sandbox.add_issue("PROJ-1", "10001", {"customfield_10100": "5001"})

    fields = {f["id"]: f for f in _get(sandbox, "/rest/api/2/field", _jira(sandbox)).json()}

    assert {"summary", "updated", "customfield_10100"} <= set(fields)
    custom = fields["customfield_10100"]
    assert custom["custom"] is True and custom["clauseNames"] == ["cf[10100]"]
    assert custom["schema"]["customId"] == 10100
    assert fields["summary"]["custom"] is False and fields["summary"]["clauseNames"] == ["summary"]


@pytest.mark.parametrize("version", ["2", "3"])
def test_search_under_v2_and_v3(sandbox: VendorSandbox, version: str) -> None:
    sandbox.add_issue("PROJ-1", "10001", {"customfield_10100": "5001"})
    sandbox.add_issue("PROJ-2", "10002")
    path = f"/rest/api/{version}/search/jql"
    jql = "cf[10100] is not EMPTY"

    got = _get(sandbox, path, _jira(sandbox), jql=jql, fields="*all")
    posted = requests.post(
        sandbox.url + path, json={"jql": jql, "fields": ["*all"]}, headers=_jira(sandbox), timeout=5
    )

    for answer in (got, posted):
        assert answer.status_code == 200
        (issue,) = answer.json()["issues"]
        assert issue["key"] == "PROJ-1"
        assert issue["self"].endswith(f"/rest/api/{version}/issue/10001")
