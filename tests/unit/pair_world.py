"""A world for pair and field tests: an in-memory Zendesk, and the ledger and retry queue on moto
(in-process), with a clock the test moves."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto import mock_aws

from linksync import errors
from linksync.desired import LinkSync
from linksync.entities import Entities
from linksync.handoff import Handoff
from linksync.jira import JiraIssueRef
from linksync.ledger import JIRA_OWNER, Ledger, LinkRecord
from linksync.operations import ReconcilePair, Task
from linksync.pair_sync import PairSync
from linksync.retry_queue import Backoff, RetryQueue
from linksync.timing import Timeouts
from linksync.zendesk import JiraLink, Ticket
from local.stack import LocalStack

TIMEOUTS = Timeouts(contention_retry=0)  # a held pair comes back at once, so a test can read it


class ProcessKilled(BaseException):
    """Lambda ends the process (a timeout, out of memory): no except clause, no finally that writes, runs."""


class FakeZendesk:
    def __init__(self) -> None:
        self.links: dict[int, JiraLink] = {}
        self.calls: list[str] = []
        self.fail: list[BaseException] = []
        self.die_after: set[str] = set()  # "POST", "DELETE": apply the call, then the process dies
        self._ids = itertools.count(1)

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def _maybe_die(self, method: str) -> None:
        if method in self.die_after:
            self.die_after.discard(method)
            raise ProcessKilled(method)

    def create_link(self, *, issue_id: str, issue_key: str, ticket_id: str) -> JiraLink:
        self.calls.append(f"POST {issue_id}/{ticket_id}")
        self._maybe_fail()
        link = JiraLink(id=next(self._ids), issue_id=issue_id, issue_key=issue_key, ticket_id=ticket_id)
        self.links[link.id] = link
        self._maybe_die("POST")
        return link

    def delete_link(self, link_id: int) -> None:
        self.calls.append(f"DELETE {link_id}")
        self._maybe_fail()
        if self.links.pop(link_id, None) is None:
            raise errors.ZendeskNotFoundError("gone", status=404)
        self._maybe_die("DELETE")

    def show_link(self, link_id: int) -> JiraLink:
        self.calls.append(f"GET {link_id}")
        if link_id not in self.links:
            raise errors.ZendeskNotFoundError("gone", status=404)
        return self.links[link_id]

    def iter_links(self, *, ticket_id: str | None = None, page_size: int = 100) -> Iterator[JiraLink]:
        self.calls.append(f"LIST ticket={ticket_id}")
        return iter([x for x in self.links.values() if ticket_id is None or x.ticket_id == ticket_id])

    def iter_links_deprecated(self, *, issue_id: str | None = None, **_: Any) -> Iterator[JiraLink]:
        self.calls.append(f"LIST issue={issue_id}")
        return iter([x for x in self.links.values() if issue_id is None or x.issue_id == issue_id])

    def get_ticket(self, ticket_id: str) -> Ticket:
        raise NotImplementedError


class FakeJira:
    def resolve_issue_id(self, key: str) -> JiraIssueRef:
        return JiraIssueRef(id=key.split("-")[1], key=key)

    def known(self, key: str) -> bool:
        return True

    def resolve_keys(self, keys: Iterable[str]) -> None:
        return None


@dataclass
class World:
    pairs: PairSync
    sync: LinkSync
    ledger: Ledger
    zendesk: FakeZendesk
    stack: LocalStack
    clock: list[float]

    def want(self, issue: str, ticket: str, owner: str = JIRA_OWNER, *, version: int = 1) -> None:
        self.ledger.set_owner(issue, ticket, owner, wanted=True, version=version, issue_key=f"A-{issue}")

    def unwant(self, issue: str, ticket: str, owner: str = JIRA_OWNER, *, version: int = 2) -> None:
        self.ledger.set_owner(issue, ticket, owner, wanted=False, version=version)

    def reconcile(self, issue: str = "1", ticket: str = "10") -> Any:
        return self.pairs.reconcile(Task(ReconcilePair(issue, ticket)))

    def record(self, issue: str = "1", ticket: str = "10") -> LinkRecord:
        rec = self.ledger.pair_state(issue, ticket).record
        assert rec is not None
        return rec

    def later(self, seconds: float) -> None:
        self.clock[0] += seconds

    def queued(self) -> list[dict[str, Any]]:
        got = self.stack.sqs.receive_message(
            QueueUrl=self.stack.physical["RetryQueue"], MaxNumberOfMessages=10
        )
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@contextmanager
def make_world() -> Iterator[World]:
    with mock_aws():
        stack = LocalStack(None, {}, {"x": "y"}).create()
        clock = [time.time()]
        table = stack.physical["LinksTable"]
        ledger = Ledger(table, client=stack.dynamodb, clock=lambda: clock[0])
        queue = RetryQueue(
            stack.physical["RetryQueue"],
            stack.physical["RetryDeadLetterQueue"],
            client=stack.sqs,
            backoff=Backoff(base_seconds=0, cap_seconds=0),
        )
        handoff = Handoff(queue)
        zendesk = FakeZendesk()
        pairs = PairSync(
            zendesk=zendesk, ledger=ledger, handoff=handoff, timeouts=TIMEOUTS, clock=lambda: clock[0]
        )
        sync = LinkSync(
            zendesk=zendesk,
            jira=FakeJira(),
            ledger=ledger,
            entities=Entities(table, client=stack.dynamodb, clock=lambda: clock[0]),
            pairs=pairs,
            handoff=handoff,
            zendesk_issue_field="360001",
            timeouts=TIMEOUTS,
            clock=lambda: clock[0],
        )
        yield World(pairs, sync, ledger, zendesk, stack, clock)
