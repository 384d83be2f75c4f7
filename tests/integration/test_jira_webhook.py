"""Jira webhooks end to end: signed HTTP API events in, the sandbox's links and the ledger out."""

from __future__ import annotations

import time

import pytest

from local.payloads import jira_issue
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration

NOW = int(time.time() * 1000)


def test_issue_created_links_each_ticket_in_the_field(pipeline: Pipeline) -> None:
    reply = pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101, 102"))

    assert reply.status == 200, reply.body
    assert reply.body["created"] == 2
    assert pipeline.links() == [("10001", "101"), ("10001", "102")]
    ledger = pipeline.ledger_links()
    assert set(ledger) == {("10001", "101"), ("10001", "102")}
    assert all(item["state"] == "linked" and item["owners"] == {"jira_field"} for item in ledger.values())
    by_ticket = {link["ticket_id"]: link["id"] for link in pipeline.sandbox.links()}
    assert ledger[("10001", "101")]["link_id"] == by_ticket["101"]


def test_field_change_makes_field_owned_links_match(pipeline: Pipeline) -> None:
    pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101, 102"))
    pipeline.sandbox.reset_calls()

    reply = pipeline.jira(jira_issue("jira:issue_updated", "10001", "PROJ-1", tickets=["102", 103]))

    assert reply.status == 200
    assert (reply.body["created"], reply.body["deleted"]) == (1, 1)
    assert pipeline.links() == [("10001", "102"), ("10001", "103")]
    calls = [(c.method, c.path.rsplit("/", 1)[-1]) for c in pipeline.sandbox.calls]
    assert sorted(m for m, _ in calls) == ["DELETE", "POST"]  # ticket 102 untouched
    assert pipeline.ledger_links()[("10001", "101")]["state"] == "unlinked"


def test_update_without_the_field_changing_does_nothing(pipeline: Pipeline) -> None:
    reply = pipeline.jira(jira_issue("jira:issue_updated", "10001", "PROJ-1", tickets="101", changed=False))

    assert reply.status == 200
    assert "did not change" in reply.body["ignored"]
    assert pipeline.sandbox.calls == []
    assert pipeline.ledger_links() == {}


def test_field_values_people_type(pipeline: Pipeline) -> None:
    value = "https://acme.zendesk.com/agent/tickets/201 #202; 203 not-a-ticket 0"
    reply = pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets=value))

    assert reply.status == 200
    assert pipeline.links() == [("10001", "201"), ("10001", "202"), ("10001", "203")]
    assert any("not ticket ids" in note for note in reply.body["notes"])


def test_field_owned_removal_keeps_links_the_other_field_wants(pipeline: Pipeline) -> None:
    pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101"))
    pipeline.stack.dynamodb.update_item(
        TableName=pipeline.stack.physical["LinksTable"],
        Key={"pk": {"S": "ISSUE#10001"}, "sk": {"S": "TICKET#101"}},
        UpdateExpression="ADD owners :o",
        ExpressionAttributeValues={":o": {"SS": ["zendesk_field"]}},
    )

    pipeline.jira(jira_issue("jira:issue_updated", "10001", "PROJ-1", tickets=""))

    assert pipeline.links() == [("10001", "101")]
    assert pipeline.ledger_links()[("10001", "101")]["owners"] == {"zendesk_field"}


def test_issue_deleted_removes_every_link_including_ones_made_elsewhere(pipeline: Pipeline) -> None:
    pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101"))
    pipeline.sandbox.add_link(issue_id="10001", issue_key="PROJ-1", ticket_id="555")  # an agent's link
    pipeline.sandbox.add_link(issue_id="10002", issue_key="PROJ-2", ticket_id="555")  # another issue's

    deleted = jira_issue("jira:issue_deleted", "10001", "PROJ-1", tickets="101")
    reply = pipeline.jira(deleted)

    assert reply.status == 200
    assert reply.body["deleted"] == 2
    assert pipeline.links() == [("10002", "555")]
    listing = pipeline.sandbox.calls_to("GET", "/api/services/jira/links")
    assert listing and listing[0].query["issue_id"] == ["10001"]


def test_late_create_after_delete_does_nothing(pipeline: Pipeline) -> None:
    created = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101", timestamp=NOW - 1_000)
    pipeline.jira(jira_issue("jira:issue_deleted", "10001", "PROJ-1", timestamp=NOW))

    reply = pipeline.jira(created)

    assert reply.status == 200
    assert reply.body["ignored"] == "issue was deleted"
    assert pipeline.links() == []
    assert pipeline.posts() == 0


def test_out_of_order_updates_keep_the_newest_value(pipeline: Pipeline) -> None:
    newer = jira_issue("jira:issue_updated", "10001", "PROJ-1", tickets="102", timestamp=NOW)
    older = jira_issue("jira:issue_updated", "10001", "PROJ-1", tickets="101", timestamp=NOW - 1_000)

    pipeline.jira(newer)
    reply = pipeline.jira(older)

    assert "newer event" in reply.body["ignored"]
    assert pipeline.links() == [("10001", "102")]


def test_replayed_delivery_does_no_new_work(pipeline: Pipeline) -> None:
    body = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101")
    first = pipeline.jira(body, delivery_id="delivery-1")
    calls = len(pipeline.sandbox.calls)

    again = pipeline.jira(body, delivery_id="delivery-1")

    assert first.body["created"] == 1
    assert again.status == 200
    assert again.body["ignored"] == "this event was already applied" and again.body["created"] == 0
    assert len(pipeline.sandbox.calls) == calls
    assert pipeline.posts() == 1


def test_a_signed_body_replayed_under_a_new_delivery_id_does_no_new_work(pipeline: Pipeline) -> None:
    """The delivery id header is not signed: the same signed body under another id is the same delivery,
    refused by the version its signed timestamp gave what it applied (a delete, then a field's value)."""
    for body in (
        jira_issue("jira:issue_deleted", "10001", "PROJ-1"),
        jira_issue("jira:issue_created", "10002", "PROJ-2", tickets="101"),
    ):
        assert pipeline.jira(body).status == 200
        calls = len(pipeline.sandbox.calls)
        for attempt in range(5):
            again = pipeline.jira(body, delivery_id=f"forged-{attempt}")
            assert again.status == 200 and again.body["ignored"] == "this event was already applied"
        assert len(pipeline.sandbox.calls) == calls
    assert pipeline.posts() == 1


def test_a_signed_body_older_than_the_window_is_ignored(pipeline: Pipeline) -> None:
    """A body Jira signed hours ago (a proxy log, a support bundle) is a replay, not a late delivery:
    answered 200 (so Jira does not retry) and ignored, whatever it asks."""
    old = jira_issue("jira:issue_deleted", "10001", "PROJ-1", timestamp=NOW - 7 * 3600 * 1000)
    future = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101", timestamp=NOW + 3600 * 1000)
    late = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101", timestamp=NOW - 1800 * 1000)

    assert "a replay, not a delivery" in pipeline.jira(old).body["ignored"]
    assert "in the future" in pipeline.jira(future).body["ignored"]
    assert pipeline.sandbox.calls == []
    assert pipeline.jira(late).body["created"] == 1  # half an hour late is within Jira's retries


def test_other_jira_events_are_acknowledged_and_ignored(pipeline: Pipeline) -> None:
    reply = pipeline.jira({"webhookEvent": "comment_created", "comment": {"id": "1"}})
    assert reply.status == 200
    assert "not handled" in reply.body["ignored"]
    assert pipeline.sandbox.calls == []
