"""Real senders and real attackers: answers within the sender's patience, no Zendesk event lost, nothing
replayed or abused (issue 12). Handlers invoked as Lambda would, AWS on moto, the vendors on the sandbox."""

from __future__ import annotations

import json
import time

import pytest

from linksync.desired import LinkSync
from local import payloads
from local.payloads import ZENDESK_ISSUE_FIELD, jira_issue, zendesk_event
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration

LINKS = "/api/services/jira/links"
JIRA = ("JiraWebhookFunction", "/webhooks/jira")


def test_the_answer_comes_within_the_senders_patience(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zendesk answers slowly: the webhook stops calling it when its answer is due and queues the rest."""
    monkeypatch.setenv("WEBHOOK_ANSWER_SECONDS", "2")
    pipeline.sandbox.slow_seconds = 0.8  # within the 1 s read timeout: every call succeeds, slowly
    pipeline.sandbox.fail_next("slow", times=6, path_prefix=LINKS, method="POST")
    tickets = ["101", "102", "103", "104", "105", "106"]

    started = time.monotonic()
    reply = pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets=", ".join(tickets)))
    took = time.monotonic() - started

    assert reply.status == 200
    assert took < 3.0, took  # the answer was due at 2 s; a call started just before gets what is left
    assert reply.body["queued"] >= 1 and reply.body["created"] >= 1
    pipeline.drain()
    assert sorted(t for _, t in pipeline.links()) == tickets


def test_a_zendesk_event_that_cannot_be_finished_is_queued_before_the_answer(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zendesk does not retry a plain 500: an authentic event that fails half way is put on the queue."""
    pipeline.sandbox.add_issue("PROJ-1", "10001")
    pipeline.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    real = LinkSync.handle_zendesk

    def broken(self: LinkSync, event: object, deadline: object) -> None:
        raise RuntimeError("the table went away half way")

    monkeypatch.setattr(LinkSync, "handle_zendesk", broken)
    reply = pipeline.zendesk(zendesk_event("ticket.created", "501"))
    monkeypatch.setattr(LinkSync, "handle_zendesk", real)

    assert reply.status == 200 and reply.body["queued"] == 1
    pipeline.drain()
    assert pipeline.links() == [("10001", "501")]


def test_a_misconfigured_function_asks_to_be_retried_soon(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_TICKET_FIELD", "not-a-field")  # a setting that fails validation

    reply = pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101"))

    assert reply.status == 503 and reply.headers["Retry-After"] == "10"
    assert "misconfigured" in reply.body["error"]


def test_a_body_nested_hundreds_deep_is_refused_not_retried(pipeline: Pipeline) -> None:
    raw = b'{"webhookEvent": ' + b"[" * 500 + b"]" * 500 + b"}"
    raw_signed, headers = payloads.signed_jira(raw)

    reply = pipeline.post(*JIRA, raw_signed, headers)

    assert reply.status == 400 and "nested" in reply.body["error"]
    assert pipeline.stack.ledger_items() == []


def test_a_field_over_the_limits_changes_nothing(pipeline: Pipeline) -> None:
    """A cut would invent ids, the first 200 of more would drop the links of the rest: nothing is read."""
    pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101"))
    urls = " ".join(f"https://acme-support.zendesk.com/agent/tickets/{30000 + i}" for i in range(200))

    reply = pipeline.jira(jira_issue("jira:issue_updated", "10001", "PROJ-1", tickets=urls))

    assert "left as it is" in reply.body["ignored"]
    assert pipeline.links() == [("10001", "101")]
    assert pipeline.sandbox.calls_to("POST", LINKS)[1:] == []


def test_only_allowed_jira_projects_are_linked(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_PROJECTS", "OPS")
    pipeline.sandbox.add_issue("PROJ-1", "10001")
    pipeline.sandbox.add_issue("OPS-1", "20001")
    pipeline.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1 OPS-1"})

    jira_reply = pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="501"))
    zendesk_reply = pipeline.zendesk(zendesk_event("ticket.created", "501"))

    assert "outside JIRA_PROJECTS" in jira_reply.body["ignored"]
    assert any("PROJ-1" in note for note in zendesk_reply.body["notes"])
    assert pipeline.links() == [("20001", "501")]


def test_key_lookups_are_bounded_by_the_jira_budget(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field of 60 keys needs two searches; with one Jira call a minute the second waits on the queue."""
    monkeypatch.setenv("JIRA_CALLS_PER_MINUTE", "1")
    keys = [f"PROJ-{i}" for i in range(1, 61)]
    for i, key in enumerate(keys, 1):
        pipeline.sandbox.add_issue(key, str(10000 + i))
    pipeline.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: " ".join(keys)})

    reply = pipeline.zendesk(zendesk_event("ticket.created", "501"))

    assert reply.body["queued"] == 1
    assert len(pipeline.sandbox.calls_to("POST", "/rest/api/3/search/jql")) == 1
    assert pipeline.links() == []  # nothing applied from half a field
    attrs = pipeline.stack.sqs.get_queue_attributes(
        QueueUrl=pipeline.stack.physical["RetryQueue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # until the next minute


def test_a_trigger_body_is_one_delivery_per_signature(pipeline: Pipeline) -> None:
    """Trigger bodies carry no event id: a replay of the signed request is answered from its record, while
    the same body signed again (the field changed back) is a new delivery."""
    pipeline.sandbox.add_issue("PROJ-1", "10001")
    pipeline.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    body = json.dumps(payloads.zendesk_trigger("501", "PROJ-1")).encode()
    raw, headers = payloads.signed_zendesk(body)

    first = pipeline.post("ZendeskWebhookFunction", "/webhooks/zendesk", raw, headers)
    calls = len(pipeline.sandbox.calls)
    replay = pipeline.post("ZendeskWebhookFunction", "/webhooks/zendesk", raw, headers)

    assert replay.body == first.body and len(pipeline.sandbox.calls) == calls
    time.sleep(1.1)  # a new signature timestamp (whole seconds)
    again = pipeline.zendesk(payloads.zendesk_trigger("501", "PROJ-1"))
    assert again.status == 200 and len(pipeline.sandbox.calls) > calls


def test_a_burst_beyond_the_budget_waits_its_turns_on_the_queue(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """120 calls a minute, a burst of ten seconds' worth: 40 links at once go partly now, the rest reserve
    their turns (half a second apart) and wait on the queue, each deferred once, and all end up linked."""
    monkeypatch.setenv("ZENDESK_CALLS_PER_MINUTE", "120")
    tickets = [str(1000 + i) for i in range(40)]

    reply = pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets=" ".join(tickets)))

    assert reply.status == 200
    assert reply.body["created"] >= 20 and reply.body["queued"] >= 5  # 21 turns in the burst, and a few more
    assert reply.body["created"] + reply.body["queued"] == 40
    report = pipeline.drain(max_batches=200)
    assert report.records == reply.body["queued"]  # every deferred pair came back once, on its turn
    assert len(pipeline.links()) == 40
