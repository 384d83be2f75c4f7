"""Reading and moving dead letters without SQS's move tasks (moto has none, and they cannot filter).

A listing receives every message with a short visibility timeout (so each is seen once), then makes them
visible again. A redrive sends each chosen message back to the retry queue as a fresh task (no attempts
used, the reason and the last error dropped) and only then deletes it from the dead-letter queue, so a
message is never lost between the two; a crash in between leaves a copy in both, which is harmless:
replaying a task converges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from linksync.operations import MalformedTaskError, Task

MAX_MESSAGES = 10_000
HOLD_SECONDS = 60


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt: str
    body: dict[str, Any]

    @property
    def reason(self) -> str:
        """What the operator groups by: the error's type and HTTP status."""
        reason = self.body.get("reason") or {}
        status = reason.get("status")
        return f"{reason.get('error', 'unknown')}{f' {status}' if status else ''}"

    @property
    def operation(self) -> str:
        op = self.body.get("op", "?")
        ids = [
            f"{k} {self.body[k]}"
            for k in ("issue_id", "ticket_id", "kind", "id", "link_id")
            if self.body.get(k)
        ]
        return f"{op} {' '.join(ids)}".strip()


def hold_all(sqs: Any, url: str, *, limit: int = MAX_MESSAGES) -> list[DeadLetter]:
    """Every visible message, hidden for a minute while the caller decides (see :func:`release`)."""
    found: list[DeadLetter] = []
    while len(found) < limit:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=HOLD_SECONDS)
        messages = got.get("Messages", [])
        if not messages:
            break
        for m in messages:
            try:
                body = json.loads(m["Body"])
            except ValueError:
                body = {"raw": m["Body"][:2000]}
            found.append(
                DeadLetter(m["MessageId"], m["ReceiptHandle"], body if isinstance(body, dict) else {})
            )
    return found


def release(sqs: Any, url: str, letters: list[DeadLetter]) -> None:
    """Make held messages visible again at once."""
    for start in range(0, len(letters), 10):
        batch = letters[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": d.receipt, "VisibilityTimeout": 0}
                for i, d in enumerate(batch)
            ],
        )


def fresh_task(letter: DeadLetter) -> str | None:
    """The message to send back: the same operation, no attempt used. None when it is not a task."""
    try:
        task = Task.from_message(letter.body)
    except MalformedTaskError:
        return None
    return Task(task.op).to_json()


def redrive(sqs: Any, dead_letter_url: str, retry_url: str, letters: list[DeadLetter]) -> tuple[int, int]:
    """Move these (held) letters back to the retry queue; returns (moved, left because not a task)."""
    moved = skipped = 0
    for letter in letters:
        body = fresh_task(letter)
        if body is None:
            skipped += 1
            continue
        sqs.send_message(QueueUrl=retry_url, MessageBody=body)
        sqs.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=letter.receipt)
        moved += 1
    return moved, skipped
