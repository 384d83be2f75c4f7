"""Accounts that already hold data before linksync is installed: what a reconcile job must find and fix.

Used by the reconcile tests, `make demo`'s adoption chapter and the benchmark, so all three speak of the
same world. Nothing here sends a webhook: the data is simply there, as in an account adopting linksync.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from local.payloads import JIRA_TICKET_FIELD, ZENDESK_ISSUE_FIELD
from local.vendors import VendorSandbox

Pair = tuple[str, str]


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
