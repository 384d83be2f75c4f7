"""What the functions tell CloudWatch: the one list of metric names, and tracing only when it is on.

Every metric the code emits is a :data:`Metric` (a Literal, so the type checker refuses a name that is not
on the list), in the ``ZendeskJiraLinkSync`` namespace with the ``service`` dimension Powertools adds. The
template's alarms and dashboard may name only these (a test checks), so a widget never graphs nothing.

Tracing: Powertools' Tracer imports and configures the X-Ray SDK (~0.13 s of cold start) even when
tracing is disabled, so the handlers wrap themselves through :func:`capture_lambda_handler`, which leaves
the SDK unimported unless ``POWERTOOLS_TRACE_DISABLED`` is false (the template's ``EnableTracing``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal, cast, get_args

Metric = Literal[
    # links
    "LinksCreated",
    "LinksDeleted",
    "LinksAdopted",
    # work that waits or fails
    "RetriesScheduled",
    "Deferrals",
    "BudgetDeferred",
    "DeadLettered",
    "ZendeskRateLimited",
    "JiraRateLimited",
    # the call budgets: one per call made
    "ZendeskCalls",
    "JiraCalls",
    # a field value over the limits, left as it is
    "FieldRefused",
    # webhooks, by source and outcome
    "JiraWebhookAccepted",
    "JiraWebhookIgnored",
    "JiraWebhookRefused",
    "JiraWebhookRetryLater",
    "JiraWebhookMisconfigured",
    "ZendeskWebhookAccepted",
    "ZendeskWebhookIgnored",
    "ZendeskWebhookRefused",
    "ZendeskWebhookRetryLater",
    "ZendeskWebhookMisconfigured",
    "SignatureFailures",
    # reconciliation
    "ReconcileJobsFinished",
    "ReconcileJobsFailed",
    "DriftMissing",
    "DriftDead",
    "DriftUnwanted",
    "ManualLinks",
]
METRICS: frozenset[str] = frozenset(get_args(Metric))
NAMESPACE = "ZendeskJiraLinkSync"


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("1", "true", "yes")


def capture_lambda_handler[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """Powertools Tracer's ``capture_lambda_handler`` when tracing is on; the handler as it is when off."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return cast(Handler, Tracer().capture_lambda_handler(handler))
