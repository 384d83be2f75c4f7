"""What reconciliation makes of one pair: from what the vendors hold to a class for the report and the repairs
the pair needs. No I/O.

Where a side was not read (an incremental job reads only what changed), the ledger's owners stand in for
that side's field. The classes, for a pair Zendesk has a link for: ``linked`` (wanted), ``dead`` (its issue
is gone or its ticket deleted), ``unwanted`` (no field wants it and the ledger made or adopted it),
``manual`` (no field wants it, made by hand, both sides live: kept). For a pair without a link: ``missing``
(wanted). The ledger is wrong when its link id disagrees with Zendesk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..entities import Entity
from ..ledger import JIRA_OWNER, ZENDESK_OWNER, LinkRecord

Drift = Literal["linked", "missing", "dead", "unwanted", "manual"]
# The report's counts, in the order they are printed.
REPORT_KEYS = (
    "desired",
    "linked",
    "missing",
    "dead",
    "unwanted",
    "manual",
    "ledger_repaired",
    "created",
    "deleted",
    "queued",
)


@dataclass(frozen=True)
class Observed:
    """What a job saw of one pair."""

    jira: bool | None  # the issue's Jira field names the ticket; None when the issue was not read
    zendesk: bool | None  # the ticket's Zendesk field names the issue; None when the ticket was not read
    links: tuple[int, ...]  # the ids of Zendesk's links for the pair
    issue_live: bool
    ticket_live: bool


@dataclass(frozen=True)
class Verdict:
    drift: Drift | None  # None: no link, and none wanted
    desired: bool
    owners: frozenset[str]  # who wants the pair, by the vendors' truth (and the ledger for unread sides)
    ledger_wrong: bool
    dead: tuple[Entity, ...]  # the sides whose every link must go

    @property
    def differs(self) -> bool:
        """Worth listing in the job's report of differing pairs."""
        return self.drift not in (None, "linked") or self.ledger_wrong


def judge(seen: Observed, record: LinkRecord | None) -> Verdict:
    held = record.owners if record is not None else frozenset()
    wants = {
        JIRA_OWNER: seen.jira if seen.jira is not None else JIRA_OWNER in held,
        ZENDESK_OWNER: seen.zendesk if seen.zendesk is not None else ZENDESK_OWNER in held,
    }
    live = seen.issue_live and seen.ticket_live
    owners = frozenset(owner for owner, wanted in wants.items() if wanted and live)
    desired = bool(owners)
    dead: tuple[Entity, ...] = (
        *(("issue",) if not seen.issue_live else ()),
        *(("ticket",) if not seen.ticket_live else ()),
    )
    return Verdict(
        drift=_drift(seen.links, live=live, desired=desired, record=record),
        desired=desired,
        owners=owners,
        ledger_wrong=live and _ledger_wrong(record, seen.links, desired),
        dead=dead if seen.links else (),
    )


def _drift(links: tuple[int, ...], *, live: bool, desired: bool, record: LinkRecord | None) -> Drift | None:
    if not links:
        return "missing" if desired else None
    if not live:
        return "dead"
    if desired:
        return "linked"
    ours = record is not None and record.link_id in links
    return "unwanted" if ours else "manual"


def _ledger_wrong(record: LinkRecord | None, links: tuple[int, ...], desired: bool) -> bool:
    """The ledger names a link Zendesk does not have, or does not know the wanted link Zendesk has."""
    recorded = record.link_id if record is not None else None
    if recorded is not None:
        return recorded not in links
    return desired and bool(links)
