"""Webhook bodies shaped like the ones Jira Cloud and Zendesk send, and their signed HTTP requests.

Used by the tests, the sample events in events/ and the local demo, so all three speak the same shapes.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from linksync import signatures

JIRA_TICKET_FIELD = "customfield_10100"
ZENDESK_ISSUE_FIELD = "360001"

SECRET_VALUES = {
    "zendesk_email": "agent@example.com",
    "zendesk_api_token": "zendesk-test-token",
    "zendesk_webhook_secret": "zendesk-webhook-signing-secret",
    "jira_email": "jira@example.com",
    "jira_api_token": "jira-test-token",
    "jira_webhook_secret": "jira-webhook-secret",
}


def jira_issue(
    webhook_event: str,
    issue_id: str,
    key: str,
    *,
    tickets: Any = None,
    changed: bool = True,
    timestamp: int | None = None,
    field: str = JIRA_TICKET_FIELD,
) -> dict[str, Any]:
    """A Jira Cloud issue webhook body (jira:issue_created / _updated / _deleted)."""
    body: dict[str, Any] = {
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
        "webhookEvent": webhook_event,
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Agent"},
        "issue": {
            "id": issue_id,
            "self": f"https://example.atlassian.net/rest/api/3/issue/{issue_id}",
            "key": key,
            "fields": {"summary": f"Issue {key}", field: tickets},
        },
    }
    if webhook_event != "jira:issue_deleted":
        body["issue_event_type_name"] = webhook_event.split(":", 1)[1]
    if webhook_event == "jira:issue_updated":
        items = [
            {
                "field": "summary",
                "fieldtype": "jira",
                "fieldId": "summary",
                "from": None,
                "fromString": "a",
                "to": None,
                "toString": "b",
            }
        ]
        if changed:
            items.append(
                {
                    "field": "Zendesk tickets",
                    "fieldtype": "custom",
                    "fieldId": field,
                    "from": None,
                    "fromString": None,
                    "to": None,
                    "toString": str(tickets),
                }
            )
        body["changelog"] = {"id": "10100", "items": items}
    return body


def zendesk_event(
    event_type: str,
    ticket_id: str,
    *,
    event_id: str | None = None,
    field_id: str = ZENDESK_ISSUE_FIELD,
    current: Any = None,
    previous: Any = None,
    target_ticket_id: str | None = None,
) -> dict[str, Any]:
    """A Zendesk event-subscription webhook body (zen:event-type:ticket.*); ``detail`` lacks custom fields.

    ``ticket.custom_field_changed`` carries ``current`` and ``previous`` as objects with a ``value`` (the
    shape seen in real payloads; the parser accepts bare values too). ``ticket.merged``: ``ticket_id`` is
    the ticket merged away (``detail``), ``target_ticket_id`` the one it was merged into (by default the
    next ticket id).
    """
    body: dict[str, Any] = {
        "account_id": 22129848,
        "detail": {
            "id": ticket_id,
            "subject": f"Ticket {ticket_id}",
            "status": "OPEN",
            "brand_id": "1",
            "requester_id": "366101959011",
            "created_at": "2026-11-29T10:00:00Z",
            "updated_at": "2026-11-29T10:00:00Z",
        },
        "event": {},
        "id": event_id or str(uuid.uuid4()),
        "subject": f"zen:ticket:{ticket_id}",
        "time": rfc3339_now(),
        "type": f"zen:event-type:{event_type}",
        "zendesk_event_version": "2022-11-06",
    }
    if event_type == "ticket.custom_field_changed":
        body["event"] = {
            "current": {"value": current},
            "previous": {"value": previous},
            "custom_field": {"id": field_id, "title": "Jira issues", "type": "text"},
        }
    if event_type == "ticket.merged":
        body["event"] = {"target_ticket_id": target_ticket_id or str(int(ticket_id) + 1)}
    return body


def rfc3339_now() -> str:
    """Now as Zendesk's events give ``time``: UTC with nine fractional digits (the docs' example has none;
    real events have nine)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def zendesk_trigger(ticket_id: str, keys: str) -> dict[str, Any]:
    """The body of the documented trigger webhook."""
    return {"ticket_id": ticket_id, "jira_issue_keys": keys}


def signed_jira(
    body: dict[str, Any] | bytes,
    *,
    secret: str = SECRET_VALUES["jira_webhook_secret"],
    delivery_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Atlassian Webhook HTTP Client",
        "X-Atlassian-Webhook-Identifier": delivery_id or str(uuid.uuid4()),
        **signatures.sign_jira(raw, secret),
    }
    return raw, headers


def signed_zendesk(
    body: dict[str, Any] | bytes,
    *,
    secret: str = SECRET_VALUES["zendesk_webhook_secret"],
    timestamp: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Zendesk Webhook",
        **signatures.sign_zendesk(raw, secret, timestamp),
    }
    return raw, headers
