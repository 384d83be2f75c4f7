"""The Jira half of the vendor sandbox: issues, and Jira Cloud's enhanced search with a small JQL subset.

``GET`` and ``POST /rest/api/3/search/jql`` (Jira Cloud REST v3, "Search for issues using JQL enhanced
search") as documented: ``jql``, ``fields``, ``maxResults`` (default 50), ``nextPageToken``; answers
``{"issues": [...], "isLast": bool, "nextPageToken": "..."}`` with the token left out on the last page.
Without ``fields`` an issue is only ``{"id", "key"}`` (Jira documents "IDs only"; whether it also sends
``key`` was not confirmed, the sandbox does). At most 100 issues a page when fields are asked for, 5000
for ids and keys only. The token is opaque and bound to its query; an unbounded query (no restriction,
only ``ORDER BY``) is refused as Jira refuses it.

The JQL subset, keywords in any case, clauses joined by ``AND`` only:

- ``cf[10100] is EMPTY`` / ``is not EMPTY`` (``NULL`` too): ``cf[N]`` is ``customfield_N``;
- ``updated >= "yyyy/MM/dd HH:mm"`` (also ``>``, ``<=``, ``<``; ``yyyy-MM-dd HH:mm``, ``yyyy/MM/dd``,
  ``yyyy-MM-dd``, a relative ``-15m`` / ``-2h`` / ``-1d`` / ``-1w``, or an unquoted number of epoch
  milliseconds). The sandbox reads dates in **UTC**; real Jira reads them in the searching user's time
  zone (their profile's, by default the site's), so a client should search with relative periods or in
  that zone;
- ``id in (...)`` / ``key in (...)`` (and the aliases ``issue``, ``issuekey``): like Jira, each value is
  an id when it is a number and a key otherwise, keys in any case. An unknown *key* makes the whole search
  answer 400 ``"An issue with key 'X' does not exist for field 'key'."`` (what Jira Server and the old Cloud
  search did; whether ``/search/jql`` does it or silently skips the key was not confirmed, and this is the
  harder case for a client); an unknown *id* is silently left out;
- an optional ``ORDER BY id`` / ``ORDER BY key`` with ``ASC`` / ``DESC`` (default: by id, ascending).

Anything else is answered 400 ``{"errorMessages": ["Error in the JQL Query: ..."], "errors": {}}``.

Every route is served under REST v2 and v3 alike (``/rest/api/2/...`` and ``/rest/api/3/...``): the two
differ only in how rich-text fields are rendered, and the sandbox stores field values as given. Besides the
search and ``issue/{idOrKey}``, ``serverInfo`` (``server_info``, answered without credentials as Jira
documents) and ``field`` (``field_list``) are here for clients such as pycontribs ``jira``, which read them
when they connect and before a search.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Reply = tuple[int, Any, dict[str, str]]

SEARCH_PATH = "/rest/api/3/search/jql"
# The Jira routes, each under /rest/api/2 and /rest/api/3; group 1 is the version.
SEARCH_RE = re.compile(r"^/rest/api/([23])/search/jql$")
ISSUE_RE = re.compile(r"^/rest/api/([23])/issue/([^/]+)$")
SERVER_INFO_RE = re.compile(r"^/rest/api/([23])/serverInfo$")
FIELD_RE = re.compile(r"^/rest/api/([23])/field$")
DEFAULT_MAX_RESULTS = 50
MAX_RESULTS_WITH_FIELDS = 100
MAX_RESULTS_IDS_ONLY = 5000
# SearchAndReconcileRequestBean has additionalProperties: false.
POST_PROPERTIES = frozenset(
    {
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "reconcileIssues",
    }
)
ALL_FIELDS = frozenset({"*all", "*navigable"})
KEY_FIELDS = frozenset({"id", "key", "issue", "issuekey"})
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
BAD_TOKEN = "The provided next page token is invalid or expired."

_TOKEN_RE = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<cf>cf\[\d+\])|(?P<op>>=|<=|!=|>|<|=|~)"""
    r"""|(?P<punct>[(),])|(?P<word>[A-Za-z0-9_.:+\-]+))""",
    re.IGNORECASE,
)
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_RELATIVE_RE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_UNIT_MS = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_KEY_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[1-9][0-9]*$")


