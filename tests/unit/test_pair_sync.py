"""Bringing pairs to what is wanted, with an in-memory Zendesk; the ledger and queue on moto (in-process).

Each test sets up a ledger state, runs the executor, and checks the calls Zendesk saw, the links it holds,
the ledger, and the retry queue. Time is a clock the test moves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from linksync import errors
from linksync.budget import CallBudget
from linksync.decision import InFlight
from linksync.handoff import Turns
from linksync.ledger import JIRA_OWNER, ZENDESK_OWNER
from linksync.operations import ReconcilePair, Task
from linksync.retry_queue import Backoff
from linksync.timing import Deadline
from linksync.zendesk import JiraLink
from tests.unit.pair_world import TIMEOUTS, ProcessKilled, World

# --------------------------------------------------------------------------- the bug this shape prevents


def test_a_delete_cut_off_by_a_kill_is_looked_up_before_the_link_is_trusted(world: World) -> None:
    """Issue 9: the DELETE lands, the process dies before the ledger hears of it, then the field wants the
    link again. The ledger must not trust its old link id: the next decision looks, and creates."""
    world.want("1", "10")
    assert world.reconcile().created == 1
    (old_id,) = world.zendesk.links
    world.unwant("1", "10")
    world.zendesk.die_after.add("DELETE")
    with pytest.raises(ProcessKilled):
        world.reconcile()  # the DELETE is applied, then the process is gone: no ledger write after it
    assert world.zendesk.links == {}
    assert world.record().link_id == old_id  # what the ledger still says...
    assert world.record().in_flight == InFlight("delete", pytest.approx(world.clock[0]), (old_id,))  # type: ignore[arg-type]

    world.want("1", "10", version=3)  # ...when a newer event wants the pair again
    assert world.reconcile().queued == 1  # the dead process's claim is live, or its DELETE may still land
    assert not any(c.startswith(("POST", "GET")) for c in world.zendesk.calls[2:])
    world.later(TIMEOUTS.claim_lease + 1)
    outcome = world.reconcile()

    assert outcome.created == 1
    assert f"GET {old_id}" in world.zendesk.calls  # looked before trusting the record
    (new_id,) = world.zendesk.links
    assert world.record().link_id == new_id and world.record().in_flight is None


def test_a_create_cut_off_by_a_kill_is_adopted_not_posted_again(world: World) -> None:
    world.want("1", "10")
    world.zendesk.die_after.add("POST")
    with pytest.raises(ProcessKilled):
        world.reconcile()
    world.later(TIMEOUTS.claim_lease + 1)

    outcome = world.reconcile()

    assert outcome.adopted == 1
    assert [c for c in world.zendesk.calls if c.startswith("POST")] == ["POST 1/10"]
    assert world.record().link_id == next(iter(world.zendesk.links))


# --------------------------------------------------------------------------- claims and contention


def test_a_held_pair_is_not_called_twice(world: World) -> None:
    world.want("1", "10")
    state = world.ledger.pair_state("1", "10")
    assert world.ledger.claim(
        state, "other-worker", lease_seconds=30, in_flight=InFlight("create", time.time())
    )

    outcome = world.reconcile()

    assert outcome.queued == 1
    assert world.zendesk.calls == []
    (message,) = world.queued()
    assert (message["op"], message["issue_id"], message["ticket_id"], message["attempt"]) == (
        "reconcile",
        "1",
        "10",
        0,
    )


def test_an_expired_claim_is_taken_over_and_its_create_looked_for(world: World) -> None:
    world.want("1", "10")
    state = world.ledger.pair_state("1", "10")
    world.ledger.claim(
        state, "crashed-worker", lease_seconds=-1, in_flight=InFlight("create", world.clock[0])
    )
    world.later(TIMEOUTS.settle)  # the crashed worker's POST can no longer land

    outcome = world.reconcile()

    assert world.zendesk.calls == ["LIST ticket=10", "POST 1/10"]
    assert outcome.created == 1


def test_a_claim_on_a_record_that_changed_since_the_read_is_refused(world: World) -> None:
    world.want("1", "10")
    stale = world.ledger.pair_state("1", "10")
    world.unwant("1", "10")  # the record moves on

    assert not world.ledger.claim(stale, "late", lease_seconds=30, in_flight=InFlight("create", time.time()))
    assert world.record().in_flight is None


def test_a_worker_that_read_before_another_finished_does_not_post_again(world: World) -> None:
    world.want("1", "10")
    stale = world.ledger.pair_state("1", "10")  # worker B reads: wanted, no link
    assert world.reconcile().created == 1  # worker A does the whole job meanwhile
    real = world.ledger.pair_state
    reads = iter([stale])
    world.ledger.pair_state = lambda issue_id, ticket_id: next(reads, None) or real(issue_id, ticket_id)  # type: ignore[method-assign]

    outcome = world.reconcile()  # B carries on from its stale read

    assert outcome.created == 0
    assert [c for c in world.zendesk.calls if c.startswith("POST")] == ["POST 1/10"]


def test_a_stale_delete_does_not_orphan_a_newer_link(world: World) -> None:
    world.want("1", "10")
    world.reconcile()
    world.unwant("1", "10")
    stale = world.ledger.pair_state("1", "10")  # B reads: not wanted, link 1
    world.reconcile()  # A deletes link 1
    world.want("1", "10", version=3)
    world.reconcile()  # and creates link 2
    real = world.ledger.pair_state
    reads = iter([stale])
    world.ledger.pair_state = lambda issue_id, ticket_id: next(reads, None) or real(issue_id, ticket_id)  # type: ignore[method-assign]

    world.reconcile()

    (link,) = world.zendesk.links.values()
    assert world.record().link_id == link.id


def test_low_time_left_defers_to_the_queue(world: World) -> None:
    world.want("1", "10")

    outcome = world.pairs.reconcile_all([("1", "10")], Deadline(lambda: 0.5))

    assert outcome.queued == 1
    assert world.zendesk.calls == []
    assert [m["op"] for m in world.queued()] == ["reconcile"]


# --------------------------------------------------------------------------- owners


def test_a_link_both_fields_want_survives_one_field_dropping_it(world: World) -> None:
    world.want("1", "10", JIRA_OWNER)
    world.want("1", "10", ZENDESK_OWNER)
    world.reconcile()
    world.unwant("1", "10", JIRA_OWNER)

    assert world.reconcile().unchanged == 1
    assert len(world.zendesk.links) == 1
    world.unwant("1", "10", ZENDESK_OWNER)
    assert world.reconcile().deleted == 1
    assert world.zendesk.links == {}


def test_an_older_claim_does_not_undo_a_newer_one(world: World) -> None:
    world.want("1", "10", version=5)
    assert not world.ledger.set_owner("1", "10", JIRA_OWNER, wanted=False, version=4)
    assert world.record().owners == {JIRA_OWNER}


# --------------------------------------------------------------------------- Zendesk's answers


def test_a_duplicate_refusal_adopts_the_existing_link(world: World) -> None:
    agent_link = world.zendesk.create_link(issue_id="1", issue_key="A-1", ticket_id="10")
    world.zendesk.calls.clear()
    world.zendesk.fail.append(errors.ZendeskValidationError("already linked", status=422))
    world.want("1", "10")

    outcome = world.reconcile()

    assert outcome.adopted == 1
    assert world.record().link_id == agent_link.id
    assert len(world.zendesk.links) == 1


def test_a_delete_answered_404_is_done(world: World) -> None:
    world.want("1", "10")
    world.reconcile()
    world.zendesk.links.clear()  # someone removed it in Zendesk already
    world.unwant("1", "10")

    outcome = world.reconcile()

    assert outcome.queued == outcome.dead_lettered == 0
    assert world.record().state == "unlinked"
    assert world.queued() == []


def test_rate_limit_retry_after_sets_the_delay(world: World) -> None:
    world.pairs.handoff.queue.backoff = Backoff(base_seconds=0, cap_seconds=900)
    world.zendesk.fail.append(errors.ZendeskRateLimitedError("slow down", status=429, retry_after=7))
    world.want("1", "10")

    world.reconcile()

    assert world.queued() == []  # delayed by Retry-After, not visible yet
    attrs = world.stack.sqs.get_queue_attributes(
        QueueUrl=world.stack.physical["RetryQueue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert world.record().in_flight is None  # refused with an answer: nothing to look for later


def test_a_create_that_may_still_land_is_waited_for_then_looked_for(world: World) -> None:
    world.want("1", "10")
    world.zendesk.fail.append(errors.ZendeskUnavailableError("timed out"))  # the POST gets no answer...
    assert world.reconcile().queued == 1
    world.queued()

    again = world.reconcile()  # ...and is not looked for, nor posted again, before it could have landed

    assert again.queued == 1
    assert world.zendesk.calls == ["POST 1/10"]
    assert world.record().in_flight is not None
    world.later(TIMEOUTS.settle)  # once it has had time to land (it did not), the next try looks and POSTs
    assert world.reconcile().created == 1
    assert world.zendesk.calls == ["POST 1/10", "LIST ticket=10", "POST 1/10"]


def test_a_create_answered_500_is_looked_for_at_once(world: World) -> None:
    world.want("1", "10")
    world.zendesk.fail.append(errors.ZendeskUnavailableError("boom", status=500))
    world.reconcile()

    assert world.reconcile().created == 1  # no waiting: the answer says the request is over
    assert world.zendesk.calls == ["POST 1/10", "LIST ticket=10", "POST 1/10"]


def test_repeated_links_are_cleaned_up_when_adopting(world: World) -> None:
    first = world.zendesk.create_link(issue_id="1", issue_key="A-1", ticket_id="10")
    world.zendesk.create_link(
        issue_id="1", issue_key="A-1", ticket_id="10"
    )  # a Zendesk that accepted a repeat
    world.want("1", "10")
    state = world.ledger.pair_state("1", "10")
    world.ledger.claim(state, "lost", lease_seconds=-1, in_flight=InFlight("create", world.clock[0] - 60))

    outcome = world.reconcile()

    assert (outcome.adopted, outcome.deleted) == (1, 1)
    assert list(world.zendesk.links) == [first.id]
    assert world.record().in_flight is None


def _lose_a_delete(world: World) -> int:
    """A linked pair nobody wants any more: its DELETE is applied, its answer lost. The link's id."""
    world.want("1", "10")
    world.reconcile()
    (link_id,) = world.zendesk.links
    world.unwant("1", "10")
    world.zendesk.links.clear()  # the DELETE is applied...
    world.zendesk.fail.append(errors.ZendeskUnavailableError("connection dropped"))  # ...its answer lost
    assert world.reconcile().queued == 1
    return link_id


