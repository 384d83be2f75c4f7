"""Webhook payloads to typed events: what happened, to which issue or ticket, and what to do about it.

Parsers take the decoded JSON (anything ``json.loads`` can return) and either return an event or raise
``InvalidPayloadError`` saying what is wrong. Event types we do not act on become ``action="ignore"``
with a reason, so the handler can answer 2xx and log it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidPayloadError
from .times import epoch_ms

JiraAction = Literal["sync", "delete", "ignore"]
ZendeskAction = Literal["sync", "delete", "restore", "ignore"]

ZENDESK_PREFIX = "zen:event-type:"
ZENDESK_DELETE_TYPES = frozenset({"ticket.soft_deleted", "ticket.permanently_deleted", "ticket.merged"})
ZENDESK_ACTIONS: dict[str, ZendeskAction] = {
    "ticket.created": "sync",
    "ticket.undeleted": "restore",
    **dict.fromkeys(ZENDESK_DELETE_TYPES, "delete"),
}
MERGED = "ticket.merged"
CUSTOM_FIELD_CHANGED = "ticket.custom_field_changed"


@dataclass(frozen=True)
class JiraEvent:
    action: JiraAction
    issue_id: str = ""
    issue_key: str = ""
    field_value: Any = None
    timestamp: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class CarriedValue:
    """Our field's new value as a ``ticket.custom_field_changed`` event carries it (None: cleared), and the
    event's ``time`` in epoch milliseconds."""

    value: str | None
    time_ms: int


@dataclass(frozen=True)
class ZendeskEvent:
    """``ticket_id`` is the ticket the event is about (``detail.id``). For ``ticket.merged`` that is the
    ticket merged away, and ``target_ticket_id`` the one it was merged into (empty when not given).
    ``carried``: the field's value as the event carries it, when it carries one that can be read."""

    action: ZendeskAction
    event_type: str
    ticket_id: str = ""
    reason: str = ""
    target_ticket_id: str = ""
    carried: CarriedValue | None = None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayloadError(f"{what} must be a JSON object")
    return value


