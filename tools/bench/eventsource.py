"""The SQS event source as the template configures it for ``RetryWorkerFunction``, with time in it.

``local.stack.drain_queue`` polls and hands over whatever it got at once, which is right for tests that
drain a queue. Here the point is *when* deferred work runs, so the pollers behave as Lambda's do for the
template's ``BatchSize`` (10), ``MaximumBatchingWindowInSeconds`` (2) and ``ScalingConfig``
``MaximumConcurrency`` (2): each of ``concurrency`` pollers gathers messages until it has a full batch or
the window since the first one has passed, then invokes the function and waits for it before polling
again. SQS delays are honoured by the queue itself (moto keeps a delayed message invisible).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.stack import DrainReport, LocalStack, sqs_event
from local.template import resources

POLL_IDLE_SECONDS = 0.2


@dataclass(frozen=True)
class SourceSettings:
    batch_size: int = 10
    window_seconds: float = 2.0
    concurrency: int = 2

    @classmethod
    def from_template(cls, function: str = "RetryWorkerFunction") -> SourceSettings:
        props = resources("AWS::Serverless::Function")[function]["Properties"]
        sqs = next(e["Properties"] for e in props.get("Events", {}).values() if e.get("Type") == "SQS")
        return cls(
            batch_size=int(sqs.get("BatchSize", 10)),
            window_seconds=float(sqs.get("MaximumBatchingWindowInSeconds", 0)),
            concurrency=int(sqs.get("ScalingConfig", {}).get("MaximumConcurrency", 2)),
        )


@dataclass
class SourceStats(DrainReport):
    """A drain's counts, and each batch's size (pollers on several threads add to it under ``lock``)."""

    batch_sizes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class EventSource:
    """Pollers on their own threads until :meth:`stop`."""

    def __init__(
        self,
        stack: LocalStack,
        invoke: Callable[[dict[str, Any]], Any],
        settings: SourceSettings,
        *,
        logical_id: str = "RetryQueue",
    ) -> None:
        self.stack = stack
        self.invoke = invoke
        self.settings = settings
        self.url = stack.physical[logical_id]
        self.arn = stack.queue_arn(logical_id)
        self.stats = SourceStats()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, name=f"event-source-{i}", daemon=True)
            for i in range(settings.concurrency)
        ]

    def __enter__(self) -> EventSource:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def _receive(self, count: int) -> list[dict[str, Any]]:
        got = self.stack.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=count,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
            VisibilityTimeout=360,
        )
        return list(got.get("Messages", []))

    def _batch(self) -> list[dict[str, Any]]:
        """Messages until a full batch, or the window since the first one is over (or stopping)."""
        batch: list[dict[str, Any]] = []
        closes = 0.0
        while not self._stop.is_set():
            batch += self._receive(self.settings.batch_size - len(batch))
            if batch and not closes:
                closes = time.monotonic() + self.settings.window_seconds
            if len(batch) >= self.settings.batch_size or (batch and time.monotonic() >= closes):
                break
            time.sleep(POLL_IDLE_SECONDS if not batch else min(0.05, max(0.0, closes - time.monotonic())))
        return batch

    def _poll(self) -> None:
        while not self._stop.is_set():
            batch = self._batch()
            if batch:
                self._handle(batch)

    def _handle(self, batch: list[dict[str, Any]]) -> None:
        try:
            result = self.invoke(sqs_event(batch, self.arn)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            error = 0
        except Exception:  # a function error: the event source retries the whole batch
            failed, error = {m["MessageId"] for m in batch}, 1
        for m in batch:
            if m["MessageId"] in failed:
                self.stack.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=1
                )
            else:
                self.stack.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        with self.stats.lock:
            self.stats.batches += 1
            self.stats.records += len(batch)
            self.stats.failures += len(failed)
            self.stats.errors += error
            self.stats.batch_sizes.append(len(batch))
