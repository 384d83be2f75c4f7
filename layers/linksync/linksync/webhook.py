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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from . import errors, signatures
from .events import parse_jira, parse_zendesk
from .observability import Metric
from .operations import Outcome
from .ports import MetricsSink
from .services import Services
from .timing import Deadline

MAX_BODY_BYTES = 256 * 1024
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
WEBHOOK_METRICS: dict[tuple[str, str], Metric] = {
    ("jira", "Accepted"): "JiraWebhookAccepted",
    ("jira", "Ignored"): "JiraWebhookIgnored",
    ("jira", "Refused"): "JiraWebhookRefused",
    ("jira", "RetryLater"): "JiraWebhookRetryLater",
    ("jira", "Misconfigured"): "JiraWebhookMisconfigured",
    ("zendesk", "Accepted"): "ZendeskWebhookAccepted",
    ("zendesk", "Ignored"): "ZendeskWebhookIgnored",
    ("zendesk", "Refused"): "ZendeskWebhookRefused",
    ("zendesk", "RetryLater"): "ZendeskWebhookRetryLater",
    ("zendesk", "Misconfigured"): "ZendeskWebhookMisconfigured",
}


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


def _json(body: bytes) -> Any:
    if not body.strip():
        raise errors.InvalidPayloadError("body is empty")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise errors.InvalidPayloadError("body is not valid JSON") from None


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]  # names lower-cased
    body: bytes  # exactly as sent

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        return cls(lower_headers(event.get("headers")), raw_body(event))


Annotate = Callable[..., None]


class WebhookSource(Protocol):
    """What differs between the two senders: how they sign, how they name a delivery, what they send."""

    @property
    def name(self) -> Literal["jira", "zendesk"]: ...

    def verify(self, request: Request, svc: Services) -> None: ...
    def delivery_id(self, request: Request, payload: Any) -> str | None: ...
    def handle(self, svc: Services, payload: Any, deadline: Deadline, annotate: Annotate) -> Outcome: ...


class JiraSource:
    name: Literal["jira"] = "jira"

    def verify(self, request: Request, svc: Services) -> None:
        secret = svc.secrets.jira_webhook_secret
        signatures.verify_jira(request.body, request.headers.get(signatures.JIRA_HEADER), secret)

    def delivery_id(self, request: Request, payload: Any) -> str | None:
        return request.headers.get("x-atlassian-webhook-identifier") or None

    def handle(self, svc: Services, payload: Any, deadline: Deadline, annotate: Annotate) -> Outcome:
        event = parse_jira(payload, ticket_field=svc.settings.jira_ticket_field)
        annotate(issue_id=event.issue_id, issue_key=event.issue_key)
        return svc.sync.handle_jira(event, deadline)


class ZendeskSource:
    name: Literal["zendesk"] = "zendesk"

    def verify(self, request: Request, svc: Services) -> None:
        signatures.verify_zendesk(
            request.body,
            request.headers.get(signatures.ZENDESK_HEADER),
            request.headers.get(signatures.ZENDESK_TIMESTAMP_HEADER),
            svc.secrets.zendesk_webhook_secret,
            tolerance=svc.settings.zendesk_signature_tolerance,
        )

    def delivery_id(self, request: Request, payload: Any) -> str | None:
        # Only event-subscription bodies carry Zendesk's event id; a trigger body is whatever the admin wrote.
        is_event = isinstance(payload, dict) and "type" in payload
        event_id = payload.get("id") if is_event else None
        return event_id if isinstance(event_id, str) and event_id else None

    def handle(self, svc: Services, payload: Any, deadline: Deadline, annotate: Annotate) -> Outcome:
        event = parse_zendesk(payload, issue_field=svc.settings.zendesk_issue_field)
        annotate(ticket_id=event.ticket_id)
        return svc.sync.handle_zendesk(event, deadline)


JIRA = JiraSource()
ZENDESK = ZendeskSource()


