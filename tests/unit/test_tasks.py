"""Tasks on the wire, and what the retry queue does with them: retry, defer, park (no attempt arithmetic)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from linksync import errors
from linksync.handoff import Handoff
from linksync.operations import (
    DeleteLink,
    MalformedTaskError,
    Operation,
    Purge,
    ReconcilePair,
    SyncTicket,
    Task,
)
from linksync.retry_queue import Backoff, Exhausted, Retried, RetryQueue
from linksync.timing import Deadline, Timeouts
from local.stack import LocalStack

OPERATIONS: list[Operation] = [
    ReconcilePair("10001", "35436"),
    ReconcilePair("10001", "35436", verify=True),
    SyncTicket("35436"),
    SyncTicket("35436", "PROJ-1, PROJ-2", 1_736_331_127_672),  # the value known (carried, or read)
    SyncTicket("35436", None, 1_736_331_127_672),  # known to be empty
    Purge("issue", "10001"),
    Purge("ticket", "35436", keep_owners=True),
    DeleteLink(77, "10001", "35436"),
]


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.kind)
def test_every_operation_round_trips_with_its_attempts(op: Operation) -> None:
    task = Task(op, attempts=3)
    message = json.loads(task.to_json(queued_at=1))
    assert message["v"] == 1 and message["op"] == op.kind and message["attempt"] == 3
    assert Task.from_message(message) == task


def test_messages_written_before_the_schema_version_still_read() -> None:
    old = {"op": "purge", "kind": "ticket", "id": "5", "keep_owners": True, "attempt": 2, "queued_at": 9}
    assert Task.from_message(old) == Task(Purge("ticket", "5", keep_owners=True), 2)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "malformed retry message"),
        ("[1, 2]", "malformed retry message"),
        ('{"op": "explode"}', "malformed retry message: unknown op"),
        (
            '{"v": 2, "op": "reconcile", "issue_id": "1", "ticket_id": "2"}',
            "malformed retry message: unknown",
        ),
        ('{"op": "reconcile", "issue_id": "1"}', "malformed retry message: missing ticket_id"),
        ('{"op": "reconcile"}', "malformed retry message: missing issue_id, ticket_id"),
        ('{"op": "purge", "kind": "project", "id": "1"}', "malformed retry message: bad kind"),
        ('{"op": "delete_link", "link_id": "x1"}', "malformed retry message: bad link_id"),
        ('{"op": "sync_ticket", "ticket_id": true}', "malformed retry message: missing ticket_id"),
        ('{"op": "sync_ticket", "ticket_id": "5", "version": "1"}', "malformed retry message: bad version"),
    ],
)
def test_what_no_code_can_carry_out_is_refused_with_why(body: str, reason: str) -> None:
    with pytest.raises(MalformedTaskError) as refused:
        Task.from_json(body)
    assert refused.value.reason.startswith(reason)


def test_a_bad_attempt_count_counts_as_none_used() -> None:
    task = Task.from_message({"op": "sync_ticket", "ticket_id": "5", "attempt": "many"})
    assert task.attempts == 0


@pytest.fixture
def queue() -> Iterator[tuple[RetryQueue, LocalStack]]:
    with mock_aws():
        stack = LocalStack(None, {}, {"x": "y"}).create()
        q = RetryQueue(
            stack.physical["RetryQueue"],
            stack.physical["RetryDeadLetterQueue"],
            client=stack.sqs,
            backoff=Backoff(base_seconds=0, cap_seconds=0, max_attempts=2),
        )
        yield q, stack


def _messages(stack: LocalStack, name: str = "RetryQueue") -> list[dict[str, Any]]:
    got = stack.sqs.receive_message(QueueUrl=stack.physical[name], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_retry_uses_an_attempt_defer_does_not(queue: tuple[RetryQueue, LocalStack]) -> None:
    q, stack = queue
    task = Task(SyncTicket("5"), attempts=1)

    assert q.retry(task, reason={"error": "x"}) == Retried(0)
    assert q.defer(task) == 0

    first, second = _messages(stack)
    assert (first["attempt"], first["last_error"]) == (2, {"error": "x"})
    assert second["attempt"] == 1 and "last_error" not in second


def test_a_task_out_of_attempts_is_not_queued(queue: tuple[RetryQueue, LocalStack]) -> None:
    q, stack = queue
    assert q.retry(Task(SyncTicket("5"), attempts=2)) == Exhausted(2)
    assert _messages(stack) == []


def test_defer_never_brings_a_task_back_early(queue: tuple[RetryQueue, LocalStack]) -> None:
    q, _ = queue
    assert q.defer(Task(SyncTicket("5")), delay=3.2) == 4
    assert q.defer(Task(SyncTicket("5")), delay=5000) == 900  # SQS's longest delay


def test_handoff_parks_what_ran_out_of_attempts_with_the_reason(queue: tuple[RetryQueue, LocalStack]) -> None:
    q, stack = queue
    outcome = Handoff(q).failed(
        Task(SyncTicket("5"), attempts=2), errors.ZendeskUnavailableError("x", status=503)
    )

    assert outcome.dead_lettered == 1
    (parked,) = _messages(stack, "RetryDeadLetterQueue")
    assert parked["op"] == "sync_ticket" and parked["attempt"] == 2
    assert parked["reason"]["exhausted_after_attempts"] == 2 and parked["reason"]["status"] == 503


def test_handoff_parks_a_permanent_failure_at_once(queue: tuple[RetryQueue, LocalStack]) -> None:
    q, stack = queue
    outcome = Handoff(q).failed(Task(SyncTicket("5")), errors.ZendeskAuthError("no", status=403))

    assert outcome.dead_lettered == 1
    assert _messages(stack) == []
    (parked,) = _messages(stack, "RetryDeadLetterQueue")
    assert parked["reason"]["error"] == "ZendeskAuthError"


def test_timeouts_derive_every_deadline_from_the_read_timeout() -> None:
    t = Timeouts(connect=2.0, read=5.0)
    assert t.http == (2.0, 5.0)
    assert t.settle == 12.0  # twice the read timeout, plus 2 s
    assert t.reserve == 15.0  # two slow calls, plus 1 s
    assert (t.claim_lease, t.ticket_lock) == (26.0, 52.0)
    assert Deadline(lambda: 15.0, t.reserve).has_time()
    assert not Deadline(lambda: 14.9, t.reserve).has_time()
    assert Deadline.of(None).has_time()
