"""Applying a field's value (:class:`linksync.claims.FieldClaims`): what it costs in DynamoDB requests, and
how replays, older events, half-finished deliveries and deleted entities are told apart in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from linksync.budget import CallBudget
from linksync.handoff import Turns
from linksync.ledger import JIRA_OWNER
from linksync.operations import Outcome, Task
from linksync.timing import Deadline
from tests.unit.pair_world import World

NOW = Deadline.unlimited


def apply(world: World, kind: str, entity: str, wanted: dict[str, str], version: int) -> Outcome:
    return world.sync.claims.apply(kind, entity, wanted, version, NOW())  # type: ignore[arg-type]


@contextmanager
def dynamodb_requests(world: World) -> Iterator[list[str]]:
    """The DynamoDB operations the code under test sends, in order."""
    seen: list[str] = []

    def note(model: Any, **_: Any) -> None:
        seen.append(model.name)

    events = world.stack.dynamodb.meta.events
    events.register("before-call.dynamodb", note)
    try:
        yield seen
    finally:
        events.unregister("before-call.dynamodb", note)


def with_budget(world: World, per_minute: int = 600) -> CallBudget:
    clock = lambda: world.clock[0]  # noqa: E731
    table = world.stack.physical["LinksTable"]
    budget = CallBudget(table, per_minute, client=world.stack.dynamodb, clock=clock)
    world.pairs.turns = Turns(budget, clock)
    return budget


def test_a_jira_field_naming_a_new_ticket_costs_four_requests(world: World) -> None:
    with_budget(world)
    with dynamodb_requests(world) as sent:
        outcome = apply(world, "issue", "1", {"10": "A-1"}, 100)

    assert outcome.created == 1
    assert len(world.zendesk.links) == 1
    # The field's version begun; a turn of the budget; record, owner, claim and the call on record; the
    # link's id given back with the version's "finished" mark.
    assert sent == ["UpdateItem", "UpdateItem", "TransactWriteItems", "TransactWriteItems"]
    assert world.record().link_id is not None and world.record().owners == {JIRA_OWNER}


def test_a_replay_of_a_finished_version_costs_one_request_and_does_nothing(world: World) -> None:
    apply(world, "issue", "1", {"10": "A-1"}, 100)
    calls = list(world.zendesk.calls)

    with dynamodb_requests(world) as sent:
        outcome = apply(world, "issue", "1", {"10": "A-1"}, 100)

    assert outcome.ignored == "this event was already applied"
    assert sent == ["UpdateItem"] and world.zendesk.calls == calls


def test_an_older_version_is_refused_as_such(world: World) -> None:
    apply(world, "issue", "1", {"10": "A-1"}, 100)
    outcome = apply(world, "issue", "1", {}, 99)
    assert outcome.ignored == "a newer event for this issue was already applied"
    assert len(world.zendesk.links) == 1


def test_a_redelivered_version_finishes_what_an_earlier_try_left(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(world, "issue", "1", {"10": "A-1"}, 1)

    def die(*_: Any, **__: Any) -> Outcome:
        raise RuntimeError("the process died")

    # v2 drops ticket 10: its claim is released, then the try dies before the pair is reconciled.
    with monkeypatch.context() as patch:
        patch.setattr(world.pairs, "reconcile_all", die)
        with pytest.raises(RuntimeError):
            apply(world, "issue", "1", {}, 2)
    assert len(world.zendesk.links) == 1

    assert apply(world, "issue", "1", {}, 2).deleted == 1  # the sender delivers v2 again
    assert world.zendesk.links == {}
    assert apply(world, "issue", "1", {}, 2).ignored == "this event was already applied"


def test_a_newer_version_after_an_unfinished_one_finishes_its_pairs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1 wants ticket 10 and dies before creating the link; v2 still wants it. v2 alone does not add the
    pair (v1's value already had it), so it must read the ledger for what v1 left."""

    def die(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the process died")

    with monkeypatch.context() as patch:
        patch.setattr(world.pairs, "create_new", die)
        with pytest.raises(RuntimeError):
            apply(world, "issue", "1", {"10": "A-1"}, 1)
    assert world.zendesk.links == {}

    outcome = apply(world, "issue", "1", {"10": "A-1", "11": "A-1"}, 2)

    assert outcome.created == 2
    assert {link.ticket_id for link in world.zendesk.links.values()} == {"10", "11"}


def test_a_pair_with_a_record_already_takes_the_usual_path_on_the_same_turn(world: World) -> None:
    budget = with_budget(world, per_minute=6)  # a turn every 10 s; the burst is 10 s: one turn at once
    world.want("1", "10", owner="zendesk", version=1)  # the Zendesk field wanted it first

    outcome = apply(world, "issue", "1", {"10": "A-1"}, 100)

    assert outcome.created == 1  # not queued for a second turn
    assert world.record().owners == {"zendesk", JIRA_OWNER}
    assert budget.backlog() < 1.5 * budget.interval  # one turn taken, not two


def test_a_new_pair_with_a_deleted_ticket_gets_no_link_but_keeps_its_owner(world: World) -> None:
    world.sync.entities.put_tombstone("ticket", "10")

    outcome = apply(world, "issue", "1", {"10": "A-1"}, 100)

    assert outcome.unchanged == 1 and world.zendesk.calls == []
    assert world.record().owners == {JIRA_OWNER}  # the link comes back if the ticket is restored


def test_a_deleted_issue_refuses_its_field(world: World) -> None:
    world.sync.entities.put_tombstone("issue", "1")
    outcome = apply(world, "issue", "1", {"10": "A-1"}, 100)
    assert outcome.ignored == "issue was deleted" and world.zendesk.calls == []


def test_a_new_pair_waiting_for_the_budget_holds_its_turn_and_finishes_the_version(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = with_budget(world, per_minute=1)
    budget.take()
    budget.take()  # the burst is spent: the next turn is a minute or more away
    deferred: list[Task[Any]] = []

    def defer(task: Task[Any], *, delay: float = 0) -> int:
        deferred.append(task)
        return 1

    monkeypatch.setattr(world.pairs.handoff.queue, "defer", defer)

    outcome = apply(world, "issue", "1", {"10": "A-1"}, 100)

    assert outcome.queued == 1 and world.zendesk.calls == []
    assert world.record().owners == {JIRA_OWNER}
    assert apply(world, "issue", "1", {"10": "A-1"}, 100).ignored == "this event was already applied"
    (task,) = deferred
    assert task.reserved_at is not None and task.reserved_at > world.clock[0] + 30
    world.later(task.reserved_at - world.clock[0])
    assert world.pairs.reconcile(task).created == 1  # its turn came: it calls without asking again


def test_the_finished_mark_is_not_written_over_a_newer_version(world: World) -> None:
    """v1's last write carries its "finished" mark; if v2 began meanwhile, the pair's write still lands and
    v2 stays unfinished (a redelivery of v2 is not refused)."""
    entities = world.sync.entities
    begin = entities.begin_field

    def v2_begins_meanwhile(kind: Any, entity_id: str, listed: set[str], version: int, **kw: Any) -> Any:
        swap = begin(kind, entity_id, listed, version, **kw)
        if version == 1:
            begin(kind, entity_id, set(listed), 2)
        return swap

    entities.begin_field = v2_begins_meanwhile  # type: ignore[method-assign]
    assert apply(world, "issue", "1", {"10": "A-1"}, 1).created == 1
    entities.begin_field = begin  # type: ignore[method-assign]

    assert world.record().link_id is not None and world.record().claim_expires == 0
    assert apply(world, "issue", "1", {"10": "A-1"}, 2).ignored is None


class _UnknownKeys:
    """A Jira whose keys this container has never looked up: every field needs a search."""

    def __init__(self) -> None:
        self.searches: list[list[str]] = []
        self.seen: set[str] = set()

    def known(self, key: str) -> bool:
        return key in self.seen

    def resolve_keys(self, keys: Any) -> None:
        self.searches.append(list(keys))

    def resolve_issue_id(self, key: str) -> Any:
        from linksync.jira import JiraIssueRef

        return JiraIssueRef(id=key.split("-")[1], key=key)


def test_a_sync_deferred_for_the_jira_budget_comes_back_on_the_turn_it_was_given(world: World) -> None:
    """It holds its Jira turn on the queue and uses it: coming back, it does not take (and waste) another,
    which under a steady overload would push every turn on and let them all pass unused."""
    from linksync.operations import SyncTicket

    clock = lambda: world.clock[0]  # noqa: E731
    jira_budget = CallBudget(
        world.stack.physical["LinksTable"], 1, name="jira", client=world.stack.dynamodb, clock=clock
    )
    world.sync.jira_turns = Turns(jira_budget, clock)
    jira = _UnknownKeys()
    world.sync.jira = jira
    jira_budget.take()  # someone else's search: the next turn is a minute away, less the burst
    deferred: list[Task[Any]] = []
    queue_defer = world.sync.handoff.queue.defer

    def defer(task: Task[Any], **kw: Any) -> int:
        deferred.append(task)
        return queue_defer(task, **kw)

    world.sync.handoff.queue.defer = defer  # type: ignore[method-assign]
    task = Task(SyncTicket("10", "A-1", 1_000))

    first = world.sync.sync_ticket(task, Deadline.unlimited())

    assert first.queued == 1 and jira.searches == []
    (held,) = deferred
    assert held.reserved_at == pytest.approx(world.clock[0] + 50, abs=1)
    tat = world.stack.dynamodb.get_item(
        TableName=world.stack.physical["LinksTable"], Key={"pk": {"S": "BUDGET#jira"}, "sk": {"S": "GCRA"}}
    )["Item"]["tat"]["N"]
    world.later(50)

    again = world.sync.sync_ticket(held, Deadline.unlimited())

    assert again.created == 1 and jira.searches == [["A-1"]]
    after = world.stack.dynamodb.get_item(
        TableName=world.stack.physical["LinksTable"], Key={"pk": {"S": "BUDGET#jira"}, "sk": {"S": "GCRA"}}
    )["Item"]["tat"]["N"]
    assert after == tat  # no second turn taken
