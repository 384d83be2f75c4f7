"""Client for the Jira Cloud REST calls the sync needs: an issue key to its id, and issue search.

Zendesk links name issues by ``issue_id``; a Zendesk ticket field names them by key. Keys change when
an issue moves project, ids never do, so the key→id answers are cached per container.

Reconciliation reads through the enhanced search, ``POST /rest/api/3/search/jql``: ``search_page`` (one
page, token-paged), ``search`` (every page, bounded) and ``find_issues`` (which of these ids or keys name
an issue that exists).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from . import errors
from .apiclient import DEFAULT_TIMEOUT, BasicTokenAuth, BearerAuth, ErrorFamily, JsonApi
from .times import epoch_ms

JIRA_ERRORS = ErrorFamily(
    base=errors.JiraError,
    auth=errors.JiraAuthError,
    not_found=errors.JiraNotFoundError,
    validation=errors.JiraValidationError,
    rate_limited=errors.JiraRateLimitedError,
    unavailable=errors.JiraUnavailableError,
)

ISSUE_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
ISSUE_ID_RE = re.compile(r"^[1-9][0-9]{0,17}$")
SEARCH_PATH = "/rest/api/3/search/jql"
# Every paged read stops here, whatever the server says (a loop bound, not a limit anyone should reach).
MAX_PAGES = 10_000
# What Jira answers (400) for a key or id in `key in (...)` / `id in (...)` that names no issue, and for a
# malformed key; the named values are dropped and the search asked again.
_MISSING_RE = re.compile(
    r"An issue with (?:key|id) '([^']*)' does not exist for field '[^']*'", re.IGNORECASE
)
_INVALID_KEY_RE = re.compile(r"The issue key '([^']*)' for field '[^']*' is invalid", re.IGNORECASE)


MISS_TTL_SECONDS = 600.0


def _remember[V](cache: dict[str, V], key: str, value: V, size: int) -> None:
    """Put ``key`` in a cache of at most ``size`` entries, dropping the oldest."""
    if len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[key] = value


def api_token_auth(email: str, api_token: str) -> BasicTokenAuth:
    """Jira Cloud API token auth: Basic base64("{email}:{api_token}")."""
    return BasicTokenAuth(email, api_token)


@dataclass(frozen=True)
class JiraIssueRef:
    id: str
    key: str


def jql_time(at_ms: int) -> str:
    """``"yyyy/MM/dd HH:mm"`` in UTC, floored to the minute, quoted for JQL.

    Jira reads such a date in the *searching user's* time zone, not UTC: use it only when that user's zone
    is UTC, and otherwise prefer a relative period (``updated >= "-15m"``), which needs no zone.
    """
    when = datetime.fromtimestamp(at_ms // 1000, UTC)
    return when.strftime('"%Y/%m/%d %H:%M"')


@dataclass(frozen=True)
class JiraIssue:
    """An issue as the search returns it: top-level id and key, and the raw ``fields`` object."""

    id: str
    key: str
    updated_ms: int | None
    fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Any) -> JiraIssue:
        if not isinstance(data, dict) or not data.get("id"):
            raise errors.JiraError("unexpected issue object in search response", body=data)
        fields = data.get("fields")
        fields = fields if isinstance(fields, dict) else {}
        return cls(
            id=str(data["id"]),
            key=str(data.get("key") or ""),
            updated_ms=epoch_ms(fields.get("updated")),
            fields=fields,
        )

    def field(self, field_id: str) -> Any:
        """A field's raw value (None when the answer does not carry it)."""
        return self.fields.get(field_id)


@dataclass(frozen=True)
class SearchPage:
    issues: list[JiraIssue]
    next_page_token: str | None


def _named_in_error(body: Any) -> set[str]:
    """The keys or ids a 400 from the search says do not exist (or are malformed), upper-cased."""
    if not isinstance(body, dict):
        return set()
    messages = [m for m in body.get("errorMessages") or [] if isinstance(m, str)]
    details = body.get("errors")
    if isinstance(details, dict):
        messages += [m for m in details.values() if isinstance(m, str)]
    named: set[str] = set()
    for message in messages:
        named |= {v.upper() for v in _MISSING_RE.findall(message) + _INVALID_KEY_RE.findall(message)}
    return named


