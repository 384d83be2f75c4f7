"""The SQS retry queue and its dead-letter queue: where a task waits for another try.

Three things can happen to a task, each one method: :meth:`RetryQueue.retry` after a failure (one more
attempt used, a delay that grows exponentially with full jitter and never undercuts the vendor's
Retry-After, or the dead-letter queue once the attempts are spent), :meth:`RetryQueue.defer` when it
could not run now (no attempt used), and :meth:`RetryQueue.park` for what can never succeed, with its
reason. SQS caps a message's delay at 15 minutes.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import HandOffError
from .operations import Operation, Task

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 2.0
    cap_seconds: float = MAX_DELAY_SECONDS
    max_attempts: int = 50

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> int:
        """Seconds to wait before try number ``attempt + 1`` (attempt counts from 1).

        Full jitter over the upper half of ``base * 2**(attempt-1)``, at least the vendor's Retry-After,
        and never more than ``cap_seconds`` (SQS allows at most 900).
        """
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        wait = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return _sqs_delay(min(self.cap_seconds, wait))


def _sqs_delay(seconds: float) -> int:
    return int(min(MAX_DELAY_SECONDS, max(0, round(seconds))))


@dataclass(frozen=True)
class Retried:
    delay: int


@dataclass(frozen=True)
class Exhausted:
    attempts: int


class RetryQueue:
    def __init__(
        self,
        queue_url: str,
        dead_letter_url: str | None,
        *,
        client: SQSClient | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url
        self.backoff = backoff or Backoff()
        self._sqs = client

    def __repr__(self) -> str:
        return f"RetryQueue(queue_url={self.queue_url!r})"

    def _send(self, url: str, body: dict[str, Any], delay: int = 0) -> None:
        try:
            self._sqs.send_message(
                QueueUrl=url, MessageBody=json.dumps(body, default=str), DelaySeconds=delay
            )
        except (ClientError, BotoCoreError) as e:
            raise HandOffError(f"SQS send_message failed: {type(e).__name__}") from e

    def retry(
        self, task: Task[Operation], *, retry_after: float | None = None, reason: dict[str, Any] | None = None
    ) -> Retried | Exhausted:
        """After a failure that may pass: queue the next attempt, or report that none is left."""
        if task.attempts >= self.backoff.max_attempts:
            return Exhausted(task.attempts)
        following = task.failed_once()
        delay = self.backoff.delay(following.attempts, retry_after)
        extra: dict[str, Any] = {"queued_at": int(time.time())}
        if reason is not None:
            extra["last_error"] = reason
        self._send(self.queue_url, following.to_message(**extra), delay)
        return Retried(delay)

    def defer(self, task: Task[Operation], *, delay: float = 0) -> int:
        """Queue a task that could not run now (no time left, budget spent, held by another worker), with
        the attempts it had; returns the delay used."""
        seconds = _sqs_delay(math.ceil(delay))  # never early: a task back too soon would only wait again
        self._send(self.queue_url, task.to_message(queued_at=int(time.time())), seconds)
        return seconds

    def park(self, message: dict[str, Any], reason: dict[str, Any]) -> None:
        """Send to the dead-letter queue, with the reason, what can never succeed."""
        if not self.dead_letter_url:
            raise HandOffError("no dead-letter queue configured")
        self._send(self.dead_letter_url, {**message, "dead_lettered_at": int(time.time()), "reason": reason})