class BadRequestError(Exception):
    """A request Jira would answer 400, with its error messages."""

    def __init__(self, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = list(messages)


def bad_request(error: BadRequestError) -> Reply:
    return 400, {"errorMessages": error.messages, "errors": {}}, {}


def _jql_error(detail: str) -> BadRequestError:
    return BadRequestError(f"Error in the JQL Query: {detail}")


# --------------------------------------------------------------------------- issues and their fields


def new_issue(key: str, issue_id: str, fields: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
    return {"id": str(issue_id), "key": key, "fields": dict(fields or {}), "updated": now_ms}


def format_updated(ms: int) -> str:
    """Jira's timestamp format, e.g. ``2026-12-01T10:00:00.000+0000`` (the sandbox's zone is UTC)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


@dataclass(frozen=True)
class FieldSelection:
    """What a ``fields`` list asks for: everything, some names, and names left out."""

    everything: bool
    names: tuple[str, ...]
    excluded: frozenset[str]

    @classmethod
    def of(cls, requested: Iterable[str]) -> FieldSelection:
        names = [n.strip() for n in requested if n and n.strip()]
        return cls(
            everything=any(n in ALL_FIELDS for n in names),
            names=tuple(n for n in names if n not in ALL_FIELDS | KEY_FIELDS and not n.startswith("-")),
            excluded=frozenset(n[1:] for n in names if n.startswith("-")),
        )

    @property
    def ids_only(self) -> bool:
        return not self.everything and not self.names


def render_fields(issue: dict[str, Any], requested: Iterable[str]) -> dict[str, Any] | None:
    """The ``fields`` object for the requested names, or None when only ids and keys were asked for.

    ``*all`` / ``*navigable`` give every field, ``-name`` leaves one out; a name the issue has no value for
    reads ``null``, as an existing but empty field does in Jira.
    """
    selection = FieldSelection.of(requested)
    if selection.ids_only:
        return None
    every = {**issue["fields"], "updated": format_updated(issue["updated"])}
    if selection.everything:
        return {k: v for k, v in every.items() if k not in selection.excluded}
    return {n: every.get(n) for n in selection.names if n not in selection.excluded}


def render_issue(
    issue: dict[str, Any], fields: dict[str, Any] | None, base: str, version: str = "3"
) -> dict[str, Any]:
    if fields is None:
        return {"id": issue["id"], "key": issue["key"]}
    return {
        "expand": "",
        "id": issue["id"],
        "self": f"{base}/rest/api/{version}/issue/{issue['id']}",
        "key": issue["key"],
        "fields": fields,
    }


# --------------------------------------------------------------------------- serverInfo and fields


def server_info(base: str, now_ms: int) -> dict[str, Any]:
    """``GET /rest/api/{2,3}/serverInfo``: the documented properties; ``deploymentType`` is "always
    returned as Cloud" (pycontribs ``jira`` reads it to choose the Cloud search, and needs
    ``versionNumbers``). Build numbers and dates are made up."""
    return {
        "baseUrl": base,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100000,
        "buildDate": "2026-01-01T00:00:00.000+0000",
        "serverTime": format_updated(now_ms),
        "scmInfo": "vendor-sandbox",
        "serverTitle": "Jira (vendor sandbox)",
    }


_SYSTEM_FIELDS = {"summary": ("Summary", "string"), "updated": ("Updated", "datetime")}
_TEXT_FIELD = "com.atlassian.jira.plugin.system.customfieldtypes:textfield"


def field_list(issues: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``GET /rest/api/{2,3}/field``: ``summary``, ``updated`` and every field an issue holds, custom
    fields as single-line text fields named by their id (the sandbox knows no display names)."""
    names = {name for issue in issues for name in issue["fields"]} | set(_SYSTEM_FIELDS)
    return [_field(name) for name in sorted(names)]


def _field(name: str) -> dict[str, Any]:
    number = name.removeprefix("customfield_")
    custom = name != number and number.isdigit()
    title, kind = _SYSTEM_FIELDS.get(name, (name, "string"))
    schema: dict[str, Any] = {"type": kind, "system": name}
    if custom:
        schema = {"type": "string", "custom": _TEXT_FIELD, "customId": int(number)}
    return {
        "id": name,
        "key": name,
        "name": title,
        "custom": custom,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": [f"cf[{number}]"] if custom else [name],
        "schema": schema,
    }


# --------------------------------------------------------------------------- JQL


@dataclass(frozen=True)
class IsEmpty:
    field: str
    empty: bool


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    ms: int


@dataclass(frozen=True)
class InList:
    name: str
    values: tuple[str, ...]


Clause = IsEmpty | Compare | InList


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    order: str = "id"
    descending: bool = False


Token = tuple[str, str]


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise _jql_error(f"unexpected character at position {pos + 1}.")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token], now_ms: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.now_ms = now_ms

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _jql_error("the query ends too early.")
        self.i += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() in words

    def expect(self, kind: str, *values: str) -> Token:
        token = self.take()
        if token[0] != kind or (values and token[1].lower() not in values):
            raise _jql_error(f"expected {' or '.join(values) or kind} but got '{token[1]}'.")
        return token

    def query(self) -> Query:
        clauses: list[Clause] = []
        if self.peek() is not None and not self.at_word("order"):
            clauses.append(self.clause())
            while self.at_word("and"):
                self.take()
                clauses.append(self.clause())
        order, descending = self.order_by()
        if self.peek() is not None:
            raise _jql_error(f"the sandbox does not support '{self.take()[1]}' here (only AND and ORDER BY).")
        return Query(tuple(clauses), order, descending)

    def order_by(self) -> tuple[str, bool]:
        if not self.at_word("order"):
            return "id", False
        self.take()
        self.expect("word", "by")
        field = self.expect("word")[1].lower()
        if field not in KEY_FIELDS:
            raise _jql_error(f"the sandbox orders by id or key only, not '{field}'.")
        descending = False
        if self.at_word("asc", "desc"):
            descending = self.take()[1].lower() == "desc"
        return ("key" if field in ("key", "issuekey") else "id"), descending

    def clause(self) -> Clause:
        kind, name = self.take()
        if kind == "cf":
            return self.is_empty(f"customfield_{name[3:-1]}")
        lowered = name.lower() if kind == "word" else ""
        if lowered == "updated":
            if self.at_word("is"):
                return self.is_empty("updated")
            return self.compare("updated")
        if lowered in KEY_FIELDS:
            return self.in_list(name)
        raise _jql_error(f"the sandbox does not support the field '{name}' (cf[N], updated, id, key).")

    def is_empty(self, field: str) -> IsEmpty:
        self.expect("word", "is")
        negated = self.at_word("not")
        if negated:
            self.take()
        self.expect("word", "empty", "null")
        return IsEmpty(field, empty=not negated)

    def compare(self, field: str) -> Compare:
        op = self.expect("op")[1]
        if op not in _COMPARE:
            raise _jql_error(f"the sandbox does not support the operator '{op}' for '{field}'.")
        return Compare(field, op, self.when(self.take()))

    def when(self, token: Token) -> int:
        kind, text = token
        if kind == "word" and text.isdigit():
            return int(text)  # unquoted: milliseconds after the epoch
        relative = _RELATIVE_RE.match(text.strip())
        if relative:
            sign = -1 if relative.group(1) == "-" else 1
            return self.now_ms + sign * int(relative.group(2)) * _UNIT_MS[relative.group(3)]
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
            return int(parsed.timestamp()) * 1000
        raise _jql_error(
            f"Date value '{text}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
            "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w'."
        )

    def in_list(self, name: str) -> InList:
        self.expect("word", "in")
        self.expect("punct", "(")
        values = [self.value()]
        while self.peek() == ("punct", ","):
            self.take()
            values.append(self.value())
        self.expect("punct", ")")
        return InList(name, tuple(v.strip() for v in values))

    def value(self) -> str:
        kind, text = self.take()
        if kind not in ("word", "str"):
            raise _jql_error(f"expected a value but got '{text}'.")
        return text


