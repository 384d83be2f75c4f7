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

KNOWN_OPS = ("reconcile", "sync_ticket", "purge", "delete_link")


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
        if not isinstance(operation, dict) or operation.get("op") not in KNOWN_OPS:
            # Cannot succeed however often it is retried: park it with the reason.
            svc.sync.queue.dead_letter({"raw": record.body[:2000]}, {"error": "malformed retry message"})
            return {"dead_lettered": 1}
        try:
            outcome = svc.sync.run(operation).as_dict()
        except (KeyError, ValueError, TypeError) as e:
            svc.sync.queue.dead_letter(operation, {"error": f"malformed retry message: {type(e).__name__}"})
            return {"dead_lettered": 1}
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
