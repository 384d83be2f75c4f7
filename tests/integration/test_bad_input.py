"""Refused requests: the right 4xx with a JSON error, and nothing touched (no sandbox call, no ledger)."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from linksync import signatures
from local import payloads
from local.payloads import jira_issue, zendesk_event
from tests.integration.conftest import Pipeline, Reply

pytestmark = pytest.mark.integration

JIRA = ("JiraWebhookFunction", "/webhooks/jira")
ZENDESK = ("ZendeskWebhookFunction", "/webhooks/zendesk")
VALID_JIRA = json.dumps(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101")).encode()
VALID_ZENDESK = json.dumps(zendesk_event("ticket.created", "501")).encode()


def _assert_refused(p: Pipeline, reply: Reply, status: int, words: str) -> None:
    assert reply.status == status, reply.body
    assert words in reply.body["error"]
    assert reply.headers["Content-Type"] == "application/json"
    assert p.sandbox.calls == []
    assert p.stack.ledger_items() == []
    assert p.retry_depth() == 0


def _zendesk_headers(raw: bytes, **overrides: str) -> dict[str, str]:
    return {**payloads.signed_zendesk(raw)[1], **overrides}


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "missing X-Hub-Signature"),
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, "does not match"),
        ({"X-Hub-Signature": "sha1=abc"}, "must be 'sha256="),
        (
            {"X-Hub-Signature": signatures.sign_jira(VALID_JIRA, "some-other-secret")["X-Hub-Signature"]},
            "does not",
        ),
    ],
)
def test_jira_bad_signatures(pipeline: Pipeline, headers: dict[str, str], words: str) -> None:
    reply = pipeline.post(*JIRA, VALID_JIRA, {"Content-Type": "application/json", **headers})
    _assert_refused(pipeline, reply, 401, words)


def test_jira_signature_over_another_body(pipeline: Pipeline) -> None:
    _, headers = payloads.signed_jira(VALID_JIRA)
    tampered = VALID_JIRA.replace(b"101", b"999")
    _assert_refused(pipeline, pipeline.post(*JIRA, tampered, headers), 401, "does not match")


def _old(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"X-Zendesk-Webhook-Signature": ""}, "missing"),
        ({"X-Zendesk-Webhook-Signature-Timestamp": ""}, "missing"),
        ({"X-Zendesk-Webhook-Signature": "bm90IHRoZSBzaWduYXR1cmU="}, "does not match"),
        ({"X-Zendesk-Webhook-Signature": "%%%not-base64%%%"}, "not base64"),
        ({"X-Zendesk-Webhook-Signature-Timestamp": "yesterday"}, "not a timestamp"),
    ],
)
def test_zendesk_bad_signatures(pipeline: Pipeline, headers: dict[str, str], words: str) -> None:
    reply = pipeline.post(*ZENDESK, VALID_ZENDESK, _zendesk_headers(VALID_ZENDESK, **headers))
    _assert_refused(pipeline, reply, 401, words)


@pytest.mark.parametrize("minutes", [-6, 6])
def test_zendesk_stale_or_future_timestamp(pipeline: Pipeline, minutes: int) -> None:
    _, headers = payloads.signed_zendesk(VALID_ZENDESK, timestamp=_old(minutes))
    _assert_refused(
        pipeline, pipeline.post(*ZENDESK, VALID_ZENDESK, headers), 401, "outside the allowed window"
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "body is empty"),
        (b"[1, 2, 3]", "body must be a JSON object"),
        (b'"a string"', "body must be a JSON object"),
        (b'{"webhookEvent": 7}', "webhookEvent must be a string"),
        (b'{"webhookEvent": "jira:issue_created", "issue": []}', "issue must be a JSON object"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"id": true, "key": "A-1"}}', "issue.id"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"id": "1x", "key": "A-1"}}', "issue.id"),
        (b'{"webhookEvent": "jira:issue_created", "issue": {"id": "1", "key": 5}}', "issue.key"),
        (
            b'{"webhookEvent": "jira:issue_created", "issue": {"id": "1", "key": "A-1", "fields": "x"}}',
            "fields",
        ),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ],
)
def test_jira_malformed_payloads(pipeline: Pipeline, body: bytes, words: str) -> None:
    raw, headers = payloads.signed_jira(body)
    _assert_refused(pipeline, pipeline.post(*JIRA, raw, headers), 400, words)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"type": ["x"]}', "type must be a string"),
        (b'{"type": "zen:event-type:ticket.created", "id": "e", "detail": null}', "detail must be"),
        (b'{"type": "zen:event-type:ticket.created", "id": "e", "detail": {"id": "-5"}}', "detail.id"),
        (b'{"type": "zen:event-type:ticket.created", "id": 12, "detail": {"id": "5"}}', "id must be"),
        (b'{"ticket_id": "abc", "jira_issue_keys": "A-1"}', "ticket_id"),
        (b'{"ticket_id": "5"}', "jira_issue_keys is required"),
        (b'{"ticket_id": "5", "jira_issue_keys": {"a": 1}}', "jira_issue_keys must be"),
    ],
)
def test_zendesk_malformed_payloads(pipeline: Pipeline, body: bytes, words: str) -> None:
    raw, headers = payloads.signed_zendesk(body)
    _assert_refused(pipeline, pipeline.post(*ZENDESK, raw, headers), 400, words)


@pytest.mark.parametrize("base64_encode", [False, True])
def test_oversize_bodies_are_refused_before_anything_else(pipeline: Pipeline, base64_encode: bool) -> None:
    big = json.dumps({"webhookEvent": "jira:issue_created", "pad": "x" * (256 * 1024)}).encode()
    raw, headers = payloads.signed_jira(big)
    reply = pipeline.post(*JIRA, raw, headers, base64_encode=base64_encode)
    _assert_refused(pipeline, reply, 413, "larger than")


def test_base64_body_that_is_not_base64(pipeline: Pipeline) -> None:
    from local.stack import http_api_event

    event = http_api_event("POST", "/webhooks/jira", VALID_JIRA, payloads.signed_jira(VALID_JIRA)[1])
    event["isBase64Encoded"] = True
    event["body"] = "***"
    answer = pipeline.invoke("JiraWebhookFunction", event)
    reply = Reply(answer["statusCode"], json.loads(answer["body"]), answer["headers"])
    _assert_refused(pipeline, reply, 400, "not valid base64")


@pytest.mark.parametrize("function", [JIRA, ZENDESK])
def test_base64_encoded_bodies_are_verified_on_the_raw_bytes(
    pipeline: Pipeline, function: tuple[str, str]
) -> None:
    raw = VALID_JIRA if function == JIRA else json.dumps(payloads.zendesk_trigger("501", "")).encode()
    signed = payloads.signed_jira(raw) if function == JIRA else payloads.signed_zendesk(raw)
    reply = pipeline.post(*function, raw, signed[1], base64_encode=True)
    assert reply.status == 200, reply.body


def test_an_empty_webhook_secret_fails_closed(pipeline: Pipeline) -> None:
    stack = pipeline.stack
    stack.secretsmanager.put_secret_value(
        SecretId=stack.physical["JiraWebhookSecretName"], SecretString=json.dumps({"jira_webhook_secret": ""})
    )
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
    raw = VALID_JIRA
    headers = {"X-Hub-Signature": "sha256=" + hmac.new(b"", raw, "sha256").hexdigest()}
    reply = pipeline.post(*JIRA, raw, headers)
    assert reply.status == 503 and reply.headers["Retry-After"] == "10"  # Zendesk retries a short one
    assert "misconfigured" in reply.body["error"]
    assert pipeline.sandbox.calls == []
    assert pipeline.stack.ledger_items() == []
