"""The sandbox's own Jira search: its JQL subset, field selection, page sizes and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local import vendors_jira as vj
from local.vendors import VendorSandbox

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
NOW_MS = int(T0 * 1000)


@pytest.fixture
def sandbox() -> Iterator[VendorSandbox]:
    with VendorSandbox(clock=lambda: T0) as sb:
        yield sb


def _get(sandbox: VendorSandbox, params: Any) -> requests.Response:
    auth = (sandbox.jira_email, sandbox.jira_token)
    return requests.get(f"{sandbox.url}/rest/api/3/search/jql", params=params, auth=auth, timeout=5)


def _post(sandbox: VendorSandbox, body: Any) -> requests.Response:
    auth = (sandbox.jira_email, sandbox.jira_token)
    return requests.post(f"{sandbox.url}/rest/api/3/search/jql", json=body, auth=auth, timeout=5)


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("cf[10100] is not EMPTY", vj.Query((vj.IsEmpty("customfield_10100", empty=False),))),
        ("CF[7] IS null", vj.Query((vj.IsEmpty("customfield_7", empty=True),))),
        ('updated >= "2027/01/15 08:05"', vj.Query((vj.Compare("updated", ">=", NOW_MS + 300_000),))),
        ("updated > 2027-01-15", vj.Query((vj.Compare("updated", ">", NOW_MS - 8 * 3_600_000),))),
        ('updated >= "-15m"', vj.Query((vj.Compare("updated", ">=", NOW_MS - 900_000),))),
        ("updated < 1800000000000", vj.Query((vj.Compare("updated", "<", NOW_MS),))),
        ("key in (A-1, 'b-2') ORDER BY key DESC", vj.Query((vj.InList("key", ("A-1", "b-2")),), "key", True)),
        (
            'issuekey in ("A-1") and id IN (1,2) order by id',
            vj.Query((vj.InList("issuekey", ("A-1",)), vj.InList("id", ("1", "2")))),
        ),
    ],
)
def test_jql_subset(jql: str, expected: vj.Query) -> None:
    assert vj.parse_jql(jql, NOW_MS) == expected


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("", "Unbounded JQL"),
        ("ORDER BY key", "Unbounded JQL"),
        ("project = PROJ", "does not support the field 'project'"),
        ("cf[1] is EMPTY OR cf[2] is EMPTY", "does not support 'OR'"),
        ("cf[1] ~ 35436", "expected is"),
        ("updated = -1d", "operator '='"),
        ('updated >= "15/01/2027"', "Date value '15/01/2027'"),
        ("key in (A-1", "ends too early"),
        ("key in ()", "expected a value"),
        ("cf[1] is not EMPTY ORDER BY updated", "orders by id or key only"),
        ("cf[1] is not EMPTY; drop", "unexpected character"),
    ],
)
def test_unsupported_jql_is_a_400(sandbox: VendorSandbox, jql: str, message: str) -> None:
    with pytest.raises(vj.BadRequestError, match=message):
        vj.parse_jql(jql, NOW_MS)
    answer = _post(sandbox, {"jql": jql})
    assert answer.status_code == 400
    assert message.split("'")[0] in answer.json()["errorMessages"][0]
    assert answer.json()["errors"] == {}


def test_unknown_keys_fail_the_search_unknown_ids_do_not(sandbox: VendorSandbox) -> None:
    sandbox.add_issue("PROJ-1", "10001")
    by_key = _post(sandbox, {"jql": "key in (proj-1, NOPE-2, PROJ-7) AND id in (10001, 555)"})
    assert by_key.status_code == 400
    assert by_key.json()["errorMessages"] == [
        "An issue with key 'NOPE-2' does not exist for field 'key'.",
        "An issue with key 'PROJ-7' does not exist for field 'key'.",
    ]
    by_id = _post(sandbox, {"jql": "id in (10001, 555)"})
    assert by_id.json() == {"issues": [{"id": "10001", "key": "PROJ-1"}], "isLast": True}
    by_key_as_id = _post(sandbox, {"jql": "key in (10001)"})  # id, key, issue, issuekey are aliases in Jira
    assert [i["key"] for i in by_key_as_id.json()["issues"]] == ["PROJ-1"]


def test_get_takes_repeated_and_comma_separated_fields(sandbox: VendorSandbox) -> None:
    sandbox.add_issue("PROJ-1", "10001", {"customfield_1": "a", "customfield_2": "b", "summary": "s"})
    answer = _get(
        sandbox, [("jql", "cf[1] is not EMPTY"), ("fields", "customfield_1,updated"), ("fields", "summary")]
    )
    (issue,) = answer.json()["issues"]
    assert issue["fields"] == {
        "customfield_1": "a",
        "updated": "2027-01-15T08:00:00.000+0000",
        "summary": "s",
    }
    assert issue["self"].endswith("/rest/api/3/issue/10001")
    everything = _get(sandbox, {"jql": "cf[1] is not EMPTY", "fields": "*all,-summary"}).json()["issues"][0]
    assert set(everything["fields"]) == {"customfield_1", "customfield_2", "updated"}
    missing = _get(sandbox, {"jql": "cf[1] is not EMPTY", "fields": "customfield_9"}).json()["issues"][0]
    assert missing["fields"] == {"customfield_9": None}


def test_page_sizes_default_and_caps(sandbox: VendorSandbox) -> None:
    for i in range(1, 151):
        sandbox.add_issue(f"PROJ-{i}", str(10000 + i), {"customfield_1": "x"})
    jql = "cf[1] is not EMPTY"
    assert len(_post(sandbox, {"jql": jql}).json()["issues"]) == 50
    with_fields = _post(sandbox, {"jql": jql, "fields": ["updated"], "maxResults": 500}).json()
    assert len(with_fields["issues"]) == 100 and with_fields["isLast"] is False
    ids_only = _post(sandbox, {"jql": jql, "fields": ["id"], "maxResults": 500}).json()
    assert len(ids_only["issues"]) == 150 and ids_only["isLast"] is True and "nextPageToken" not in ids_only


def test_tokens_are_bound_to_their_query(sandbox: VendorSandbox) -> None:
    for i in range(1, 4):
        sandbox.add_issue(f"PROJ-{i}", str(10000 + i), {"customfield_1": "x"})
    first = _post(sandbox, {"jql": "cf[1] is not EMPTY", "maxResults": 1}).json()
    token = first["nextPageToken"]
    assert _post(sandbox, {"jql": "cf[1] is not EMPTY", "nextPageToken": token}).status_code == 200
    other = _post(sandbox, {"jql": "cf[1] is not EMPTY ORDER BY key", "nextPageToken": token})
    assert other.status_code == 400
    assert _post(sandbox, {"jql": "cf[1] is not EMPTY", "nextPageToken": "garbage!"}).status_code == 400


def test_post_bean_refuses_unknown_properties(sandbox: VendorSandbox) -> None:
    answer = _post(sandbox, {"jql": "cf[1] is EMPTY", "startAt": 0})
    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == ['Unrecognized field "startAt"']
    assert _post(sandbox, {"jql": "cf[1] is EMPTY", "maxResults": "many"}).status_code == 400
    assert _post(sandbox, ["not", "an", "object"]).status_code == 400


def test_order_by_key_descending_pages_backwards(sandbox: VendorSandbox) -> None:
    for key, issue_id in (("B-2", "3"), ("A-10", "1"), ("A-9", "2")):
        sandbox.add_issue(key, issue_id, {"customfield_1": "x"})
    jql = "cf[1] is not EMPTY ORDER BY key DESC"
    first = _post(sandbox, {"jql": jql, "maxResults": 2}).json()
    rest = _post(sandbox, {"jql": jql, "maxResults": 2, "nextPageToken": first["nextPageToken"]}).json()
    assert [i["key"] for i in first["issues"] + rest["issues"]] == ["B-2", "A-10", "A-9"]


def test_updated_moves_when_fields_are_set(sandbox: VendorSandbox) -> None:
    issue = sandbox.add_issue("PROJ-1", fields={"customfield_1": "1"})
    assert issue["updated"] == NOW_MS and issue["id"] == "20001"
    sandbox.advance(90)
    sandbox.set_issue_field("PROJ-1", "customfield_1", "2")
    assert sandbox.state.issues["PROJ-1"]["updated"] == NOW_MS + 90_000
    with pytest.raises(KeyError):
        sandbox.set_issue_field("NOPE-1", "customfield_1", "x")


def test_get_issue_by_id_or_key_with_fields(sandbox: VendorSandbox) -> None:
    sandbox.add_issue("PROJ-1", "10001", {"customfield_1": "a"})
    auth = (sandbox.jira_email, sandbox.jira_token)
    by_id = requests.get(f"{sandbox.url}/rest/api/3/issue/10001", auth=auth, timeout=5).json()
    assert by_id["key"] == "PROJ-1" and by_id["fields"]["customfield_1"] == "a"
    none = requests.get(f"{sandbox.url}/rest/api/3/issue/PROJ-1?fields=", auth=auth, timeout=5).json()
    assert none["fields"] == {}


def test_search_needs_jira_auth_and_is_recorded(sandbox: VendorSandbox) -> None:
    answer = requests.post(f"{sandbox.url}/rest/api/3/search/jql", json={"jql": "cf[1] is EMPTY"}, timeout=5)
    assert answer.status_code == 401
    sandbox.fail_next("500", path_prefix="/rest/api/3/search/jql", method="GET")
    assert _get(sandbox, {"jql": "cf[1] is EMPTY"}).status_code == 500
    assert [(c.method, c.status, c.fault) for c in sandbox.calls] == [
        ("POST", 401, None),
        ("GET", 500, "500"),
    ]


def test_control_routes_seed_issues_with_fields_and_move_time(sandbox: VendorSandbox) -> None:
    seeded = requests.post(
        f"{sandbox.url}/_sandbox/issues",
        json={"key": "PROJ-1", "id": "10001", "fields": {"customfield_1": "7"}},
        timeout=5,
    )
    assert seeded.status_code == 201 and seeded.json()["fields"] == {"customfield_1": "7"}
    assert (
        requests.post(f"{sandbox.url}/_sandbox/advance", json={"seconds": 120}, timeout=5).status_code == 204
    )
    assert sandbox.now() == T0 + 120
    changed = _post(sandbox, {"jql": 'updated >= "-3m" AND cf[1] is not EMPTY', "fields": ["customfield_1"]})
    assert [i["fields"] for i in changed.json()["issues"]] == [{"customfield_1": "7"}]
    assert _post(sandbox, {"jql": 'updated >= "-1m"'}).json()["issues"] == []
    assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).status_code == 204
    assert sandbox.state.issues == {} and sandbox.calls == []
