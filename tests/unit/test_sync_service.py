"""The sync service with in-memory vendor fakes; ledger and queue on moto (in-process)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from linksync import errors
from linksync.jira import JiraIssueRef
from linksync.ledger import JIRA_OWNER, ZENDESK_OWNER, Ledger
from linksync.retry_queue import Backoff, RetryQueue
from linksync.sync import SyncService
from linksync.zendesk import JiraLink, Ticket
from local.stack import LocalStack


class FakeZendesk:
    def __init__(self) -> None:
        self.links: dict[int, JiraLink] = {}
        self.calls: list[str] = []
        self.fail: list[errors.ApiError] = []
        self._ids = itertools.count(1)

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def create_link(self, *, issue_id: str, issue_key: str, ticket_id: str) -> JiraLink:
        self.calls.append(f"POST {issue_id}/{ticket_id}")
        self._maybe_fail()
        link = JiraLink(id=next(self._ids), issue_id=issue_id, issue_key=issue_key, ticket_id=ticket_id)
        self.links[link.id] = link
        return link

    def delete_link(self, link_id: int) -> None:
        self.calls.append(f"DELETE {link_id}")
        self._maybe_fail()
        if self.links.pop(link_id, None) is None:
            raise errors.ZendeskNotFoundError("gone", status=404)

    def show_link(self, link_id: int) -> JiraLink:
        self.calls.append(f"GET {link_id}")
        if link_id not in self.links:
            raise errors.ZendeskNotFoundError("gone", status=404)
        return self.links[link_id]

    def iter_links(self, *, ticket_id: str | None = None, page_size: int = 100) -> Iterator[JiraLink]:
        self.calls.append(f"LIST ticket={ticket_id}")
        return iter([x for x in self.links.values() if ticket_id is None or x.ticket_id == ticket_id])

    def iter_links_deprecated(
        self,
        *,
        ticket_id: str | None = None,
        issue_id: str | None = None,
        limit: int = 100,
        since_id: int | None = None,
    ) -> Iterator[JiraLink]:
        self.calls.append(f"LIST issue={issue_id}")
        return iter([x for x in self.links.values() if issue_id is None or x.issue_id == issue_id])

    def get_ticket(self, ticket_id: str) -> Ticket:
        raise NotImplementedError


class FakeJira:
    def resolve_issue_id(self, key: str) -> JiraIssueRef:
        return JiraIssueRef(id=key.split("-")[1], key=key)


@pytest.fixture
def service() -> Iterator[tuple[SyncService, FakeZendesk, LocalStack]]:
    with mock_aws():
        stack = LocalStack(None, {}, {"x": "y"}).create()
        svc = SyncService(
            zendesk=FakeZendesk(),
            jira=FakeJira(),
            ledger=Ledger(stack.physical["LinksTable"], client=stack.dynamodb),
            queue=RetryQueue(
                stack.physical["RetryQueue"],
                stack.physical["RetryDeadLetterQueue"],
                client=stack.sqs,
                backoff=Backoff(base_seconds=0, cap_seconds=0),
            ),
            zendesk_issue_field="360001",
        )
        assert isinstance(svc.zendesk, FakeZendesk)
        yield svc, svc.zendesk, stack


def _queued(stack: LocalStack) -> list[dict[str, Any]]:
    got = stack.sqs.receive_message(QueueUrl=stack.physical["RetryQueue"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_a_claimed_pair_is_not_called_twice(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    svc, zendesk, stack = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    assert svc.ledger.claim("1", "10", "other-delivery", lease_seconds=30, creating=True)

    outcome = svc.reconcile("1", "10")

    assert outcome.queued == 1
    assert zendesk.calls == []
    (message,) = _queued(stack)
    assert (message["op"], message["issue_id"], message["ticket_id"], message["attempt"]) == (
        "reconcile",
        "1",
        "10",
        0,
    )


def test_an_expired_claim_is_taken_over(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    svc, zendesk, _ = service
    svc.settle_seconds = 0  # the crashed holder's POST can no longer land
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    assert svc.ledger.claim("1", "10", "crashed-delivery", lease_seconds=-1, creating=True)

    outcome = svc.reconcile("1", "10")

    # The crashed holder may have POSTed: look first, then create.
    assert zendesk.calls == ["LIST ticket=10", "POST 1/10"]
    assert outcome.created == 1


def test_low_time_left_defers_to_the_queue(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    svc, zendesk, stack = service
    svc.time_left = lambda: 0.5
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)

    outcome = svc.reconcile_all([("1", "10")])

    assert outcome.queued == 1
    assert zendesk.calls == []
    assert [m["op"] for m in _queued(stack)] == ["reconcile"]


def test_a_link_both_fields_want_survives_one_field_dropping_it(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.ledger.add_owner("1", "10", "A-1", ZENDESK_OWNER)
    svc.reconcile("1", "10")
    svc.ledger.remove_owners("1", "10", [JIRA_OWNER])

    assert svc.reconcile("1", "10").unchanged == 1
    assert len(zendesk.links) == 1
    svc.ledger.remove_owners("1", "10", [ZENDESK_OWNER])
    assert svc.reconcile("1", "10").deleted == 1
    assert zendesk.links == {}


def test_a_duplicate_refusal_adopts_the_existing_link(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    agent_link = zendesk.create_link(issue_id="1", issue_key="A-1", ticket_id="10")
    zendesk.calls.clear()
    zendesk.fail.append(errors.ZendeskValidationError("already linked", status=422))
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)

    outcome = svc.reconcile("1", "10")

    assert outcome.adopted == 1
    assert svc.ledger.pair_state("1", "10").record.link_id == agent_link.id  # type: ignore[union-attr]
    assert len(zendesk.links) == 1


def test_a_delete_answered_404_is_done(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    svc, zendesk, stack = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.reconcile("1", "10")
    zendesk.links.clear()  # someone removed it in Zendesk already
    svc.ledger.remove_owners("1", "10", None)

    outcome = svc.reconcile("1", "10")

    assert outcome.queued == outcome.dead_lettered == 0
    assert svc.ledger.pair_state("1", "10").record.state == "unlinked"  # type: ignore[union-attr]
    assert _queued(stack) == []


def test_rate_limit_retry_after_sets_the_delay(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    svc, zendesk, stack = service
    svc.queue.backoff = Backoff(base_seconds=0, cap_seconds=900)
    zendesk.fail.append(errors.ZendeskRateLimitedError("slow down", status=429, retry_after=7))
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)

    svc.reconcile("1", "10")

    assert _queued(stack) == []  # delayed by Retry-After, not visible yet
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=stack.physical["RetryQueue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_delivery_that_read_before_another_finished_does_not_post_again(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    stale = svc.ledger.pair_state("1", "10")  # delivery B reads: desired, no link, nothing tried
    assert svc.reconcile("1", "10").created == 1  # delivery A does the whole job meanwhile
    real = svc.ledger.pair_state
    reads = iter([stale])
    svc.ledger.pair_state = lambda i, t: next(reads, None) or real(i, t)  # type: ignore[method-assign]

    outcome = svc.reconcile("1", "10")  # B carries on from its stale read

    assert outcome.created == 0
    assert [c for c in zendesk.calls if c.startswith("POST")] == ["POST 1/10"]
    assert len(zendesk.links) == 1


def test_a_stale_delete_does_not_orphan_a_newer_link(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.reconcile("1", "10")
    svc.ledger.remove_owners("1", "10", None)
    stale = svc.ledger.pair_state("1", "10")  # B reads: not desired, link 1
    svc.reconcile("1", "10")  # A deletes link 1
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.reconcile("1", "10")  # and creates link 2
    real = svc.ledger.pair_state
    reads = iter([stale])
    svc.ledger.pair_state = lambda i, t: next(reads, None) or real(i, t)  # type: ignore[method-assign]

    svc.reconcile("1", "10")

    (link,) = zendesk.links.values()
    assert svc.ledger.pair_state("1", "10").record.link_id == link.id  # type: ignore[union-attr]


def test_removing_no_owners_removes_nothing(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    svc, _, _ = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.ledger.remove_owners("1", "10", [])
    assert svc.ledger.pair_state("1", "10").record.owners == {JIRA_OWNER}  # type: ignore[union-attr]


def test_zendesk_field_removal_does_not_depend_on_the_lagging_index(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc._set_field_claims("ticket", "10", {"1": "A-1"}, 1)
    svc.reconcile("1", "10")
    svc.ledger.links_for_ticket = lambda ticket_id: []  # type: ignore[method-assign]  # the index has not caught up

    pairs = svc._set_field_claims("ticket", "10", {}, 2)
    svc.reconcile_all(pairs)

    assert zendesk.links == {}


def test_the_zendesk_budget_queues_work_beyond_it(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    from linksync.budget import ZendeskBudget

    svc, zendesk, stack = service
    now = [600.0]  # the start of a minute
    svc.budget = ZendeskBudget(stack.physical["LinksTable"], 2, client=stack.dynamodb, clock=lambda: now[0])
    for ticket in ("10", "11", "12"):
        svc.ledger.add_owner("1", ticket, "A-1", JIRA_OWNER)

    outcome = svc.reconcile_all([("1", "10"), ("1", "11"), ("1", "12")])

    assert (outcome.created, outcome.queued) == (2, 1)
    assert len(zendesk.calls) == 2
    (queued,) = _queued(stack)
    assert (queued["op"], queued["ticket_id"], queued["attempt"]) == ("reconcile", "12", 0)  # no attempt used
    now[0] = 661.0
    assert svc.reconcile("1", "12").created == 1


def test_a_zero_budget_means_no_limit(service: tuple[SyncService, FakeZendesk, LocalStack]) -> None:
    from linksync.budget import ZendeskBudget

    _, _, stack = service
    budget = ZendeskBudget(stack.physical["LinksTable"], 0, client=stack.dynamodb)
    assert all(budget.take() is None for _ in range(1000))


def test_a_create_that_may_still_land_is_not_posted_again(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, stack = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    zendesk.fail.append(errors.ZendeskUnavailableError("timed out"))  # the POST times out...
    assert svc.reconcile("1", "10").queued == 1
    _queued(stack)

    again = svc.reconcile("1", "10")  # ...and is looked for before it could have landed

    assert again.queued == 1
    assert [c for c in zendesk.calls if c.startswith("POST")] == ["POST 1/10"]
    assert svc.ledger.pair_state("1", "10").record.create_attempted  # type: ignore[union-attr]
    # once it has had time to land (it did not), the next try POSTs
    svc.settle_seconds = 0
    assert svc.reconcile("1", "10").created == 1


def test_repeated_links_are_cleaned_up_when_adopting(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc.settle_seconds = 0
    first = zendesk.create_link(issue_id="1", issue_key="A-1", ticket_id="10")
    zendesk.create_link(issue_id="1", issue_key="A-1", ticket_id="10")  # a Zendesk that accepted a repeat
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.ledger.claim("1", "10", "lost", lease_seconds=-1, creating=True)

    outcome = svc.reconcile("1", "10")

    assert (outcome.adopted, outcome.deleted) == (1, 1)
    assert list(zendesk.links) == [first.id]


def test_a_delete_whose_answer_was_lost_is_checked_before_the_link_is_trusted_again(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)
    svc.reconcile("1", "10")
    (link_id,) = zendesk.links
    svc.ledger.remove_owners("1", "10", [JIRA_OWNER])
    zendesk.links.clear()  # the DELETE is applied...
    zendesk.fail.append(errors.ZendeskUnavailableError("connection dropped"))  # ...but its answer is lost
    assert svc.reconcile("1", "10").queued == 1
    svc.ledger.add_owner("1", "10", "A-1", JIRA_OWNER)  # and the field wants the link again

    outcome = svc.reconcile("1", "10")

    assert outcome.created == 1
    assert f"GET {link_id}" in zendesk.calls
    (new_id,) = zendesk.links
    assert svc.ledger.pair_state("1", "10").record.link_id == new_id  # type: ignore[union-attr]


def test_a_redelivered_event_finishes_what_an_earlier_try_left(
    service: tuple[SyncService, FakeZendesk, LocalStack],
) -> None:
    svc, zendesk, _ = service
    svc._set_field_claims("issue", "1", {"10": "A-1"}, 1)
    svc.reconcile("1", "10")
    # v2 drops ticket 10: its claim is removed, then the try dies before reconciling (a failed hand-off)
    assert svc._set_field_claims("issue", "1", {}, 2) == [("1", "10")]
    assert len(zendesk.links) == 1

    pairs = svc._set_field_claims("issue", "1", {}, 2)  # the sender delivers v2 again
    svc.reconcile_all(pairs or [])

    assert zendesk.links == {}
