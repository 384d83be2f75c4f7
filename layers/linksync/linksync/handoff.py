"""Work that does not finish now: retried, deferred or parked, each counted and logged the same way.

The rule lives here once: a failure that may pass is retried with backoff until its attempts are spent;
a permanent one, or one whose attempts are spent, goes to the dead-letter queue with its reason. Work that
merely could not run now (the budget is spent, the pair is held, the invocation is nearly over) is
deferred without using an attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from . import errors
from .budget import CallBudget
from .observability import Metric
from .operations import Operation, Outcome, Task
from .ports import MetricsSink
from .retry_queue import Exhausted, RetryQueue

DeferReason = Literal["budget", "held", "deadline", "in_flight"]
# A turn this close is taken at once rather than sent round the queue.
PROMPT_SECONDS = 0.5


class _NoMetrics:
    def add_metric(self, name: str, unit: Any, value: float) -> None:
        return None


class Turns:
    """Asks the call budget for a task's turn, honouring a turn the task already reserved."""

    def __init__(
        self,
        budget: CallBudget | None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self.sleep = sleep

    def wait(self, task: Task[Any], *, patience: float = 0.0) -> float:
        """Seconds until the task may call (0: now). A turn taken here is the task's: if it must wait, the
        caller defers :meth:`hold` (the task holding its turn) and the retry calls without asking again. A
        caller with ``patience`` (a reconcile job) waits that long for its turn here instead."""
        now = self.clock()
        if task.reserved_at is not None:
            wait = max(0.0, task.reserved_at - now)
        elif self.budget is None:
            return 0.0
        else:
            wait = self.budget.take()
        if wait <= PROMPT_SECONDS:
            return 0.0
        if wait <= patience:
            self.sleep(wait)
            return 0.0
        return wait

    def hold(self, task: Task[Any], wait: float) -> Task[Any]:
        """The task, holding the turn it was given ``wait`` seconds from now (kept if it had one)."""
        return task if task.reserved_at is not None else task.reserved(self.clock() + wait)


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
        """Queue a task that cannot run now, without using an attempt (a turn it reserved goes with it)."""
        used = self.queue.defer(task, delay=delay)
        self.count("Deferrals")
        if why == "budget":
            self.count("BudgetDeferred")
            self.log.info("Zendesk call budget spent for now; queued", extra={"delay_seconds": used})
        return Outcome(queued=1)
