"""Signature round trips and edge cases, for both vendors."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from linksync import signatures
from linksync.errors import InvalidSignatureError
from tests import headers as edge

BODY = b'{"webhookEvent":"jira:issue_created"}'


def test_jira_round_trip_and_known_vector() -> None:
    headers = signatures.sign_jira(BODY, "s3cret")
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert headers == {"X-Hub-Signature": f"sha256={expected}"}
    edge.verify_jira(headers, BODY, "s3cret")
    edge.verify_jira(
        {"x-hub-signature": headers["X-Hub-Signature"].upper().replace("SHA256", "sha256")}, BODY, "s3cret"
    )


@pytest.mark.parametrize(
    "value",
    ["", "sha256=", "sha1=" + "0" * 40, "SHA256=abc", "sha256=" + "0" * 64, "sha256=zz\u00e9", "garbage"],
)
def test_jira_rejects(value: str) -> None:
    with pytest.raises(InvalidSignatureError):
        edge.verify_jira({"X-Hub-Signature": value}, BODY, "s3cret")


def test_jira_rejects_other_secret_and_other_body() -> None:
    headers = signatures.sign_jira(BODY, "s3cret")
    with pytest.raises(InvalidSignatureError):
        edge.verify_jira(headers, BODY, "other")
    with pytest.raises(InvalidSignatureError):
        edge.verify_jira(headers, BODY + b" ", "s3cret")


def test_empty_secret_fails_closed() -> None:
    empty_sig = {"X-Hub-Signature": "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()}
    with pytest.raises(InvalidSignatureError, match="not configured"):
        edge.verify_jira(empty_sig, BODY, "")
    with pytest.raises(InvalidSignatureError, match="not configured"):
        edge.verify_zendesk({}, BODY, "")


def test_zendesk_round_trip_and_known_vector() -> None:
    ts = "2026-11-29T10:00:00Z"
    headers = signatures.sign_zendesk(BODY, "zsecret", ts)
    digest = hmac.new(b"zsecret", ts.encode() + BODY, hashlib.sha256).digest()
    assert headers["X-Zendesk-Webhook-Signature"] == base64.b64encode(digest).decode()
    now = 1_795_946_400.0  # 2026-11-29T10:00:00Z
    edge.verify_zendesk(headers, BODY, "zsecret", now=now)
    edge.verify_zendesk(headers, BODY, "zsecret", now=now + 299)
    edge.verify_zendesk({k.lower(): v for k, v in headers.items()}, BODY, "zsecret", now=now - 299)


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_zendesk_window(offset: float) -> None:
    ts = "2026-11-29T10:00:00Z"
    headers = signatures.sign_zendesk(BODY, "zsecret", ts)
    with pytest.raises(InvalidSignatureError, match="window"):
        edge.verify_zendesk(headers, BODY, "zsecret", now=1_795_946_400.0 + offset)


def test_zendesk_signature_covers_the_timestamp() -> None:
    headers = signatures.sign_zendesk(BODY, "zsecret", "2026-11-29T10:00:00Z")
    headers["X-Zendesk-Webhook-Signature-Timestamp"] = "2026-11-29T10:00:01Z"
    with pytest.raises(InvalidSignatureError, match="does not match"):
        edge.verify_zendesk(headers, BODY, "zsecret", now=1_795_946_400.0)


@pytest.mark.parametrize("ts", ["yesterday", "29/11/2026", "", "1e9"])
def test_zendesk_timestamp_formats_refused(ts: str) -> None:
    headers = signatures.sign_zendesk(BODY, "zsecret", "2026-11-29T10:00:00Z")
    headers["X-Zendesk-Webhook-Signature-Timestamp"] = ts
    with pytest.raises(InvalidSignatureError):
        edge.verify_zendesk(headers, BODY, "zsecret", now=1_795_946_400.0)


def test_zendesk_timestamp_without_a_time_zone_is_refused() -> None:
    headers = signatures.sign_zendesk(BODY, "zsecret", "2026-11-29T10:00:00")
    with pytest.raises(InvalidSignatureError, match="time zone"):
        edge.verify_zendesk(headers, BODY, "zsecret", now=1_795_946_400.0)