def _id(value: Any, what: str) -> str:
    """Ids arrive as strings (and sometimes numbers); either way they must be positive integers."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidPayloadError(f"{what} must be a string of digits")
    text = str(value).strip()
    if not text.isdigit() or not text.isascii() or len(text) > 19 or int(text) <= 0:
        raise InvalidPayloadError(f"{what} must be a string of digits")
    return str(int(text))  # "007" and "7" are the same issue or ticket


def parse_jira(payload: Any, *, ticket_field: str) -> JiraEvent:
    """A Jira Cloud issue webhook. Routes on ``webhookEvent`` (deletes may lack issue_event_type_name)."""
    body = _object(payload, "body")
    webhook_event = body.get("webhookEvent")
    if not isinstance(webhook_event, str):
        raise InvalidPayloadError("webhookEvent must be a string")
    if webhook_event not in ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted"):
        return JiraEvent("ignore", reason=f"event {webhook_event[:60]!r} is not handled")
    issue = _object(body.get("issue"), "issue")
    issue_id = _id(issue.get("id"), "issue.id")
    issue_key = _issue_key(issue.get("key"))
    timestamp = body.get("timestamp")
    ts = timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None
    if webhook_event == "jira:issue_deleted":
        return JiraEvent("delete", issue_id, issue_key, timestamp=ts)
    fields = _object({} if issue.get("fields") is None else issue.get("fields"), "issue.fields")
    if webhook_event == "jira:issue_updated" and not _jira_field_changed(body.get("changelog"), ticket_field):
        return JiraEvent(
            "ignore",
            issue_id,
            issue_key,
            timestamp=ts,
            reason=f"{ticket_field} did not change",
        )
    return JiraEvent("sync", issue_id, issue_key, field_value=fields.get(ticket_field), timestamp=ts)


def _issue_key(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 100:
        raise InvalidPayloadError("issue.key must be a non-empty string")
    return value


def _jira_field_changed(changelog: Any, ticket_field: str) -> bool:
    if not isinstance(changelog, dict):
        return False
    items = changelog.get("items")
    if not isinstance(items, list):
        return False
    return any(isinstance(item, dict) and item.get("fieldId") == ticket_field for item in items)


def parse_zendesk(payload: Any, *, issue_field: str) -> ZendeskEvent:
    """A Zendesk event-subscription webhook, or the documented trigger-webhook body."""
    body = _object(payload, "body")
    if "type" not in body and "ticket_id" in body:
        return _parse_trigger(body)
    event_type = body.get("type")
    if not isinstance(event_type, str):
        raise InvalidPayloadError("type must be a string (or send the trigger body with ticket_id)")
    if not event_type.startswith(ZENDESK_PREFIX + "ticket."):
        return ZendeskEvent("ignore", event_type[:100], reason="not a ticket event")
    name = event_type[len(ZENDESK_PREFIX) :]
    event_id = body.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not event_id or len(event_id) > 200):
        raise InvalidPayloadError("id must be a non-empty string")
    detail = _object(body.get("detail"), "detail")
    return _ticket_event(name, body, _id(detail.get("id"), "detail.id"), issue_field)


def _ticket_event(name: str, body: dict[str, Any], ticket_id: str, issue_field: str) -> ZendeskEvent:
    """A ticket event by its name (``type`` without ``zen:event-type:``), ``ticket_id`` its ``detail.id``."""
    if name == MERGED:
        return _merged(body, ticket_id)
    if name == CUSTOM_FIELD_CHANGED:
        return _custom_field_changed(body, ticket_id, issue_field)
    action = ZENDESK_ACTIONS.get(name)
    if action is not None:
        return ZendeskEvent(action, name, ticket_id)
    return ZendeskEvent("ignore", name, ticket_id, reason=f"event {name[:60]!r} is not handled")


def _merged(body: dict[str, Any], ticket_id: str) -> ZendeskEvent:
    """``detail`` is the ticket merged away, ``event.target_ticket_id`` the one that survives.

    Only the ticket merged away loses its links. A target that is missing or unreadable does not stop
    that (the event is about ``detail``, and a refused event is never retried); a ticket "merged into
    itself" is ignored, so the surviving ticket never loses its links.
    """
    event = body.get("event")
    target = _optional_id(event.get("target_ticket_id")) if isinstance(event, dict) else ""
    if target == ticket_id:
        return ZendeskEvent(
            "ignore", MERGED, ticket_id, reason="ticket merged into itself", target_ticket_id=target
        )
    return ZendeskEvent("delete", MERGED, ticket_id, target_ticket_id=target)


def _optional_id(value: Any) -> str:
    """An id as ``_id`` reads it, or "" when it is absent or not an id."""
    try:
        return _id(value, "id")
    except InvalidPayloadError:
        return ""


def _custom_field_changed(body: dict[str, Any], ticket_id: str, issue_field: str) -> ZendeskEvent:
    """Sync when the changed field is ours, or when the event does not say which field it is.

    The field id is read from ``event.custom_field.id`` only. A payload that does not carry it there (no
    ``event`` or ``custom_field`` object, no usable ``id``) is synced from the ticket, one read, rather than
    refused: Zendesk does not retry a 400, so refusing would lose the change. When the field is ours, the
    new value is taken from ``event.current`` (an object with a ``value``, or a bare value) with the
    event's ``time``: no read is needed. Either missing or unreadable, the ticket is read instead.
    """
    event = body.get("event")
    if not isinstance(event, dict):
        event = {}  # no event object at all: nothing names the field either
    field_id = _field_id(event.get("custom_field"))
    if field_id is None:
        return ZendeskEvent(
            "sync", CUSTOM_FIELD_CHANGED, ticket_id, reason="event names no custom field id; ticket read"
        )
    if field_id != _normal_field_id(issue_field):
        return ZendeskEvent(
            "ignore", CUSTOM_FIELD_CHANGED, ticket_id, reason=f"custom field {field_id[:30]} is not ours"
        )
    return ZendeskEvent("sync", CUSTOM_FIELD_CHANGED, ticket_id, carried=_carried(event, body.get("time")))


def carries_value(payload: Any) -> bool:
    """Whether a Zendesk body is a field change carrying a value and time that can be read (its version
    then orders it, so it needs no idempotency record). Which field it names is not checked here."""
    if not isinstance(payload, dict) or payload.get("type") != ZENDESK_PREFIX + CUSTOM_FIELD_CHANGED:
        return False
    event = payload.get("event")
    return isinstance(event, dict) and _carried(event, payload.get("time")) is not None


def _carried(event: dict[str, Any], when: Any) -> CarriedValue | None:
    """``event.current``'s value and the event's time, or None when either cannot be read."""
    if "current" not in event:
        return None
    current = event["current"]
    if isinstance(current, dict):
        if "value" not in current:
            return None
        current = current["value"]
    time_ms = epoch_ms(when, zone_required=True)
    if not (current is None or isinstance(current, str)) or time_ms is None:
        return None
    return CarriedValue(current or None, time_ms)


def _field_id(custom_field: Any) -> str | None:
    """``custom_field.id`` as a comparable string, or None when it is not there to be read."""
    if not isinstance(custom_field, dict):
        return None
    value = custom_field.get("id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = _normal_field_id(value)
    return text or None


def _normal_field_id(value: str | int) -> str:
    """Field ids arrive as strings or numbers: "360001", 360001 and " 360001 " are the same field."""
    text = str(value).strip()
    return str(int(text)) if text.isascii() and text.isdigit() and len(text) <= 19 else text


def _parse_trigger(body: dict[str, Any]) -> ZendeskEvent:
    ticket_id = _id(body.get("ticket_id"), "ticket_id")
    if "jira_issue_keys" not in body:
        raise InvalidPayloadError("jira_issue_keys is required in a trigger body")
    value = body.get("jira_issue_keys")
    if value is not None and not isinstance(value, (str, list)):
        raise InvalidPayloadError("jira_issue_keys must be a string")
    # The body's value is checked, not used: the Tickets API's current value is what gets applied, so a
    # delayed trigger cannot bring back an old value.
    return ZendeskEvent("sync", "trigger", ticket_id=ticket_id)
