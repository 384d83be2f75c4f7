"""HTTP glue for the two webhook functions: API Gateway HTTP API (payload 2.0) event in, response out.

Order matters: size first (413), then the signature over the raw bytes (401), then JSON and the payload's
shape (400); only an authenticated, well-formed event reaches the ledger or Zendesk. A delivery seen before
does no new work: a Jira event's signed timestamp (or a Zendesk field change's time) versions what it
applies, and the ledger refuses a version already carried out; any other Zendesk event (the same event
id, or the same signed trigger) is answered from the Powertools idempotency record. The work is done
within the sender's patience (``webhook_answer_seconds``): what does not fit waits on the retry queue.
All typed errors become HTTP answers here, in one place; a misconfigured function answers 503 with a
short Retry-After (never a 500, which Zendesk does not retry).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from . import errors
from .apiclient import calls_end_by
from .inbound import MAX_BODY_BYTES, Request, lower_headers, parse_json, raw_body, response
from .observability import Metric
from .operations import Outcome
from .ports import MetricsSink
from .services import Services
from .sources import JIRA, ZENDESK, WebhookSource
from .timing import Deadline

__all__ = ["JIRA", "MAX_BODY_BYTES", "ZENDESK", "WebhookHandler", "lower_headers", "raw_body", "response"]

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# A webhook keeps working inline while one more call fits before its answer is due.
INLINE_CALL_SECONDS = 1.0
# Zendesk retries a 503 only when its Retry-After is short.
MISCONFIGURED_RETRY_AFTER = "10"
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
        self._misconfigured = False  # this invocation's answer is a misconfiguration's
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

    def _accept(
        self, svc: Services, request: Request, payload: Any, context: Any, started: float
    ) -> dict[str, Any]:
        """Handle one authenticated request, once per delivery; within the sender's patience."""
        patience = svc.settings.webhook_answer_seconds - (time.monotonic() - started)
        deadline = Deadline.of(context, svc.settings.timeouts).within(patience, reserve=INLINE_CALL_SECONDS)
        dedup_key = self.source.dedup_key(request, payload)
        if dedup_key is None:
            with calls_end_by(deadline.ends_at()):
                return self.source.handle(svc, payload, deadline, self._annotate).as_dict()
        process, config = self._process_once(svc)
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            config.register_lambda_context(context)
        with calls_end_by(deadline.ends_at()):
            result: dict[str, Any] = process(
                delivery={"id": dedup_key, "event": payload},
                svc=svc,
                deadline=deadline,
            )
        return result

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        self._misconfigured = False
        answer = self._answer(event, context)
        self._count(answer)
        return answer

    def _count(self, answer: dict[str, Any]) -> None:
        """One metric per request: the source and the outcome (``JiraWebhookAccepted``, ...). A
        misconfigured function answers 503 as a busy one does, so the sender retries; its metric says
        which it was."""
        if self._metrics is None:
            return
        status = int(answer["statusCode"])
        if self._misconfigured:
            outcome = "Misconfigured"
        elif status == 200:
            outcome = "Ignored" if _ignored_only(answer) else "Accepted"
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
        started = time.monotonic()
        svc: Services | None = None
        try:
            request = Request.from_event(event)
            svc = self._services()
            self.source.verify(request, svc)
            payload = parse_json(request.body)
        except errors.WebhookError as e:
            self._warn("webhook refused", status=e.status, reason=e.message)
            return response(e.status, {"error": e.message})
        except errors.ConfigError as e:
            self._misconfigured = True
            self._warn("configuration error", reason=str(e))
            error = {"error": "the function is misconfigured; see its logs"}
            return response(503, error, {"Retry-After": MISCONFIGURED_RETRY_AFTER})
        except errors.HandOffError as e:  # the secret could not be read
            self._warn("could not read the configuration", reason=str(e))
            return response(503, {"error": "temporary failure; please retry"}, {"Retry-After": "5"})
        # Authenticated from here on: the delivery id may name the log lines.
        delivery_id = self.source.delivery_id(request, payload)
        if delivery_id and self._log is not None and hasattr(self._log, "set_correlation_id"):
            self._log.set_correlation_id(delivery_id)
        return self._handle(svc, request, payload, context, started, delivery_id)

    def _handle(
        self,
        svc: Services,
        request: Request,
        payload: Any,
        context: Any,
        started: float,
        delivery_id: str | None,
    ) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
        )

        try:
            result = self._accept(svc, request, payload, context, started)
        except errors.WebhookError as e:
            self._warn("webhook refused", status=e.status, reason=e.message)
            return response(e.status, {"error": e.message})
        except IdempotencyAlreadyInProgressError:
            # The same delivery is being processed right now; if that fails, this retry must not be lost.
            return response(409, {"error": "this delivery is already being processed; retry later"})
        except Exception as e:
            return self._later(svc, payload, delivery_id, e)
        if self._log is not None:
            self._log.info("webhook processed", extra={"source": self.source.name, "result": result})
        return response(200, {"status": "accepted", "delivery_id": delivery_id, **result})

    def _later(
        self, svc: Services, payload: Any, delivery_id: str | None, error: Exception
    ) -> dict[str, Any]:
        """The event is authentic but could not be finished: queue its work, or ask the sender to retry."""
        if self._log is not None:
            self._log.warning(
                "could not finish the event", exc_info=error, extra={"source": self.source.name}
            )
        task = self.source.fallback(svc, payload)
        if task is not None:
            try:
                svc.handoff.defer(task, "deadline")
            except errors.HandOffError:
                pass
            else:
                note = "the work was queued; the retry worker finishes it"
                return response(
                    200, {"status": "accepted", "delivery_id": delivery_id, "queued": 1, "notes": [note]}
                )
        if isinstance(error, errors.HandOffError):
            return response(503, {"error": "could not store the event; please retry"}, {"Retry-After": "5"})
        return response(503, {"error": "temporary failure; please retry"}, {"Retry-After": "30"})

    def _warn(self, message: str, **extra: Any) -> None:
        if self._log is not None:
            self._log.warning(message, extra={"source": self.source.name, **extra})


def _ignored_only(answer: dict[str, Any]) -> bool:
    """A 200 that did nothing but say why it ignored the event (an event that also changed links, or only
    noted a value it skipped, was accepted)."""
    try:
        body = json.loads(answer.get("body") or "{}")  # our own answer: a JSON object
    except ValueError:
        return False
    if not isinstance(body, dict) or not body.get("ignored"):
        return False
    return not any(body.get(name) for name in Outcome.COUNTS)