def parse_jql(text: str, now_ms: int) -> Query:
    """The sandbox's JQL subset; raises BadRequestError for anything else (and for unbounded queries)."""
    query = _Parser(tokenize(text), now_ms).query()
    if not query.clauses:
        raise BadRequestError(UNBOUNDED)
    return query


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Wanted:
    ids: frozenset[str]
    keys: frozenset[str]


def _resolve(clause: InList, by_key: dict[str, dict[str, Any]]) -> tuple[_Wanted, list[str]]:
    """Which ids and keys an ``in`` list names, and the errors for unknown or malformed keys."""
    ids = {v for v in clause.values if v.isdigit()}
    keys = {v.upper() for v in clause.values if not v.isdigit()}
    field = clause.name
    problems: list[str] = []
    for v in (v for v in clause.values if not v.isdigit()):
        if not _KEY_SHAPE.match(v):
            problems.append(f"The issue key '{v}' for field '{field}' is invalid.")
        elif v.upper() not in by_key:
            problems.append(f"An issue with key '{v}' does not exist for field '{field}'.")
    return _Wanted(frozenset(ids), frozenset(keys)), problems


def _matches(issue: dict[str, Any], clause: Clause, wanted: dict[int, _Wanted], index: int) -> bool:
    if isinstance(clause, IsEmpty):
        value = issue["updated"] if clause.field == "updated" else issue["fields"].get(clause.field)
        empty = value is None or value == "" or value == [] or value == {}
        return empty == clause.empty
    if isinstance(clause, Compare):
        return _COMPARE[clause.op](int(issue["updated"]), clause.ms)
    w = wanted[index]
    return issue["id"] in w.ids or issue["key"].upper() in w.keys