def test_a_delete_whose_answer_was_lost_is_checked_before_the_link_is_trusted_again(world: World) -> None:
    link_id = _lose_a_delete(world)
    world.want("1", "10", version=3)  # and the field wants the link again
    world.later(TIMEOUTS.settle)

    outcome = world.reconcile()

    assert outcome.created == 1
    assert f"GET {link_id}" in world.zendesk.calls
    (new_id,) = world.zendesk.links
    assert world.record().link_id == new_id


def test_a_delete_whose_answer_was_lost_is_sent_again_while_nobody_wants_the_link(world: World) -> None:
    link_id = _lose_a_delete(world)

    outcome = world.reconcile()  # at once: a repeated DELETE cannot do harm

    assert outcome.unchanged == 1 and outcome.deleted == 0  # the 404 says the first one landed
    assert world.zendesk.calls[-2:] == [f"DELETE {link_id}", f"DELETE {link_id}"]  # no look between
    assert world.record().link_id is None and world.record().in_flight is None


def test_a_failed_look_leaves_the_call_on_record(world: World) -> None:
    world.want("1", "10")
    world.zendesk.fail.append(errors.ZendeskUnavailableError("boom", status=500))
    world.reconcile()  # POST answered 500: look next time
    world.zendesk.fail.append(errors.ZendeskUnavailableError("timed out"))
    real_iter = world.zendesk.iter_links

    def failing_list(**kw: Any) -> Iterator[JiraLink]:
        world.zendesk._maybe_fail()
        return real_iter(**kw)

    world.zendesk.iter_links = failing_list  # type: ignore[method-assign]
    world.reconcile()  # the look itself fails

    assert world.record().in_flight == InFlight("create", None)


