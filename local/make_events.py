"""Writes events/: signed, ready-to-invoke sample events for every handled webhook, an SQS batch for the
retry worker, and env.json for `sam local invoke --env-vars`.

Deterministic (fixed ids and timestamps) so a test can check the committed files are current:
`.venv/bin/python -m local.make_events` rewrites them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from local import payloads
from local.stack import http_api_event
from local.template import ROOT

EVENTS = ROOT / "events"
ISSUE_ID, ISSUE_KEY = "10001", "PROJ-1"
TICKET_ID = "35436"
JIRA_TS = 1_764_410_400_000  # 2025-11-29T10:00:00Z, in milliseconds as Jira sends it
ZENDESK_TS = "2025-11-29T10:00:00Z"
SAMPLE_SIGNATURE_TOLERANCE = str(100 * 365 * 24 * 3600)
# The samples are signed once, with fixed times: the windows a deployment keeps narrow are widened for them
# (never set these in a deployment).
SAMPLE_ENV = {
    "ZENDESK_SIGNATURE_TOLERANCE_SECONDS": SAMPLE_SIGNATURE_TOLERANCE,
    "JIRA_EVENT_MAX_AGE_SECONDS": SAMPLE_SIGNATURE_TOLERANCE,
}


def seed_samples(sandbox: Any) -> None:
    """The Jira issues and Zendesk tickets the sample events talk about, their fields as the samples have
    them (so a reconcile job beside the samples finds what they say)."""
    sandbox.add_issue(ISSUE_KEY, ISSUE_ID, fields={payloads.JIRA_TICKET_FIELD: f"{TICKET_ID}, 35437"})
    sandbox.add_issue("PROJ-2", "10002")
    sandbox.add_ticket(int(TICKET_ID), {payloads.ZENDESK_ISSUE_FIELD: "PROJ-1 PROJ-2"})
    sandbox.add_ticket(35437, {})


def _fixed(event: dict[str, Any], n: int) -> dict[str, Any]:
    event["requestContext"]["requestId"] = f"sample-request-{n:04d}"
    event["requestContext"]["time"] = "29/Nov/2025:10:00:00 +0000"
    event["requestContext"]["timeEpoch"] = JIRA_TS
    return event


def jira_events() -> dict[str, dict[str, Any]]:
    bodies = {
        "jira_issue_created": payloads.jira_issue(
            "jira:issue_created", ISSUE_ID, ISSUE_KEY, tickets=f"{TICKET_ID}, 35437", timestamp=JIRA_TS
        ),
        "jira_issue_updated": payloads.jira_issue(
            "jira:issue_updated", ISSUE_ID, ISSUE_KEY, tickets=TICKET_ID, timestamp=JIRA_TS + 60_000
        ),
        "jira_issue_deleted": payloads.jira_issue(
            "jira:issue_deleted", ISSUE_ID, ISSUE_KEY, tickets=TICKET_ID, timestamp=JIRA_TS + 120_000
        ),
    }
    out = {}
    for n, (name, body) in enumerate(bodies.items()):
        raw, headers = payloads.signed_jira(
            json.dumps(body, indent=1).encode(), delivery_id=f"00000000-0000-4000-8000-{n:012d}"
        )
        out[name] = _fixed(http_api_event("POST", "/webhooks/jira", raw, headers), n)
    return out


def zendesk_events() -> dict[str, dict[str, Any]]:
    def event(kind: str, n: int, **kw: Any) -> dict[str, Any]:
        body = payloads.zendesk_event(kind, TICKET_ID, event_id=f"01JD0000000000000000000{n:03d}", **kw)
        body["time"] = ZENDESK_TS
        return body

    bodies = {
        "zendesk_ticket_created": event("ticket.created", 1),
        "zendesk_custom_field_changed": event(
            "ticket.custom_field_changed", 2, current="PROJ-1 PROJ-2", previous="PROJ-1"
        ),
        "zendesk_ticket_soft_deleted": event("ticket.soft_deleted", 3),
        "zendesk_ticket_permanently_deleted": event("ticket.permanently_deleted", 4),
        "zendesk_ticket_merged": event("ticket.merged", 5, target_ticket_id="35437"),
        "zendesk_trigger": payloads.zendesk_trigger(TICKET_ID, "PROJ-1, PROJ-2"),
    }
    out = {}
    for n, (name, body) in enumerate(bodies.items(), start=10):
        raw, headers = payloads.signed_zendesk(json.dumps(body, indent=1).encode(), timestamp=ZENDESK_TS)
        out[name] = _fixed(http_api_event("POST", "/webhooks/zendesk", raw, headers), n)
    return out


def sqs_retry_event() -> dict[str, Any]:
    ops = [
        {"op": "reconcile", "issue_id": ISSUE_ID, "ticket_id": TICKET_ID, "attempt": 1},
        {"op": "sync_ticket", "ticket_id": TICKET_ID, "attempt": 2},
    ]
    return {
        "Records": [
            {
                "messageId": f"00000000-0000-4000-9000-{n:012d}",
                "receiptHandle": f"sample-receipt-{n}",
                "body": json.dumps(op),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(JIRA_TS),
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": str(JIRA_TS),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:zendesk-jira-linksync-RetryQueue",
                "awsRegion": "us-east-1",
            }
            for n, op in enumerate(ops)
        ]
    }


def env_json() -> dict[str, Any]:
    """`sam local invoke --env-vars events/env.json --docker-network host`: moto :5000, sandbox :8081."""
    common = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ZENDESK_BASE_URL": "http://127.0.0.1:8081",
        "JIRA_BASE_URL": "http://127.0.0.1:8081",
        **SAMPLE_ENV,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return {
        name: dict(common)
        for name in (
            "JiraWebhookFunction",
            "ZendeskWebhookFunction",
            "RetryWorkerFunction",
            "ReconcileFunction",
        )
    }


def all_files() -> dict[str, Any]:
    files: dict[str, Any] = {f"{k}.json": v for k, v in {**jira_events(), **zendesk_events()}.items()}
    files["sqs_retry_batch.json"] = sqs_retry_event()
    files["env.json"] = env_json()
    return files


def render(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def main() -> int:
    EVENTS.mkdir(exist_ok=True)
    for name, data in all_files().items():
        (EVENTS / name).write_text(render(data))
        print(f"wrote {Path('events') / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