def _valid(values: Iterable[str], pattern: re.Pattern[str]) -> list[str]:
    """Each value once, trimmed and upper-cased, in order; those that do not match left out."""
    cleaned = (str(v).strip().upper() for v in values)
    return list(dict.fromkeys(v for v in cleaned if pattern.match(v)))


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class JiraClient:
    def __init__(
        self,
        base_url: str,
        auth: BasicTokenAuth | BearerAuth,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        cache_size: int = 4096,
    ) -> None:
        self._api = JsonApi(base_url, auth, JIRA_ERRORS, session=session, timeout=timeout)
        self._cache: dict[str, JiraIssueRef] = {}
        self._cache_size = cache_size
        # Keys no issue answers to, until when (``time.monotonic``): a typo in a busy ticket's field must not
        # cost a Jira call on every event, yet an issue created later is found within MISS_TTL_SECONDS.
        self._missing: dict[str, float] = {}

    @property
    def base_url(self) -> str:
        return self._api.base_url

    def __repr__(self) -> str:
        return f"JiraClient(base_url={self.base_url!r})"

    def get_issue(self, key: str) -> JiraIssueRef:
        """``GET /rest/api/3/issue/{key}?fields=``. Raises JiraNotFoundError when there is no such issue."""
        if not ISSUE_KEY_RE.match(key):
            raise errors.JiraValidationError(f"not a Jira issue key: {key[:40]!r}")
        data = self._api.call("GET", f"/rest/api/3/issue/{quote(key)}", params={"fields": ""}, ok=(200,))
        if not isinstance(data, dict) or "id" not in data:
            raise errors.JiraError("unexpected issue object in response", body=data)
        return JiraIssueRef(id=str(data["id"]), key=str(data.get("key") or key))

    def resolve_keys(self, keys: Iterable[str]) -> None:
        """Find many keys at once (one search per 50) and remember what each names, or that it names nothing.
        A key the search does not answer under (a moved issue, a typo) is asked on its own: Jira follows a
        move, and a miss is remembered."""
        wanted = [k for k in dict.fromkeys(keys) if ISSUE_KEY_RE.match(k) and not self.known(k)]
        if not wanted:
            return
        for issue in self.find_issues(keys=wanted):
            _remember(self._cache, issue.key.upper(), JiraIssueRef(issue.id, issue.key), self._cache_size)
        for key in wanted:
            if not self.known(key):
                with contextlib.suppress(errors.JiraNotFoundError):
                    self.resolve_issue_id(key)

    def known(self, key: str) -> bool:
        """True when resolving ``key`` needs no call: this container found it, or found it missing lately."""
        return key in self._cache or self._missing.get(key, 0.0) > time.monotonic()

    def resolve_issue_id(self, key: str) -> JiraIssueRef:
        """The issue for a key, from the cache when this container has seen it (or seen it missing lately:
        JiraNotFoundError again, without a call)."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self._missing.get(key, 0.0) > time.monotonic():
            raise errors.JiraNotFoundError(f"no issue {key} (remembered)", status=404)
        try:
            ref = self.get_issue(key)
        except errors.JiraNotFoundError:
            _remember(self._missing, key, time.monotonic() + MISS_TTL_SECONDS, self._cache_size)
            raise
        _remember(self._cache, key, ref, self._cache_size)
        return ref

    # -- search

    def search_page(
        self,
        jql: str,
        *,
        fields: Sequence[str] = (),
        max_results: int = 100,
        next_page_token: str | None = None,
    ) -> SearchPage:
        """One page of ``POST /rest/api/3/search/jql``.

        ``fields`` empty: Jira returns ids (and maybe keys) only. Jira may return fewer than
        ``max_results`` (at most 100 when fields are asked for). ``next_page_token`` is None on the last
        page: when the answer says ``isLast`` or gives no token.
        """
        if max_results < 1:
            raise ValueError("max_results must be at least 1")
        body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": max_results}
        if next_page_token is not None:
            body["nextPageToken"] = next_page_token
        data = self._api.call("POST", SEARCH_PATH, json=body, ok=(200,))
        if not isinstance(data, dict) or not isinstance(data.get("issues", []), list):
            raise errors.JiraError("unexpected search response", body=data)
        issues = [JiraIssue.from_api(item) for item in data.get("issues") or []]
        token = data.get("nextPageToken")
        if data.get("isLast") is True or not isinstance(token, str) or not token:
            token = None
        return SearchPage(issues=issues, next_page_token=token)

    def search(self, jql: str, *, fields: Sequence[str] = (), page_size: int = 100) -> Iterator[JiraIssue]:
        """Every issue the query finds, page after page.

        Bounded: raises JiraError (not retryable) after MAX_PAGES pages, or when Jira hands back a token it
        has already given (the pages would go round in circles), rather than stop short silently.
        """
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.search_page(jql, fields=fields, max_results=page_size, next_page_token=token)
            yield from page.issues
            token = page.next_page_token
            if token is None:
                return
            if token in seen:
                raise errors.JiraError("search: Jira repeated a nextPageToken; stopped")
            seen.add(token)
        raise errors.JiraError(f"search: more than {MAX_PAGES} pages; stopped")

    def find_issues(
        self, *, ids: Iterable[str] = (), keys: Iterable[str] = (), batch: int = 50
    ) -> list[JiraIssue]:
        """The issues among these ids and keys that exist (each once), with ``fields.updated``.

        Searches ``id in (...)`` / ``key in (...)`` in batches of ``batch``. Keys are upper-cased (Jira
        keys are case-insensitive); ids that are not numbers and keys that do not match ISSUE_KEY_RE are
        never sent. Jira may answer 400 naming unknown keys or ids ("An issue with key 'X' does not exist
        for field 'key'."): those are dropped and the batch asked again, at most once per value in it.
        A server that silently leaves them out is fine too. A moved issue comes back under its new key.
        """
        if batch < 1:
            raise ValueError("batch must be at least 1")
        found: dict[str, JiraIssue] = {}
        for clause, values in (("id", _valid(ids, ISSUE_ID_RE)), ("key", _valid(keys, ISSUE_KEY_RE))):
            for chunk in _chunks(values, batch):
                for issue in self._find_batch(clause, chunk):
                    found.setdefault(issue.id, issue)
        return list(found.values())

    def _find_batch(self, clause: str, values: list[str]) -> list[JiraIssue]:
        remaining = list(values)
        for _ in range(len(values) + 1):
            if not remaining:
                return []
            jql = f"{clause} in ({', '.join(remaining)})"
            try:
                return list(self.search(jql, fields=["updated"], page_size=min(len(remaining), 100)))
            except errors.JiraValidationError as e:
                named = _named_in_error(e.body)
                kept = [v for v in remaining if v.upper() not in named]
                if len(kept) == len(remaining):
                    raise
                remaining = kept
        raise errors.JiraError(f"find_issues: {clause} batch did not settle; stopped")
