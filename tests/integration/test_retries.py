"""Failures lose nothing and duplicate nothing: retry queue, worker, dead-letter queue."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from local.payloads import jira_issue
from local.stack import sqs_event
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration

LINKS = "/api/services/jira/links"


def _create(p: Pipeline, issue_id: str = "10001", tickets: str = "101", **kw: Any) -> dict[str, object]:
    reply = p.jira(jira_issue("jira:issue_created", issue_id, f"PROJ-{issue_id[-1]}", tickets=tickets), **kw)
    assert reply.status == 200, reply.body
    return reply.body


@pytest.mark.parametrize("kind", ["500", "503", "429", "slow", "drop"])
def test_transient_failure_is_queued_then_completed_once(pipeline: Pipeline, kind: str) -> None:
    pipeline.sandbox.fail_next(kind, path_prefix=LINKS, method="POST")

    body = _create(pipeline)

    assert body["queued"] == 1
    assert pipeline.retry_depth() == 1
    ledger = pipeline.ledger_links()[("10001", "101")]
    assert ledger["state"] == "pending"
    assert ledger["last_error"]
    report = pipeline.drain()
    assert report.records >= 1  # more when a timed-out POST is given time to land before looking again
    assert report.failures == 0
    assert pipeline.links() == [("10001", "101")]
    assert pipeline.ledger_links()[("10001", "101")]["state"] == "linked"
    assert pipeline.dead_letters() == []
    assert pipeline.retry_depth() == 0


@pytest.mark.parametrize("kind", ["lost_500", "lost_drop"])
def test_lost_create_response_still_gives_exactly_one_link(pipeline: Pipeline, kind: str) -> None:
    pipeline.sandbox.fail_next(kind, path_prefix=LINKS, method="POST")

    _create(pipeline)
    pipeline.drain()

    assert pipeline.links() == [("10001", "101")]
    assert pipeline.posts() == 1  # the retry looked the ticket's links up and adopted the one that landed
    item = pipeline.ledger_links()[("10001", "101")]
    assert item["state"] == "linked"
    assert item["adopted"] is True
    assert item["link_id"] == pipeline.sandbox.links()[0]["id"]


def test_concurrent_duplicate_deliveries_post_once(pipeline: Pipeline) -> None:
    pipeline.sandbox.slow_seconds = 0.5  # within the client timeout: the first POST is just slow
    pipeline.sandbox.fail_next("slow", path_prefix=LINKS, method="POST")
    body = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101")
    replies: list[int] = []

    def deliver() -> None:
        replies.append(pipeline.jira(body).status)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pipeline.drain()

    # One delivery does the work; the copies find the pair claimed (queued), or the version already applied.
    assert sorted(replies)[0] == 200 and set(replies) <= {200, 409}
    assert pipeline.jira(body).status == 200  # the sender's retry after a 409
    assert pipeline.posts() == 1
    assert pipeline.links() == [("10001", "101")]


@pytest.mark.parametrize("kind", ["503", "lost_500"])
def test_delete_while_the_create_waits_in_the_queue_leaves_no_link(pipeline: Pipeline, kind: str) -> None:
    pipeline.sandbox.fail_next(kind, path_prefix=LINKS, method="POST")
    _create(pipeline)
    assert pipeline.retry_depth() == 1

    deleted = pipeline.jira(jira_issue("jira:issue_deleted", "10001", "PROJ-1"))
    pipeline.drain()

    assert deleted.status == 200
    assert pipeline.links() == []
    assert pipeline.posts() == 1  # the queued create never POSTed again
    assert pipeline.dead_letters() == []


def test_permanent_403_goes_to_the_dlq_and_the_rest_of_the_batch_completes(pipeline: Pipeline) -> None:
    pipeline.sandbox.fail_next("503", times=3, path_prefix=LINKS, method="POST")
    _create(pipeline, tickets="101 102 103")
    assert pipeline.retry_depth() == 3
    pipeline.sandbox.fail_next("403", path_prefix=LINKS, method="POST")  # "Manage links" is off

    report = pipeline.drain()

    assert report.failures == 0
    assert len(pipeline.links()) == 2
    (dead,) = pipeline.dead_letters()
    assert dead["op"] == "reconcile"
    assert dead["reason"]["status"] == 403
    assert dead["reason"]["error"] == "ZendeskAuthError"
    assert dead["reason"]["retryable"] is False
    assert "token" not in json.dumps(dead)
    failed = [i for i in pipeline.ledger_links().values() if i["state"] == "failed"]
    assert len(failed) == 1


def test_exhausted_retries_are_dead_lettered_with_the_reason(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETRY_MAX_ATTEMPTS", "3")
    pipeline.sandbox.fail_next("503", times=10, path_prefix=LINKS, method="POST")

    _create(pipeline)
    pipeline.drain()

    assert pipeline.links() == []
    assert pipeline.posts() == 4  # the first try and three retries
    (dead,) = pipeline.dead_letters()
    assert dead["reason"]["exhausted_after_attempts"] == 3
    assert dead["reason"]["status"] == 503


def test_failed_hand_off_answers_503_and_the_senders_retry_completes(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pipeline.stack.physical["RetryQueue"]
    monkeypatch.setenv("RETRY_QUEUE_URL", url.rsplit("/", 1)[0] + "/no-such-queue")
    pipeline.sandbox.fail_next("503", path_prefix=LINKS, method="POST")

    reply = pipeline.jira(
        jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101"), delivery_id="d-1"
    )

    assert reply.status == 503
    assert reply.headers.get("Retry-After")
    monkeypatch.setenv("RETRY_QUEUE_URL", url)
    again = pipeline.jira(
        jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101"), delivery_id="d-1"
    )
    assert again.status == 200
    assert pipeline.links() == [("10001", "101")]


def test_worker_reports_only_the_records_it_could_not_hand_off(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.sandbox.fail_next("503", times=2, path_prefix=LINKS, method="POST")
    _create(pipeline, tickets="101 102")
    url = pipeline.stack.physical["RetryQueue"]
    got = pipeline.stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    messages = got["Messages"]
    assert len(messages) == 2
    # Zendesk fails again for the first record, and the queue is unreachable so it cannot be re-queued.
    pipeline.sandbox.fail_next("503", path_prefix=LINKS, method="POST")
    monkeypatch.setenv("RETRY_QUEUE_URL", url.rsplit("/", 1)[0] + "/no-such-queue")

    result = pipeline.invoke(
        "RetryWorkerFunction", sqs_event(messages, pipeline.stack.queue_arn("RetryQueue"))
    )

    assert result["batchItemFailures"] == [{"itemIdentifier": messages[0]["MessageId"]}]
    assert len(pipeline.links()) == 1


def test_malformed_retry_messages_are_parked(pipeline: Pipeline) -> None:
    url = pipeline.stack.physical["RetryQueue"]
    pipeline.stack.sqs.send_message(QueueUrl=url, MessageBody="not json")
    pipeline.stack.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"op": "reconcile"}))

    report = pipeline.drain()

    assert report.failures == 0
    reasons = sorted(d["reason"]["error"] for d in pipeline.dead_letters())
    assert reasons == ["malformed retry message", "malformed retry message: missing issue_id, ticket_id"]


def test_redrive_moves_a_poison_message_to_the_dlq(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.sandbox.fail_next("503", path_prefix=LINKS, method="POST")
    _create(pipeline)
    pipeline.sandbox.fail_next("503", times=20, path_prefix=LINKS, method="POST")
    monkeypatch.setenv("RETRY_QUEUE_URL", pipeline.stack.physical["RetryQueue"] + "-gone")
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", pipeline.stack.physical["RetryDeadLetterQueue"] + "-gone")

    report = pipeline.drain(max_batches=20)

    assert report.failures == 5  # maxReceiveCount in template.yaml
    assert pipeline.retry_depth() == 0
    (parked,) = pipeline.dead_letters()
    assert parked["op"] == "reconcile"


def test_unexpected_errors_ask_the_sender_to_retry(pipeline: Pipeline) -> None:
    from linksync.desired import LinkSync

    def broken(self: LinkSync, event: object, deadline: object) -> None:
        raise ValueError("something nobody expected")

    body = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101")
    original = LinkSync.handle_jira
    LinkSync.handle_jira = broken  # type: ignore[assignment,method-assign]
    try:
        reply = pipeline.jira(body, delivery_id="d-9")
    finally:
        LinkSync.handle_jira = original  # type: ignore[method-assign]

    assert reply.status == 503
    assert reply.headers["Retry-After"]
    again = pipeline.jira(body, delivery_id="d-9")  # the sender's retry is not blocked by the failed one
    assert again.status == 200
    assert pipeline.links() == [("10001", "101")]


def test_the_worker_hands_back_work_it_has_no_time_for(pipeline: Pipeline) -> None:
    from local.stack import LambdaContext

    pipeline.sandbox.fail_next("503", path_prefix=LINKS, method="POST")
    _create(pipeline)
    url = pipeline.stack.physical["RetryQueue"]
    got = pipeline.stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    event = sqs_event(got["Messages"], pipeline.stack.queue_arn("RetryQueue"))
    from local.stack import load_handler

    result = load_handler("RetryWorkerFunction")(
        event, LambdaContext("RetryWorkerFunction", timeout_seconds=3)
    )

    assert result == {"batchItemFailures": []}
    assert pipeline.posts() == 1  # no call was started
    pipeline.stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=got["Messages"][0]["ReceiptHandle"])
    (requeued,) = [m for m in [pipeline.stack.sqs.receive_message(QueueUrl=url)] if m.get("Messages")]
    assert json.loads(requeued["Messages"][0]["Body"])["attempt"] == 1