# --------------------------------------------------------------------------- the budget


def test_work_beyond_the_budget_waits_its_reserved_turn(world: World) -> None:
    """6 calls a minute: a burst of ten seconds' worth goes at once; the rest reserve their turns, ten
    seconds apart, and when their task comes back it calls without asking the budget again."""
    now = [1000.0]
    table = world.stack.physical["LinksTable"]
    budget = CallBudget(table, 6, client=world.stack.dynamodb, clock=lambda: now[0])
    world.pairs.turns = Turns(budget, clock=lambda: now[0])
    tickets = [str(10 + i) for i in range(6)]
    for ticket in tickets:
        world.want("1", ticket)
    deferred: list[tuple[Task[Any], float]] = []
    queue = world.pairs.handoff.queue
    real_defer = queue.defer

    def recording_defer(task: Task[Any], *, delay: float = 0) -> int:
        deferred.append((task, delay))
        return real_defer(task, delay=delay)

    queue.defer = recording_defer  # type: ignore[method-assign]

    outcome = world.pairs.reconcile_all([("1", t) for t in tickets], Deadline.unlimited())

    assert (outcome.created, outcome.queued) == (2, 4)
    assert [round(delay) for _, delay in deferred] == [10, 20, 30, 40]  # spread out, not parked together
    assert [task.reserved_at for task, _ in deferred] == [1010.0, 1020.0, 1030.0, 1040.0]
    assert all(task.attempts == 0 for task, _ in deferred)
    taken = budget.backlog()
    now[0] = 1040.0
    for task, _ in deferred:
        assert world.pairs.reconcile(task).created == 1  # their turns came: no new reservation
    assert budget.backlog() == pytest.approx(taken - 40.0)


