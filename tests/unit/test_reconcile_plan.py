"""How reconciliation judges one pair, as a table: fields, Zendesk's links, which side lives, the ledger."""

from __future__ import annotations

import pytest

from linksync.ledger import JIRA_OWNER, ZENDESK_OWNER, LinkRecord
from linksync.reconcile.plan import Observed, judge

J, Z = JIRA_OWNER, ZENDESK_OWNER


def record(*owners: str, link_id: int | None = None) -> LinkRecord:
    return LinkRecord("1", "10", "A-1", owners=frozenset(owners), link_id=link_id)


def seen(
    jira: bool | None = False,
    zendesk: bool | None = False,
    links: tuple[int, ...] = (),
    issue_live: bool = True,
    ticket_live: bool = True,
) -> Observed:
    return Observed(jira, zendesk, links, issue_live, ticket_live)


# (what was seen, the ledger's record) -> (drift, desired, owners, ledger wrong, dead sides)
TABLE = [
    # a field wants it: linked or missing, whatever the ledger knew
    (seen(jira=True, links=(7,)), record(J, link_id=7), ("linked", True, {J}, False, ())),
    (seen(zendesk=True, links=(7,)), None, ("linked", True, {Z}, True, ())),  # the ledger must adopt it
    (seen(jira=True, zendesk=True), None, ("missing", True, {J, Z}, False, ())),
    (seen(jira=True), record(J, link_id=7), ("missing", True, {J}, True, ())),  # the ledger names a lost link
    # no field wants it: the ledger's link goes, a hand-made one stays
    (seen(links=(7,)), record(J, link_id=7), ("unwanted", False, set(), False, ())),
    (seen(links=(7,)), None, ("manual", False, set(), False, ())),
    (seen(links=(7,)), record(link_id=None), ("manual", False, set(), False, ())),
    (seen(), record(J), (None, False, set(), False, ())),  # a stale owner with no link: nothing to report
    (seen(), record(link_id=7), (None, False, set(), True, ())),  # the ledger names a link Zendesk lacks
    # a side is gone: every link of it goes, hand-made ones too
    (
        seen(jira=True, links=(7,), issue_live=False),
        record(J, link_id=7),
        ("dead", False, set(), False, ("issue",)),
    ),
    (seen(links=(7,), ticket_live=False), None, ("dead", False, set(), False, ("ticket",))),
    (seen(zendesk=True, ticket_live=False), record(Z), (None, False, set(), False, ())),
    # a side that was not read: the ledger's owner stands in for its field
    (seen(jira=None, links=(7,)), record(J, link_id=7), ("linked", True, {J}, False, ())),
    (seen(jira=None, zendesk=None, links=(7,)), record(Z, link_id=7), ("linked", True, {Z}, False, ())),
    (seen(jira=None, links=(7,)), record(Z, link_id=7), ("unwanted", False, set(), False, ())),
    # repeats of one pair in Zendesk: linked when the ledger's link is among them
    (seen(jira=True, links=(7, 8)), record(J, link_id=8), ("linked", True, {J}, False, ())),
    (seen(jira=True, links=(7, 8)), record(J, link_id=9), ("linked", True, {J}, True, ())),
]


@pytest.mark.parametrize(("observed", "rec", "expected"), TABLE)
def test_judge(observed: Observed, rec: LinkRecord | None, expected: tuple[object, ...]) -> None:
    verdict = judge(observed, rec)
    drift, desired, owners, wrong, dead = expected
    assert (verdict.drift, verdict.desired, set(verdict.owners), verdict.ledger_wrong, verdict.dead) == (
        drift,
        desired,
        owners,
        wrong,
        dead,
    )


def test_only_differences_are_listed() -> None:
    assert not judge(seen(jira=True, links=(7,)), record(J, link_id=7)).differs
    assert not judge(seen(), None).differs
    assert judge(seen(jira=True), None).differs
    assert judge(seen(links=(7,)), None).differs  # manual links are listed, to be seen
    assert judge(seen(zendesk=True, links=(7,)), None).differs  # linked, but the ledger did not know
