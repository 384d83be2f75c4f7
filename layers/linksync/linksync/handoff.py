"""Work that does not finish now: retried, deferred or parked, each counted and logged the same way.

The rule lives here once: a failure that may pass is retried with backoff until its attempts are spent;
a permanent one, or one whose attempts are spent, goes to the dead-letter queue with its reason. Work that
merely could not run now (the budget is spent, the pair is held, the invocation is nearly over) is
deferred without using an attempt.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from . import errors
from .observability import Metric
from .operations import Operation, Outcome, Task
from .ports import MetricsSink
from .retry_queue import Exhausted, RetryQueue

DeferReason = Literal["budget", "held", "deadline", "in_flight"]


class _NoMetrics:
    def add_metric(self, name: str, unit: Any, value: float) -> None:
        return None


class Handoff:
    def __init__(self, queue: RetryQueue, *, metrics: MetricsSink | None = None, logger: Any = None) -> None:
        self.queue = queue
        self.metrics: MetricsSink = metrics or _NoMetrics()
        self.log = logger or logging.getLogger("linksync")

    def count(self, name: Metric, value: int = 1) -> None:
        if value:
            self.metrics.add_metric(name=name, unit="Count", value=value)

    def failed(self, task: Task[Operation], error: errors.ApiError) -> Outcome:
        """Retry what may succeed later; dead-letter the rest with the reason."""
        reason = error.to_dict()
        if isinstance(error, errors.ZendeskRateLimitedError):
            self.count("ZendeskRateLimited")
        elif isinstance(error, errors.JiraRateLimitedError):
            self.count("JiraRateLimited")
        if error.retryable:
            retry_after = error.retry_after if isinstance(error, errors.RateLimitedError) else None
            result = self.queue.retry(task, retry_after=retry_after, reason=reason)
            if not isinstance(result, Exhausted):
                self.count("RetriesScheduled")
                self.log.warning(
                    "call failed; retry scheduled",
                    extra={"error": str(error), "delay_seconds": result.delay, "operation": task.op.kind},
                )
                return Outcome(queued=1)
            reason = {**reason, "exhausted_after_attempts": result.attempts}
        self.park(task.to_message(), reason)
        self.log.error(
            "call failed for good; sent to the dead-letter queue",
            extra={"error": str(error), "operation": task.op.kind},
        )
        return Outcome(dead_lettered=1)

    def park(self, message: dict[str, Any], reason: dict[str, Any]) -> None:
        self.queue.park(message, reason)
        self.count("DeadLettered")

    def defer(self, task: Task[Operation], why: DeferReason, *, delay: float = 0) -> Outcome:
        used = self.queue.defer(task, delay=delay)
        self.count("Deferrals")
        if why == "budget":
            self.count("BudgetDeferred")
            self.log.info("Zendesk call budget spent for now; queued", extra={"delay_seconds": used})
        return Outcome(queued=1)