def test_a_zero_budget_means_no_limit(world: World) -> None:
    budget = CallBudget(world.stack.physical["LinksTable"], 0, client=world.stack.dynamodb)
    assert all(budget.take() == 0 for _ in range(1000))


def test_the_budget_gives_out_its_rate_and_no_more(world: World) -> None:
    """120 calls at once under 60 a minute: the last one's turn is two minutes out (less the burst)."""
    now = [5000.0]
    budget = CallBudget(
        world.stack.physical["LinksTable"], 60, client=world.stack.dynamodb, clock=lambda: now[0]
    )
    waits = [budget.take() for _ in range(120)]
    assert waits[:11] == [0.0] * 11  # a burst of ten seconds' worth
    assert waits[-1] == pytest.approx(119 - 10.0)
    now[0] = 6000.0  # idle long enough: it starts afresh
    assert budget.take() == 0.0 and budget.backlog() == pytest.approx(1.0)


def test_settled_pairs_spend_no_budget(world: World) -> None:
    budget = CallBudget(world.stack.physical["LinksTable"], 1, client=world.stack.dynamodb)
    world.pairs.turns = Turns(budget)
    world.want("1", "10")
    world.reconcile()
    before = budget.backlog()
    assert world.reconcile().unchanged == 1  # no Zendesk call needed: the budget is not asked
    assert budget.backlog() <= before


# --------------------------------------------------------------------------- what events want


def test_zendesk_field_removal_does_not_depend_on_the_lagging_index(world: World) -> None:
    world.sync.claims.apply("ticket", "10", {"1": "A-1"}, 1, Deadline.unlimited())
    assert len(world.zendesk.links) == 1
    world.ledger.links_for_ticket = lambda ticket_id: []  # type: ignore[method-assign]  # the index lags

    world.sync.claims.apply("ticket", "10", {}, 2, Deadline.unlimited())

    assert world.zendesk.links == {}


# --------------------------------------------------------------------------- a job's listing as evidence


def test_a_link_listed_before_our_own_delete_is_not_adopted(world: World) -> None:
    """A job listed the pair's link; then a webhook deleted it (the field let go) and the field wanted the
    pair again before the job reached it. The old listing must not stand in for a look: the pair is looked
    at and linked anew."""
    world.want("1", "10")
    world.reconcile()
    (listed,) = world.zendesk.links  # what the job's listing saw
    world.unwant("1", "10")
    assert world.reconcile().deleted == 1
    world.want("1", "10", version=3)

    outcome = world.pairs.reconcile(Task(ReconcilePair("1", "10", verify=True)), seen=(listed,))

    assert outcome.created == 1
    assert "LIST ticket=10" in world.zendesk.calls
    (new_id,) = world.zendesk.links
    assert new_id != listed and world.record().link_id == new_id


def test_a_link_listed_for_a_pair_the_ledger_never_touched_is_adopted_without_a_look(world: World) -> None:
    made_by_hand = world.zendesk.create_link(issue_id="1", issue_key="A-1", ticket_id="10")
    world.want("1", "10")
    world.zendesk.calls.clear()

    outcome = world.pairs.reconcile(Task(ReconcilePair("1", "10", verify=True)), seen=(made_by_hand.id,))

    assert outcome.adopted == 1
    assert world.zendesk.calls == []
    assert world.record().link_id == made_by_hand.id
