"""An API Gateway HTTP API (payload 2.0) request, read the way the webhook functions need it: the body's
exact bytes (for the signature), the headers with lower-cased names (looked up once), and JSON that is
refused when it is empty, malformed or nested deeper than anyone sends."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import errors

MAX_BODY_BYTES = 256 * 1024
# Jira and Zendesk bodies are a few levels deep; hundreds of levels is an attack on whatever reads it next.
MAX_DEPTH = 64


def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def lower_headers(raw: Any) -> dict[str, str]:
    """Header names lower-cased, once, at the edge; anything that is not a string pair is left out."""
    if not isinstance(raw, Mapping):
        return {}
    return {k.lower(): v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def raw_body(event: dict[str, Any]) -> bytes:
    """The request body exactly as sent, decoded from base64 when API Gateway encoded it."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise errors.InvalidPayloadError("body must be a string")
    if event.get("isBase64Encoded"):
        if len(body) > (MAX_BODY_BYTES * 4) // 3 + 4:
            raise errors.PayloadTooLargeError(f"body is larger than {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidPayloadError("body is marked base64 but is not valid base64") from None
    else:
        if len(body) > MAX_BODY_BYTES:
            raise errors.PayloadTooLargeError(f"body is larger than {MAX_BODY_BYTES} bytes")
        data = body.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise errors.PayloadTooLargeError(f"body is larger than {MAX_BODY_BYTES} bytes")
    return data


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise errors.InvalidPayloadError("body is empty")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise errors.InvalidPayloadError("body is not valid JSON") from None
    if _depth(payload) > MAX_DEPTH:
        raise errors.InvalidPayloadError(f"body is nested more than {MAX_DEPTH} levels deep")
    return payload


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iteratively: no recursion limit to hit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack += [(child, level + 1) for child in children]
    return deepest


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]  # names lower-cased
    body: bytes  # exactly as sent

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        return cls(lower_headers(event.get("headers")), raw_body(event))
