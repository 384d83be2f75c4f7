"""Zendesk webhooks end to end: event subscriptions and the trigger body."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.payloads import ZENDESK_ISSUE_FIELD, zendesk_event, zendesk_trigger
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


@pytest.fixture
def jira_issues(pipeline: Pipeline) -> Pipeline:
    for n in range(1, 5):
        pipeline.sandbox.add_issue(f"PROJ-{n}", str(10000 + n))
    return pipeline


def test_ticket_created_reads_the_ticket_and_links_each_key(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1, https://acme.atlassian.net/browse/proj-2"})

    reply = p.zendesk(zendesk_event("ticket.created", "501"))

    assert reply.status == 200, reply.body
    assert reply.body["created"] == 2
    assert p.links() == [("10001", "501"), ("10002", "501")]
    assert [c.path for c in p.sandbox.calls_to("GET", "/api/v2/tickets/")] == ["/api/v2/tickets/501"]
    keys = {link["issue_key"] for link in p.sandbox.links()}
    assert keys == {"PROJ-1", "PROJ-2"}
    assert {i["owners"] == {"zendesk_field"} for i in p.ledger_links().values()} == {True}


def test_issue_keys_are_resolved_once_per_container(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.sandbox.add_ticket(502, {ZENDESK_ISSUE_FIELD: "PROJ-1 PROJ-3"})

    p.zendesk(zendesk_event("ticket.created", "501"))
    p.zendesk(zendesk_event("ticket.created", "502"))

    searches = [c.body["jql"] for c in p.sandbox.calls_to("POST", "/rest/api/3/search/jql")]
    assert searches == ["key in (PROJ-1)", "key in (PROJ-3)"]  # one search per event; PROJ-1 was known
    assert p.sandbox.calls_to("GET", "/rest/api/3/issue/") == []
    assert p.links() == [("10001", "501"), ("10001", "502"), ("10003", "502")]


def test_unknown_jira_key_is_skipped_with_a_note(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1 NOPE-9 ###"})

    reply = p.zendesk(zendesk_event("ticket.created", "501"))

    assert reply.status == 200
    assert p.links() == [("10001", "501")]
    assert any("NOPE-9" in note for note in reply.body["notes"])


def _changed(ticket_id: str, value: str | None, *, seconds_from_now: float) -> dict[str, Any]:
    """A field change as Zendesk sends it: the new value, and the time of the change (to the ms)."""
    body = zendesk_event("ticket.custom_field_changed", ticket_id, current=value)
    at = time.time() + seconds_from_now
    body["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"
    return body


def test_custom_field_change_applies_the_value_it_carries_without_reading_the_ticket(
    jira_issues: Pipeline,
) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1 PROJ-2"})
    p.zendesk(zendesk_event("ticket.created", "501"))
    p.sandbox.set_ticket_field(501, ZENDESK_ISSUE_FIELD, "PROJ-2 PROJ-3")
    calls = len(p.sandbox.calls)

    reply = p.zendesk(_changed("501", "PROJ-2 PROJ-3", seconds_from_now=3))

    assert reply.status == 200 and (reply.body["created"], reply.body["deleted"]) == (1, 1)
    assert p.links() == [("10002", "501"), ("10003", "501")]
    zendesk_calls = [c for c in p.sandbox.calls[calls:] if c.path.startswith("/api/")]
    assert [c.method for c in zendesk_calls] == ["POST", "DELETE"]  # one call per link, no ticket read


def test_a_late_field_change_is_not_applied_over_a_newer_one(jira_issues: Pipeline) -> None:
    """Zendesk does not promise order: the older change arrives last. Surely older (by more than the
    clocks may differ), it is ignored; within that margin the ticket is read, and its value stands."""
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-3"})
    assert p.zendesk(_changed("501", "PROJ-3", seconds_from_now=4)).body["created"] == 1

    late = p.zendesk(_changed("501", "PROJ-1", seconds_from_now=2))
    assert late.status == 200 and late.body["ignored"] == "a newer event for this ticket was already applied"
    assert p.sandbox.calls_to("GET", "/api/v2/tickets/") == []

    close = p.zendesk(_changed("501", "PROJ-2", seconds_from_now=3.5))
    assert close.status == 200 and close.body["created"] == 0
    assert p.links() == [("10003", "501")]
    assert [c.path for c in p.sandbox.calls_to("GET", "/api/v2/tickets/")] == ["/api/v2/tickets/501"]


def test_a_replayed_field_change_costs_no_call(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    body = _changed("501", "PROJ-1", seconds_from_now=1)
    assert p.zendesk(body).body["created"] == 1
    calls = len(p.sandbox.calls)

    again = p.zendesk(body)

    assert again.status == 200 and again.body["ignored"] == "this event was already applied"
    assert len(p.sandbox.calls) == calls


def test_a_field_change_right_after_a_read_reads_again(jira_issues: Pipeline) -> None:
    """A change stamped within a second of a read may be one the read already saw, or one it did not:
    the ticket is read again rather than guess."""
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1 PROJ-2"})
    p.zendesk(zendesk_event("ticket.created", "501"))
    p.sandbox.set_ticket_field(501, ZENDESK_ISSUE_FIELD, "PROJ-2 PROJ-3")

    reply = p.zendesk(_changed("501", "PROJ-1", seconds_from_now=0))  # says less than the field holds now

    assert reply.status == 200
    assert p.links() == [("10002", "501"), ("10003", "501")]
    assert len(p.sandbox.calls_to("GET", "/api/v2/tickets/")) == 2


def test_a_sync_that_fails_after_its_read_does_not_read_again(jira_issues: Pipeline) -> None:
    """The read succeeded; the Jira lookup after it failed. The retry applies what was read."""
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.sandbox.fail_next("503", path_prefix="/rest/api/3/search/jql")

    first = p.zendesk(zendesk_event("ticket.created", "501"))
    assert first.status == 200 and first.body["queued"] == 1 and p.links() == []
    p.drain()

    assert p.links() == [("10001", "501")]
    assert len(p.sandbox.calls_to("GET", "/api/v2/tickets/")) == 1


def test_a_late_retry_of_a_read_does_not_undo_a_change_made_after_the_read(jira_issues: Pipeline) -> None:
    """The soak's orphan: the read saw PROJ-1; its Jira lookup failed, so it waits on the queue with what
    it read. Then the agent cleared the field, and that change (stamped after the read, within the read's
    lead of a second) was applied. The retry must not bring PROJ-1 back: it reads the ticket again."""
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.sandbox.fail_next("503", path_prefix="/rest/api/3/search/jql")
    assert p.zendesk(zendesk_event("ticket.created", "501")).body["queued"] == 1
    p.sandbox.set_ticket_field(501, ZENDESK_ISSUE_FIELD, None)
    cleared = p.zendesk(_changed("501", None, seconds_from_now=0))
    assert cleared.status == 200 and "ignored" not in cleared.body

    p.drain()

    assert p.links() == []
    assert len(p.sandbox.calls_to("GET", "/api/v2/tickets/")) == 2  # the first read, and the retry's


def test_change_to_another_field_is_ignored(jira_issues: Pipeline) -> None:
    p = jira_issues
    reply = p.zendesk(zendesk_event("ticket.custom_field_changed", "501", field_id="999"))
    assert reply.status == 200
    assert "not ours" in reply.body["ignored"]
    assert p.sandbox.calls == []


@pytest.mark.parametrize("event_type", ["ticket.soft_deleted", "ticket.permanently_deleted", "ticket.merged"])
def test_ticket_gone_removes_every_link(jira_issues: Pipeline, event_type: str) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.zendesk(zendesk_event("ticket.created", "501"))
    p.sandbox.add_link(issue_id="10004", issue_key="PROJ-4", ticket_id="501")  # made in Zendesk's Jira app
    p.sandbox.add_link(issue_id="10004", issue_key="PROJ-4", ticket_id="777")  # another ticket's

    reply = p.zendesk(zendesk_event(event_type, "501"))

    assert reply.status == 200
    assert reply.body["deleted"] == 2
    assert p.links() == [("10004", "777")]
    # and a late "created" for the deleted ticket does nothing
    late = p.zendesk(zendesk_event("ticket.created", "501"))
    assert late.body["ignored"] == "ticket was deleted"
    assert p.links() == [("10004", "777")]


def test_trigger_webhook_makes_the_tickets_links_match_its_field(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(601, {ZENDESK_ISSUE_FIELD: "PROJ-1 PROJ-2"})
    first = p.zendesk(zendesk_trigger("601", "PROJ-1 PROJ-2"))
    p.sandbox.set_ticket_field(601, ZENDESK_ISSUE_FIELD, "PROJ-2")
    second = p.zendesk(zendesk_trigger("601", "PROJ-2"))

    assert (first.status, second.status) == (200, 200)
    assert (first.body["created"], second.body["deleted"]) == (2, 1)
    assert p.links() == [("10002", "601")]
    # the body names the ticket; its current value comes from the Tickets API
    assert len(p.sandbox.calls_to("GET", "/api/v2/tickets/601")) == 2


def test_replayed_event_id_does_no_new_work(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    body = zendesk_event("ticket.created", "501", event_id="evt-1")
    p.zendesk(body)
    calls = len(p.sandbox.calls)

    again = p.zendesk(body)

    assert again.status == 200
    assert len(p.sandbox.calls) == calls


def test_other_event_types_are_acknowledged(jira_issues: Pipeline) -> None:
    p = jira_issues
    for body in (
        zendesk_event("ticket.status_changed", "501"),
        {"type": "zen:event-type:user.created", "id": "x", "detail": {"id": "1"}},
    ):
        reply = p.zendesk(body)
        assert reply.status == 200
        assert reply.body["ignored"]
    assert p.sandbox.calls == []


def test_undeleted_ticket_gets_its_links_back(jira_issues: Pipeline) -> None:
    from local.payloads import jira_issue

    p = jira_issues
    p.sandbox.add_ticket(501, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.zendesk(zendesk_event("ticket.created", "501"))
    p.jira(jira_issue("jira:issue_created", "10002", "PROJ-2", tickets="501"))
    assert p.links() == [("10001", "501"), ("10002", "501")]

    p.zendesk(zendesk_event("ticket.soft_deleted", "501"))
    assert p.links() == []
    restored = p.zendesk(zendesk_event("ticket.undeleted", "501"))

    assert restored.status == 200
    assert restored.body["created"] == 2
    assert p.links() == [("10001", "501"), ("10002", "501")]


def test_a_queued_trigger_retry_reads_the_ticket_again(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(601, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.sandbox.fail_next("503", path_prefix="/rest/")
    first = p.zendesk(zendesk_trigger("601", "PROJ-1"))  # Jira is down: queued
    assert first.body["queued"] == 1
    p.sandbox.set_ticket_field(601, ZENDESK_ISSUE_FIELD, "")  # the field is emptied meanwhile
    p.zendesk(zendesk_trigger("601", ""))

    p.drain()

    assert p.links() == []


def test_trigger_bodies_with_an_id_are_not_deduplicated_on_it(jira_issues: Pipeline) -> None:
    p = jira_issues
    p.sandbox.add_ticket(601, {ZENDESK_ISSUE_FIELD: "PROJ-1"})
    p.zendesk({**zendesk_trigger("601", "PROJ-1"), "id": "601"})
    p.sandbox.set_ticket_field(601, ZENDESK_ISSUE_FIELD, "PROJ-2")
    p.zendesk({**zendesk_trigger("601", "PROJ-2"), "id": "601"})
    assert p.links() == [("10002", "601")]
