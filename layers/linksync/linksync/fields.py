"""Reading the two link fields: Zendesk ticket ids in a Jira field, Jira issue keys in a Zendesk field.

People type these by hand, so both parsers accept what people type (numbers, lists, comma or space
separated text, pasted URLs) and set aside anything else as ``rejected`` for the caller to log. They never
raise on odd input.

A value over the limits (more than MAX_TEXT characters, or more than MAX_TOKENS items) is ``refused`` as a
whole: nothing is read from it. Cutting it would invent ids (a cut inside ``https://x/agent/tickets/3001``
reads as ticket 300), and acting on the first 200 items would delete the links of the rest as "no longer
wanted". The caller leaves the field's links as they are and says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_TOKENS = 200
MAX_TEXT = 10_000
_SPLIT = re.compile(r"[\s,;]+")
_TICKET_ID = re.compile(r"^#?([1-9][0-9]{0,18})$")
_TICKET_URL = re.compile(r"^https?://[^/\s]+/(?:agent/)?tickets/([1-9][0-9]{0,18})(?:[/?#].*)?$", re.I)
_ISSUE_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,49}-[1-9][0-9]{0,17})$")
_ISSUE_URL = re.compile(
    r"^https?://[^/\s]+/browse/([A-Za-z][A-Za-z0-9_]{0,49}-[1-9][0-9]{0,17})(?:[/?#].*)?$"
)


@dataclass(frozen=True)
class Parsed:
    values: tuple[str, ...] = ()
    rejected: tuple[str, ...] = field(default=())
    refused: str | None = None  # why the whole value was set aside (over the limits)


class _TooLarge(Exception):  # noqa: N818 - a signal inside this module
    pass


def _tokens(value: Any, depth: int = 0) -> tuple[list[str], list[str]]:
    """Flatten a field value into text tokens; anything not text-like is rejected."""
    match value:
        case None | "":
            return [], []
        case bool():
            return [], [repr(value)]
        case int():
            return [str(value)], []
        case float():
            return ([str(int(value))], []) if value.is_integer() and value > 0 else ([], [repr(value)])
        case str():
            if len(value) > MAX_TEXT:
                raise _TooLarge(f"the field holds more than {MAX_TEXT:,} characters")
            return [t for t in _SPLIT.split(value) if t], []
        case list() | tuple() if depth < 2:
            return _list_tokens(value, depth)
        case dict() if depth < 2 and ("value" in value or "name" in value):
            return _tokens(_option(value), depth + 1)
    return [], [type(value).__name__]


def _option(value: dict[str, Any]) -> Any:
    """Jira option and select fields: ``{"value": "123"}`` (or a ``name``)."""
    return value.get("value", value.get("name"))


def _list_tokens(values: list[Any] | tuple[Any, ...], depth: int) -> tuple[list[str], list[str]]:
    if len(values) > MAX_TOKENS:
        raise _TooLarge(f"the field lists more than {MAX_TOKENS} items")
    tokens: list[str] = []
    rejected: list[str] = []
    for item in values:
        t, r = _tokens(_option(item) if isinstance(item, dict) else item, depth + 1)
        tokens += t
        rejected += r
    return tokens, rejected


def _parse(value: Any, patterns: tuple[re.Pattern[str], ...], normalize: Any) -> Parsed:
    try:
        tokens, rejected = _tokens(value)
        if len(tokens) > MAX_TOKENS:
            raise _TooLarge(f"the field lists more than {MAX_TOKENS} items")
    except _TooLarge as e:
        return Parsed(refused=str(e))
    seen: dict[str, None] = {}
    for token in tokens:
        for pattern in patterns:
            match = pattern.match(token)
            if match:
                seen.setdefault(normalize(match.group(1)), None)
                break
        else:
            rejected.append(token[:80])
    return Parsed(values=tuple(seen), rejected=tuple(rejected))


def parse_ticket_ids(value: Any) -> Parsed:
    """Zendesk ticket ids from a Jira field: 123, "123", "123, 456 789", ["1", 2], ticket URLs."""
    return _parse(value, (_TICKET_ID, _TICKET_URL), str)


def parse_issue_keys(value: Any) -> Parsed:
    """Jira issue keys from a Zendesk field: "PROJ-1, PROJ-2", "proj-3", browse URLs. Upper-cased."""
    return _parse(value, (_ISSUE_KEY, _ISSUE_URL), str.upper)
