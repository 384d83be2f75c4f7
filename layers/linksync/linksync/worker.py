"""The retry worker's record handler: one SQS message, one task.

A task that fails again is re-queued (or dead-lettered) by the sync itself, so the record still succeeds.
A record only fails when that hand-off itself fails: SQS then redelivers it, and after the queue's redrive
limit moves it to the dead-letter queue. A message no code can carry out is parked at once, with why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .operations import MalformedTaskError, Task
from .services import Services
from .timing import Deadline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def _parked_body(body: str) -> dict[str, Any]:
    import json

    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    return data if isinstance(data, dict) else {"raw": body[:2000]}


class RetryWorker:
    def __init__(self, services: Callable[[], Services], *, logger: Any = None) -> None:
        self._services = services
        self._log = logger
        self._deadline = Deadline.unlimited()

    def start(self, context: Any) -> None:
        """Called once per invocation: the time budget comes from the Lambda context."""
        self._deadline = Deadline.of(context, self._services().settings.timeouts)

    def handle_record(self, record: SQSRecord) -> dict[str, Any]:
        svc = self._services()
        try:
            task = Task.from_json(record.body)
        except MalformedTaskError as e:
            # Cannot succeed however often it is retried: park it with the reason.
            svc.handoff.park(_parked_body(record.body), {"error": e.reason})
            return {"dead_lettered": 1}
        if not self._deadline.has_time():
            # Not enough of the invocation left for a slow vendor: hand it back without using an attempt.
            svc.handoff.defer(task, "deadline")
            return {"deferred": 1}
        outcome = svc.sync.run(task, self._deadline).as_dict()
        if self._log is not None:
            self._log.info(
                "retry processed",
                extra={"operation": task.op.kind, "attempt": task.attempts, "result": outcome},
            )
        return outcome
