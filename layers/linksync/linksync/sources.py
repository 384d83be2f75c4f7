"""What differs between the two senders: how they sign, what makes a delivery the same as another, what
they send, and what to queue when an authenticated event cannot be finished now.

- Jira signs the body only; its delivery id header is not signed, so a replayed body with a new id must
  still be the same delivery. Every Jira event carries its signed ``timestamp``, which becomes the version
  of the field value or delete it applies: the ledger's field item refuses a version already carried out,
  so Jira deliveries need no idempotency record of their own. A signed body older than
  ``jira_event_max_age`` is a replay, not a late delivery: ignored with a 200, so Jira does not retry.
- Zendesk signs a timestamp with the body and refuses old timestamps. A field change that carries its new
  value is versioned by the event's ``time`` like a Jira event; any other event is identified by its id,
  a trigger body (which has none) by a hash of what was signed, in a Powertools idempotency record.
  Zendesk does not retry a plain 500, so an event that fails after it is authenticated is put on the
  retry queue before the answer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

from . import errors, signatures
from .config import JIRA_WEBHOOK_KEY, ZENDESK_WEBHOOK_KEY
from .desired import sync_op
from .events import carries_value, parse_jira, parse_zendesk
from .inbound import Request
from .operations import Operation, Outcome, Purge, RestoreTicket, Task
from .services import Services
from .timing import Deadline

Annotate = Callable[..., None]
# A signed Jira timestamp this far ahead of our clock is not a clock's drift.
FUTURE_SKEW_MS = 5 * 60 * 1000


class WebhookSource(Protocol):
    @property
    def name(self) -> Literal["jira", "zendesk"]: ...

    def verify(self, request: Request, svc: Services) -> None: ...
    def delivery_id(self, request: Request, payload: Any) -> str | None: ...
    def dedup_key(self, request: Request, payload: Any) -> str | None:
        """What makes two deliveries one (their idempotency key); None when the ledger itself refuses a
        delivery already carried out."""
        ...

    def handle(self, svc: Services, payload: Any, deadline: Deadline, annotate: Annotate) -> Outcome: ...
    def fallback(self, svc: Services, payload: Any) -> Task[Operation] | None: ...


def _digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def _signing_secret(value: str, key: str) -> str:
    """The webhook's signing secret; a function given none (or the other webhook's) is misconfigured."""
    if not value:
        raise errors.ConfigError(f"no {key} here: WEBHOOK_SECRET_ID must name the secret that holds it")
    return value


class JiraSource:
    name: Literal["jira"] = "jira"

    def verify(self, request: Request, svc: Services) -> None:
        secret = _signing_secret(svc.secrets.jira_webhook_secret, JIRA_WEBHOOK_KEY)
        signatures.verify_jira(request.body, request.headers.get(signatures.JIRA_HEADER), secret)

    def delivery_id(self, request: Request, payload: Any) -> str | None:
        return request.headers.get("x-atlassian-webhook-identifier") or None

    def dedup_key(self, request: Request, payload: Any) -> str | None:
        return None  # the signed timestamp versions the event: see the module's docstring

    def handle(self, svc: Services, payload: Any, deadline: Deadline, annotate: Annotate) -> Outcome:
        event = parse_jira(payload, ticket_field=svc.settings.jira_ticket_field)
        annotate(issue_id=event.issue_id, issue_key=event.issue_key)
        if event.timestamp is not None:
            age_ms = time.time() * 1000 - event.timestamp
            if age_ms > svc.settings.jira_event_max_age * 1000:
                hours = svc.settings.jira_event_max_age / 3600
                return Outcome(
                    ignored=f"the signed event is more than {hours:g} h old: a replay, not a delivery"
                )
            if age_ms < -FUTURE_SKEW_MS:
                return Outcome(ignored="the signed event's timestamp is in the future")
        return svc.sync.handle_jira(event, deadline)

    def fallback(self, svc: Services, payload: Any) -> Task[Operation] | None:
        return None  # Jira delivers again after a 5xx, for a while


class ZendeskSource:
    name: Literal["zendesk"] = "zendesk"

    def verify(self, request: Request, svc: Services) -> None:
        signatures.verify_zendesk(
            request.body,
            request.headers.get(signatures.ZENDESK_HEADER),
            request.headers.get(signatures.ZENDESK_TIMESTAMP_HEADER),
            _signing_secret(svc.secrets.zendesk_webhook_secret, ZENDESK_WEBHOOK_KEY),
            tolerance=svc.settings.zendesk_signature_tolerance,
        )

    def delivery_id(self, request: Request, payload: Any) -> str | None:
        # Only event-subscription bodies carry Zendesk's event id; a trigger body is whatever the admin wrote.
        is_event = isinstance(payload, dict) and "type" in payload
        event_id = payload.get("id") if is_event else None
        return event_id if isinstance(event_id, str) and event_id else None

    def dedup_key(self, request: Request, payload: Any) -> str | None:
        if carries_value(payload):
            return None  # versioned by its time, as Jira's events are
        event_id = self.delivery_id(request, payload)
        if event_id is not None:
            return f"event:{event_id}"
        # A trigger body repeats whenever the field does: what makes it one delivery is its signed timestamp.
        timestamp = request.headers.get(signatures.ZENDESK_TIMESTAMP_HEADER, "")
        return _digest(timestamp.encode(), request.body)

    def handle(self, svc: Services, payload: Any, deadline: Deadline, annotate: Annotate) -> Outcome:
        event = parse_zendesk(payload, issue_field=svc.settings.zendesk_issue_field)
        annotate(ticket_id=event.ticket_id)
        return svc.sync.handle_zendesk(event, deadline)

    def fallback(self, svc: Services, payload: Any) -> Task[Operation] | None:
        """The event's work as one task for the retry queue (None for an event that asks for nothing)."""
        try:
            event = parse_zendesk(payload, issue_field=svc.settings.zendesk_issue_field)
        except errors.InvalidPayloadError:
            return None
        match event.action:
            case "sync":
                return Task(sync_op(event))
            case "delete":
                return Task(
                    Purge("ticket", event.ticket_id, keep_owners=event.event_type == "ticket.soft_deleted")
                )
            case "restore":
                return Task(RestoreTicket(event.ticket_id))
        return None


JIRA = JiraSource()
ZENDESK = ZendeskSource()
