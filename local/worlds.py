"""Accounts that already hold data before linksync is installed: what a reconcile job must find and fix.

Used by the reconcile tests, `make demo`'s adoption chapter and the benchmark, so all three speak of the
same world. Nothing here sends a webhook: the data is simply there, as in an account adopting linksync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local.payloads import JIRA_TICKET_FIELD, ZENDESK_ISSUE_FIELD
from local.vendors import VendorSandbox

Pair = tuple[str, str]
ISSUE_BASE, TICKET_BASE = 9_000_000, 8_000_000


@dataclass
class Account:
    """What is in the account, and what a full reconcile job should report and leave."""

    desired: set[Pair] = field(default_factory=set)
    linked: set[Pair] = field(default_factory=set)  # desired pairs Zendesk already links
    dead: set[Pair] = field(default_factory=set)  # links whose issue is gone or whose ticket is deleted
    manual: set[Pair] = field(default_factory=set)  # links made by hand, both sides live
    keys: dict[str, str] = field(default_factory=dict)  # issue id -> key

    @property
    def missing(self) -> set[Pair]:
        return self.desired - self.linked

    @property
    def after_apply(self) -> set[Pair]:
        return self.desired | self.manual


def small_account(sandbox: VendorSandbox) -> Account:
    """A dozen issues and tickets, with the link fields in every accepted form: a comma list, a JSON list,
    a ticket URL, a number, browse URLs, a key that names no issue; a correct link made before, links to a
    deleted issue and to a deleted ticket, and a link an agent made by hand."""
    field_of = {
        "A-1": "201, 202",
        "A-2": [203],
        "A-3": "https://acme.zendesk.com/agent/tickets/204",
        "A-4": 205,
        "A-5": None,
        "A-6": "206",
    }
    ids = {key: str(100 + int(key.split("-")[1])) for key in field_of}
    for key, value in field_of.items():
        sandbox.add_issue(key, ids[key], fields={JIRA_TICKET_FIELD: value} if value is not None else {})
    tickets = {
        "201": "A-2",
        "202": "",
        "203": "https://acme.atlassian.net/browse/A-2",
        "204": "A-5 NOPE-9",
        "205": "",
        "206": "",
        "207": "",
    }
    for ticket, keys in tickets.items():
        sandbox.add_ticket(ticket, {ZENDESK_ISSUE_FIELD: keys} if keys else {})
    for issue, ticket in (("101", "201"), ("104", "205"), ("106", "206"), ("105", "207")):
        sandbox.add_link(issue_id=issue, issue_key=f"A-{int(issue) - 100}", ticket_id=ticket)
    sandbox.delete_ticket("205")
    sandbox.delete_issue("A-6")
    # Tickets changed in the last minute are not in Zendesk's export yet: let that minute pass.
    sandbox.advance(120)
    return Account(
        desired={
            ("101", "201"),
            ("101", "202"),
            ("102", "203"),
            ("103", "204"),
            ("102", "201"),
            ("105", "204"),
        },
        linked={("101", "201")},
        dead={("104", "205"), ("106", "206")},
        manual={("105", "207")},
        keys={v: k for k, v in ids.items()},
    )


@dataclass
class LargeAccount(Account):
    """An account of N issues and N tickets (:func:`backfill_account`), as the benchmark's backfill and the
    tests of long jobs seed it."""

    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {"id", "tickets": [...]}
    tickets: dict[str, list[str]] = field(default_factory=dict)  # id -> keys in its field
    deleted_tickets: set[str] = field(default_factory=set)
    deleted_issues: dict[str, str] = field(default_factory=dict)  # key -> id


def backfill_account(n: int) -> LargeAccount:
    """N issues and N tickets: issue i's field names ticket i (every 7th also ticket i+1), every 10th issue
    has an empty field and ticket i names it instead, every 10th from 1 is named from both sides; a tenth of
    the desired pairs are linked already; one in 100 tickets and one in 100 issues is deleted with a link
    left to it; one in 100 live pairs that nobody names has a link made by hand."""
    a = LargeAccount()
    key = {i: f"BF-{i + 1}" for i in range(n)}  # Jira numbers issues from 1
    iid = {i: str(ISSUE_BASE + i) for i in range(n)}
    tid = {i: str(TICKET_BASE + i) for i in range(n)}
    for i in range(n):
        named = [] if i % 10 == 0 else [tid[i]]
        if i % 7 == 3 and i + 1 < n:
            named.append(tid[i + 1])
        a.issues[key[i]] = {"id": iid[i], "tickets": named}
        a.tickets[tid[i]] = [key[i]] if i % 10 in (0, 1) else []
    for i in range(n):
        a.desired |= {(iid[i], t) for t in a.issues[key[i]]["tickets"]}
        a.desired |= {(iid[i], tid[i]) for _ in a.tickets[tid[i]]}
    ordered = sorted(a.desired)
    a.linked = set(ordered[::10])
    for k in range(max(1, n // 100)):
        dead_issue, dead_ticket = f"BFX-{k + 1}", str(TICKET_BASE + n + k)
        a.deleted_issues[dead_issue] = str(ISSUE_BASE + n + k)
        a.deleted_tickets.add(dead_ticket)
        a.dead.add((a.deleted_issues[dead_issue], tid[(k * 37) % n]))
        a.dead.add((iid[(k * 53) % n], dead_ticket))
        manual = (iid[(k * 71 + 5) % n], tid[(k * 71 + 50) % n])
        if manual not in a.desired:
            a.manual.add(manual)
    return a


def seed_backfill(sandbox: VendorSandbox, a: LargeAccount) -> None:
    """The account in the sandbox, through its Python API; then the export's one-minute lag passed."""
    for k, issue in a.issues.items():
        value = ", ".join(issue["tickets"])
        sandbox.add_issue(k, issue["id"], fields={JIRA_TICKET_FIELD: value} if value else {})
    for t, keys in a.tickets.items():
        sandbox.add_ticket(t, {ZENDESK_ISSUE_FIELD: " ".join(keys)} if keys else {})
    for k, issue_id in a.deleted_issues.items():
        sandbox.add_issue(k, issue_id)
    for t in a.deleted_tickets:
        sandbox.add_ticket(t, {})
    key_of = {v["id"]: k for k, v in a.issues.items()} | {v: k for k, v in a.deleted_issues.items()}
    for issue_id, ticket_id in sorted(a.linked | a.dead | a.manual):
        sandbox.add_link(issue_id=issue_id, issue_key=key_of[issue_id], ticket_id=ticket_id)
    for k in a.deleted_issues:
        sandbox.delete_issue(k)
    for t in a.deleted_tickets:
        sandbox.delete_ticket(t)
    sandbox.advance(120)
