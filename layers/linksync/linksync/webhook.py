"""HTTP glue for the two webhook functions: API Gateway HTTP API (payload 2.0) event in, response out.

Order matters: size first (413), then the signature over the raw bytes (401), then JSON and the payload's
shape (400); only an authenticated, well-formed event reaches the ledger or Zendesk. Replayed deliveries
(same ``X-Atlassian-Webhook-Identifier`` or Zendesk event ``id``) are answered from the Powertools
idempotency record without new work. All typed errors become HTTP answers here, in one place.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, Literal

from . import errors, signatures
from .events import parse_jira, parse_zendesk
from .services import Services

MAX_BODY_BYTES = 256 * 1024
Source = Literal["jira", "zendesk"]
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


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


def _json(body: bytes) -> Any:
    if not body.strip():
        raise errors.InvalidPayloadError("body is empty")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise errors.InvalidPayloadError("body is not valid JSON") from None


class WebhookHandler:
    """Turns one webhook request into one sync call. Built once per container per source."""

    def __init__(self, source: Source, services: Callable[[], Services], *, logger: Any = None) -> None:
        self.source = source
        self._services = services
        self._log = logger
        # The idempotent wrapper for the current services (rebuilt when they are, e.g. a rotated secret).
        self._idempotent: tuple[Services, Callable[..., dict[str, Any]]] | None = None

    def _process_once(self, svc: Services, context: Any) -> Callable[..., dict[str, Any]]:
        """``process(delivery=...)`` wrapped in Powertools idempotency, keyed on the delivery id."""
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        cached = self._idempotent[1] if self._idempotent and self._idempotent[0] is svc else None
        if cached is None:
            store = DynamoDBPersistenceLayer(
                table_name=svc.settings.links_table_name,
                key_attr="pk",
                sort_key_attr="sk",
                static_pk_value=f"idempotency#{self.source}-webhook",
                boto3_client=svc.dynamodb,
            )
            self._config = IdempotencyConfig(
                event_key_jmespath="id", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS
            )

            def process(delivery: dict[str, Any]) -> dict[str, Any]:
                return self._dispatch(svc, delivery["event"])

            cached = idempotent_function(
                process,
                data_keyword_argument="delivery",
                persistence_store=store,
                config=self._config,
                key_prefix=f"{self.source}-delivery",
            )
            self._idempotent = (svc, cached)
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            self._config.register_lambda_context(context)
        return cached

    def _dispatch(self, svc: Services, payload: Any) -> dict[str, Any]:
        if self.source == "jira":
            jira_event = parse_jira(payload, ticket_field=svc.settings.jira_ticket_field)
            self._append_keys(issue_id=jira_event.issue_id, issue_key=jira_event.issue_key)
            return svc.sync.handle_jira(jira_event).as_dict()
        zendesk_event = parse_zendesk(payload, issue_field=svc.settings.zendesk_issue_field)
        self._append_keys(ticket_id=zendesk_event.ticket_id)
        return svc.sync.handle_zendesk(zendesk_event).as_dict()

    def _append_keys(self, **keys: str) -> None:
        if self._log is not None and hasattr(self._log, "append_keys"):
            self._log.append_keys(**{k: v for k, v in keys.items() if v})

    def _verify(self, svc: Services, event: dict[str, Any], body: bytes) -> None:
        headers = event.get("headers")
        if self.source == "jira":
            signatures.verify_jira(headers, body, svc.secrets.jira_webhook_secret)
        else:
            signatures.verify_zendesk(
                headers,
                body,
                svc.secrets.zendesk_webhook_secret,
                tolerance=svc.settings.zendesk_signature_tolerance,
            )

    def _delivery_id(self, event: dict[str, Any], payload: Any) -> str | None:
        if self.source == "jira":
            return _header(event, "x-atlassian-webhook-identifier")
        # Only event-subscription bodies carry Zendesk's event id; a trigger body is whatever the admin wrote.
        is_event = isinstance(payload, dict) and "type" in payload
        event_id = payload.get("id") if is_event else None
        return event_id if isinstance(event_id, str) and event_id else None

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
        )

        svc: Services | None = None
        try:
            body = raw_body(event)
            svc = self._services()
            self._verify(svc, event, body)
            payload = _json(body)
            delivery_id = self._delivery_id(event, payload)
            if delivery_id and self._log is not None and hasattr(self._log, "set_correlation_id"):
                self._log.set_correlation_id(delivery_id)
            if context is not None and hasattr(context, "get_remaining_time_in_millis"):
                svc.sync.time_left = lambda: context.get_remaining_time_in_millis() / 1000
            if delivery_id:
                process = self._process_once(svc, context)
                result = process(delivery={"id": delivery_id, "event": payload})
            else:
                result = self._dispatch(svc, payload)
        except errors.WebhookError as e:
            if isinstance(e, errors.InvalidSignatureError) and svc is not None:
                svc.sync.metrics.add_metric(name="SignatureFailures", unit="Count", value=1)
            self._warn("webhook refused", status=e.status, reason=e.message)
            return response(e.status, {"error": e.message})
        except IdempotencyAlreadyInProgressError:
            # The same delivery is being processed right now; if that fails, this retry must not be lost.
            return response(409, {"error": "this delivery is already being processed; retry later"})
        except errors.HandOffError as e:
            self._warn("could not hand the event off durably", reason=str(e))
            return response(503, {"error": "could not store the event; please retry"}, {"Retry-After": "5"})
        except errors.ConfigError as e:
            self._warn("configuration error", reason=str(e))
            return response(500, {"error": "the function is misconfigured; see its logs"})
        except Exception:
            # Anything unforeseen (a throttled table, an odd vendor answer): the sender must try again.
            if self._log is not None:
                self._log.exception("unexpected error; asking the sender to retry")
            return response(503, {"error": "temporary failure; please retry"}, {"Retry-After": "30"})
        if self._log is not None:
            self._log.info("webhook processed", extra={"source": self.source, "result": result})
        return response(200, {"status": "accepted", "delivery_id": delivery_id, **result})

    def _warn(self, message: str, **extra: Any) -> None:
        if self._log is not None:
            self._log.warning(message, extra={"source": self.source, **extra})
