"""The SQS retry queue and its dead-letter queue: where a failed link operation waits for another try.

One message per operation (``{"op": ..., "attempt": n, ...}``). The delay grows exponentially with full
jitter and never undercuts the vendor's Retry-After; SQS caps a message delay at 15 minutes. What can never
succeed, and what ran out of attempts, goes to the dead-letter queue with the reason in the message.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .errors import HandOffError

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
        return int(min(self.cap_seconds, MAX_DELAY_SECONDS, max(0, round(wait))))


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

    def schedule(self, operation: dict[str, Any], *, retry_after: float | None = None) -> int:
        """Queue ``operation`` for its next attempt; returns the delay used."""
        attempt = int(operation.get("attempt", 0)) + 1
        message = {**operation, "attempt": attempt, "queued_at": int(time.time())}
        delay = self.backoff.delay(attempt, retry_after)
        self._send(self.queue_url, message, delay)
        return delay

    def exhausted(self, operation: dict[str, Any]) -> bool:
        return int(operation.get("attempt", 0)) >= self.backoff.max_attempts

    def dead_letter(self, operation: dict[str, Any], reason: dict[str, Any]) -> None:
        if not self.dead_letter_url:
            raise HandOffError("no dead-letter queue configured")
        self._send(
            self.dead_letter_url, {**operation, "dead_lettered_at": int(time.time()), "reason": reason}
        )
