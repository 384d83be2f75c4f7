"""Webhook signatures: Jira's ``X-Hub-Signature`` and Zendesk's ``X-Zendesk-Webhook-Signature``.

Both are HMAC-SHA256 over the raw request body (Zendesk prefixes the timestamp header's value), compared in
constant time. An empty secret fails closed. Like stripe-python's ``verify_header``, the checks take the
header *values* (the webhook edge looks headers up, once); the ``sign_*`` helpers make valid headers for
tests, the sample events and local runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from datetime import UTC, datetime

from .errors import InvalidSignatureError

JIRA_HEADER = "x-hub-signature"
ZENDESK_HEADER = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
ZENDESK_TOLERANCE_SECONDS = 300


def _require_secret(secret: str) -> bytes:
    if not secret:
        # A misconfigured empty secret must not turn into "every signature is valid".
        raise InvalidSignatureError("webhook secret is not configured")
    return secret.encode()


def sign_jira(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(_require_secret(secret), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}"}


def verify_jira(body: bytes, signature: str | None, secret: str) -> None:
    """``signature`` is the ``X-Hub-Signature`` value, ``sha256=<hex HMAC-SHA256(body)>``; raises
    InvalidSignatureError."""
    key = _require_secret(secret)
    if not signature:
        raise InvalidSignatureError("missing X-Hub-Signature header")
    scheme, _, given = signature.strip().partition("=")
    if scheme != "sha256" or not given:
        raise InvalidSignatureError("X-Hub-Signature must be 'sha256=<hex digest>'")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("ascii", "replace")):
        raise InvalidSignatureError("X-Hub-Signature does not match the body")


def _zendesk_digest(key: bytes, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, timestamp.encode() + body, hashlib.sha256).digest()


def sign_zendesk(body: bytes, secret: str, timestamp: str | None = None) -> dict[str, str]:
    if timestamp is None:
        timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(_zendesk_digest(_require_secret(secret), timestamp, body)).decode()
    return {"X-Zendesk-Webhook-Signature": signature, "X-Zendesk-Webhook-Signature-Timestamp": timestamp}


def _parse_timestamp(value: str) -> float:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is None:
            raise InvalidSignatureError("X-Zendesk-Webhook-Signature-Timestamp needs a time zone")
        return parsed.timestamp()
    if text.isascii() and text.isdigit():
        return float(text)
    raise InvalidSignatureError("X-Zendesk-Webhook-Signature-Timestamp is not a timestamp")


def verify_zendesk(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    *,
    now: float | None = None,
    tolerance: float = ZENDESK_TOLERANCE_SECONDS,
) -> None:
    """``signature`` (``X-Zendesk-Webhook-Signature``) is base64(HMAC-SHA256(timestamp + body)), with
    ``timestamp`` (``X-Zendesk-Webhook-Signature-Timestamp``) within ``tolerance`` seconds of now."""
    key = _require_secret(secret)
    if not signature or not timestamp:
        raise InvalidSignatureError(
            "missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp header"
        )
    sent_at = _parse_timestamp(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise InvalidSignatureError("X-Zendesk-Webhook-Signature-Timestamp is outside the allowed window")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignatureError("X-Zendesk-Webhook-Signature is not base64") from None
    if not hmac.compare_digest(_zendesk_digest(key, timestamp, body), given):
        raise InvalidSignatureError("X-Zendesk-Webhook-Signature does not match the body")