class WebhookHandler:
    """Turns one webhook request into one sync call. Built once per container per source."""

    def __init__(
        self,
        source: WebhookSource,
        services: Callable[[], Services],
        *,
        logger: Any = None,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.source = source
        self._services = services
        self._log = logger
        self._metrics = metrics
        # Built once per container (per table and client): Powertools' idempotency store and its config.
        self._idempotent: tuple[tuple[str, Any], Callable[..., dict[str, Any]], Any] | None = None

    def _process_once(self, svc: Services) -> tuple[Callable[..., dict[str, Any]], Any]:
        """``process(delivery=..., svc=..., deadline=...)`` wrapped in Powertools idempotency, keyed on the
        delivery id, and its config (to register each invocation's Lambda context with)."""
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        identity = (svc.settings.links_table_name, svc.dynamodb)
        if (
            self._idempotent is not None
            and self._idempotent[0][0] == identity[0]
            and self._idempotent[0][1] is identity[1]
        ):
            return self._idempotent[1], self._idempotent[2]
        store = DynamoDBPersistenceLayer(
            table_name=svc.settings.links_table_name,
            key_attr="pk",
            sort_key_attr="sk",
            static_pk_value=f"idempotency#{self.source.name}-webhook",
            boto3_client=svc.dynamodb,
        )
        config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)

        def process(delivery: dict[str, Any], svc: Services, deadline: Deadline) -> dict[str, Any]:
            return self.source.handle(svc, delivery["event"], deadline, self._annotate).as_dict()

        wrapped = idempotent_function(
            process,
            data_keyword_argument="delivery",
            persistence_store=store,
            config=config,
            key_prefix=f"{self.source.name}-delivery",
        )
        self._idempotent = (identity, wrapped, config)
        return wrapped, config

    def _annotate(self, **keys: str) -> None:
        if self._log is not None and hasattr(self._log, "append_keys"):
            self._log.append_keys(**{k: v for k, v in keys.items() if v})

    def _accept(self, svc: Services, request: Request, context: Any) -> tuple[str | None, dict[str, Any]]:
        """Verify, parse and handle one request (once per delivery id); returns the id and the result."""
        self.source.verify(request, svc)
        payload = _json(request.body)
        delivery_id = self.source.delivery_id(request, payload)
        deadline = Deadline.of(context, svc.settings.timeouts)
        if delivery_id is None:
            return None, self.source.handle(svc, payload, deadline, self._annotate).as_dict()
        if self._log is not None and hasattr(self._log, "set_correlation_id"):
            self._log.set_correlation_id(delivery_id)
        process, config = self._process_once(svc)
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            config.register_lambda_context(context)
        return delivery_id, process(
            delivery={"id": delivery_id, "event": payload}, svc=svc, deadline=deadline
        )

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        answer = self._answer(event, context)
        self._count(answer)
        return answer

    def _count(self, answer: dict[str, Any]) -> None:
        """One metric per request: the source and the outcome (``JiraWebhookAccepted``, ...)."""
        if self._metrics is None:
            return
        status = int(answer["statusCode"])
        if status == 200:
            outcome = "Ignored" if '"ignored"' in str(answer.get("body", "")) else "Accepted"
        elif status in (409, 503):
            outcome = "RetryLater"
        elif status >= 500:
            outcome = "Misconfigured"
        else:
            outcome = "Refused"
        self._metrics.add_metric(name=WEBHOOK_METRICS[(self.source.name, outcome)], unit="Count", value=1)
        if status == 401:
            self._metrics.add_metric(name="SignatureFailures", unit="Count", value=1)

    def _answer(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
        )

        svc: Services | None = None
        try:
            request = Request.from_event(event)
            svc = self._services()
            delivery_id, result = self._accept(svc, request, context)
        except errors.WebhookError as e:
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
            self._log.info("webhook processed", extra={"source": self.source.name, "result": result})
        return response(200, {"status": "accepted", "delivery_id": delivery_id, **result})

    def _warn(self, message: str, **extra: Any) -> None:
        if self._log is not None:
            self._log.warning(message, extra={"source": self.source.name, **extra})