def sort_key(issue: dict[str, Any], order: str) -> list[Any]:
    if order == "key":
        project, _, number = issue["key"].rpartition("-")
        return [project.upper(), int(number) if number.isdigit() else 0, issue["key"]]
    return [int(issue["id"]) if issue["id"].isdigit() else -1, issue["id"]]


def select(issues: Iterable[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """The issues that match, in the query's order; raises BadRequestError for unknown keys."""
    pool = list(issues)
    by_key = {issue["key"].upper(): issue for issue in pool}
    wanted: dict[int, _Wanted] = {}
    problems: list[str] = []
    for i, clause in enumerate(query.clauses):
        if isinstance(clause, InList):
            wanted[i], found = _resolve(clause, by_key)
            problems += found
    if problems:
        raise BadRequestError(*problems)
    rows = [x for x in pool if all(_matches(x, c, wanted, i) for i, c in enumerate(query.clauses))]
    return sorted(rows, key=lambda x: sort_key(x, query.order), reverse=query.descending)


# --------------------------------------------------------------------------- the search request


@dataclass(frozen=True)
class SearchRequest:
    jql: str
    fields: tuple[str, ...]
    max_results: int | None
    token: str | None


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadRequestError(f"The value '{value}' is invalid for the parameter {name}.")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"The value '{value}' is invalid for the parameter {name}.") from None


def request_from_query(query: dict[str, list[str]]) -> SearchRequest:
    """GET: ``fields`` may repeat and may hold comma-separated names."""
    fields = tuple(name for value in query.get("fields", []) for name in value.split(",") if name.strip())
    return SearchRequest(
        jql=_last(query, "jql") or "",
        fields=fields,
        max_results=_int_or_none(_last(query, "maxResults"), "maxResults"),
        token=_last(query, "nextPageToken") or None,
    )


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def request_from_body(body: Any) -> SearchRequest:
    """POST: a JSON object of the same names; unknown properties are refused."""
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object.")
    unknown = sorted(set(body) - POST_PROPERTIES)
    if unknown:
        raise BadRequestError(*(f'Unrecognized field "{name}"' for name in unknown))
    fields = body.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadRequestError("fields must be a list of strings.")
    return SearchRequest(
        _str_or_none(body.get("jql"), "jql") or "",
        tuple(fields),
        _int_or_none(body.get("maxResults"), "maxResults"),
        _str_or_none(body.get("nextPageToken"), "nextPageToken"),
    )


def _str_or_none(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise BadRequestError(f"{name} must be a string.")


def _query_tag(jql: str) -> str:
    return hashlib.sha256(jql.encode()).hexdigest()[:16]


def encode_token(jql: str, after: list[Any]) -> str:
    raw = json.dumps({"q": _query_tag(jql), "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(jql: str, token: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise BadRequestError(BAD_TOKEN) from None
    if (
        not isinstance(data, dict)
        or data.get("q") != _query_tag(jql)
        or not isinstance(data.get("after"), list)
    ):
        raise BadRequestError(BAD_TOKEN)
    after: list[Any] = data["after"]
    return after


def _after(rows: list[dict[str, Any]], query: Query, after: list[Any]) -> list[dict[str, Any]]:
    if query.descending:
        return [x for x in rows if sort_key(x, query.order) < after]
    return [x for x in rows if sort_key(x, query.order) > after]


def search(
    issues: Iterable[dict[str, Any]], request: SearchRequest, now_ms: int, base: str, version: str = "3"
) -> Reply:
    """One page of ``/rest/api/{2,3}/search/jql``."""
    try:
        query = parse_jql(request.jql, now_ms)
        rows = select(issues, query)
        if request.token is not None:
            rows = _after(rows, query, decode_token(request.jql, request.token))
    except BadRequestError as e:
        return bad_request(e)
    cap = MAX_RESULTS_IDS_ONLY if FieldSelection.of(request.fields).ids_only else MAX_RESULTS_WITH_FIELDS
    size = max(1, min(cap, DEFAULT_MAX_RESULTS if request.max_results is None else request.max_results))
    page = rows[:size]
    answer: dict[str, Any] = {
        "issues": [render_issue(x, render_fields(x, request.fields), base, version) for x in page],
        "isLast": len(rows) <= size,
    }
    if not answer["isLast"]:
        answer["nextPageToken"] = encode_token(request.jql, sort_key(page[-1], query.order))
    return 200, answer, {}
