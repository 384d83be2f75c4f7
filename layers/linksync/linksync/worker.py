"""The retry worker's record handler: one SQS message, one link operation.

An operation that fails again is re-scheduled (or dead-lettered) by the sync service itself, so the
record still succeeds. A record only fails when that hand-off itself fails: SQS then redelivers it, and
after the queue's redrive limit moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .services import Services

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# What each operation needs; a message without it can never succeed.
REQUIRED_FIELDS = {
    "reconcile": ("issue_id", "ticket_id"),
    "sync_ticket": ("ticket_id",),
    "purge": ("kind", "id"),
    "delete_link": ("link_id",),
}


def _malformed(operation: Any) -> str | None:
    if not isinstance(operation, dict):
        return "malformed retry message"
    required = REQUIRED_FIELDS.get(str(operation.get("op")))
    if required is None:
        return "malformed retry message: unknown op"
    missing = [name for name in required if not isinstance(operation.get(name), (str, int))]
    if missing:
        return f"malformed retry message: missing {', '.join(missing)}"
    if operation["op"] == "purge" and operation["kind"] not in ("issue", "ticket"):
        return "malformed retry message: bad kind"
    return None


class RetryWorker:
    def __init__(self, services: Callable[[], Services], *, logger: Any = None) -> None:
        self._services = services
        self._log = logger

    def handle_record(self, record: SQSRecord) -> dict[str, Any]:
        svc = self._services()
        try:
            operation = json.loads(record.body)
        except ValueError:
            operation = None
        problem = _malformed(operation)
        if problem:
            # Cannot succeed however often it is retried: park it with the reason.
            parked = operation if isinstance(operation, dict) else {"raw": record.body[:2000]}
            svc.sync.queue.dead_letter(parked, {"error": problem})
            return {"dead_lettered": 1}
        if svc.sync.time_left() < svc.sync.defer_below:
            # Not enough of the invocation left for a slow vendor: hand it back without using an attempt.
            svc.sync.queue.schedule({**operation, "attempt": int(operation.get("attempt", 0)) - 1})
            return {"deferred": 1}
        outcome = svc.sync.run(operation).as_dict()
        if self._log is not None:
            self._log.info(
                "retry processed",
                extra={
                    "operation": operation.get("op"),
                    "attempt": operation.get("attempt"),
                    "result": outcome,
                },
            )
        return outcome

    def start(self, context: Any) -> None:
        """Called once per invocation: the time budget comes from the Lambda context."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            svc = self._services()
            svc.sync.time_left = lambda: context.get_remaining_time_in_millis() / 1000
