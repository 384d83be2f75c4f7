"""Client for the one Jira Cloud REST call the sync needs: an issue key to its immutable id.

Zendesk links name issues by ``issue_id``; a Zendesk ticket field names them by key. Keys change when
an issue moves project, ids never do, so the key→id answers are cached per container.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import requests

from . import errors
from .apiclient import DEFAULT_TIMEOUT, BasicTokenAuth, BearerAuth, ErrorFamily, JsonApi

JIRA_ERRORS = ErrorFamily(
    base=errors.JiraError,
    auth=errors.JiraAuthError,
    not_found=errors.JiraNotFoundError,
    validation=errors.JiraValidationError,
    rate_limited=errors.JiraRateLimitedError,
    unavailable=errors.JiraUnavailableError,
)

ISSUE_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")


def api_token_auth(email: str, api_token: str) -> BasicTokenAuth:
    """Jira Cloud API token auth: Basic base64("{email}:{api_token}")."""
    return BasicTokenAuth(email, api_token)


@dataclass(frozen=True)
class JiraIssueRef:
    id: str
    key: str


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

    def resolve_issue_id(self, key: str) -> JiraIssueRef:
        """The issue for a key, from the cache when this container has seen it."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ref = self.get_issue(key)
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = ref
        return ref
