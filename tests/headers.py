"""Signature checks on whole header maps, looked up the way the webhook edge does (names lower-cased once)."""

from __future__ import annotations

from typing import Any

from linksync import signatures
from linksync.webhook import lower_headers


def verify_jira(headers: Any, body: bytes, secret: str) -> None:
    signatures.verify_jira(body, lower_headers(headers).get(signatures.JIRA_HEADER), secret)


def verify_zendesk(headers: Any, body: bytes, secret: str, **kwargs: Any) -> None:
    found = lower_headers(headers)
    signatures.verify_zendesk(
        body,
        found.get(signatures.ZENDESK_HEADER),
        found.get(signatures.ZENDESK_TIMESTAMP_HEADER),
        secret,
        **kwargs,
    )
