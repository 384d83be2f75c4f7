"""Reading what the vendors hold, one page per step, into the job's scratch items.

Each step reads one page at the job's cursor, writes what it learned, and moves the cursor; a step that is
cut off is simply read again (the scratch writes are puts, so a repeat changes nothing). The phases:

- ``issues``: Jira issues whose field is set (full) or that changed (incremental), via ``search/jql``.
- ``tickets``: Zendesk's cursor-based incremental ticket export (live and deleted tickets), the keys in
  each ticket's field resolved to issue ids in batches.
- ``links``: Zendesk's links, the whole account (full) or those of the tickets and issues read
  (incremental); the issues they name are checked to still exist, a batch of ids per search.
- ``ledger``: the ledger's own pairs for the same scope, so a record nobody else names is looked at too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from ..budget import CallBudget
from ..entities import Entities
from ..fields import Parsed, parse_issue_keys, parse_ticket_ids
from ..handoff import PROMPT_SECONDS
from ..jira import JiraClient, JiraIssue
from ..ledger import Ledger, LinkRecord
from ..zendesk import ExportedTicket, ZendeskClient
from .store import JobState, JobStore, pad, pair_sk

JIRA_PAGE = 100
EXPORT_PAGE = 1000
LINKS_PAGE = 1000
ENTITY_PAGE = 100
# Zendesk allows 10 export requests a minute; one every 6 s stays within it.
EXPORT_INTERVAL = 6.0
# The export leaves out the last minute's changes, and JQL dates have minute resolution: an incremental
# job starts this long before the previous one began.
OVERLAP_SECONDS = 120


class Wait(Exception):  # noqa: N818 - a signal, not an error
    """The step cannot go on before ``until`` (epoch seconds): a vendor's limit or our budget."""

    def __init__(self, until: float, why: str) -> None:
        super().__init__(why)
        self.until = until
        self.why = why


@dataclass
class Reader:
    jira: JiraClient
    zendesk: ZendeskClient
    store: JobStore
    ledger: Ledger
    entities: Entities
    jira_ticket_field: str
    zendesk_issue_field: str
    budget: CallBudget | None
    clock: Callable[[], float]
    missing_keys: set[str] = field(default_factory=set)  # keys no issue answers to, for this invocation

    # ------------------------------------------------------------------ issues

    def issues_jql(self, job: JobState) -> str:
        if job.since is None:
            number = self.jira_ticket_field.removeprefix("customfield_")
            return f"cf[{number}] is not EMPTY ORDER BY id"
        # Relative to now, so the searching user's time zone does not matter.
        minutes = max(1, math.ceil((self.clock() - job.since + OVERLAP_SECONDS) / 60))
        return f'updated >= "-{minutes}m" ORDER BY id'

    def issues(self, job: JobState) -> None:
        page = self.jira.search_page(
            self.issues_jql(job),
            fields=(self.jira_ticket_field, "updated"),
            max_results=JIRA_PAGE,
            next_page_token=job.cursor,
        )
        items: dict[str, dict[str, Any]] = {}
        for issue in page.issues:
            items |= self._issue_items(job, issue)
        self.store.put(job.job_id, items)
        job.cursor = page.next_page_token
        if job.cursor is None:
            job.phase = "tickets"

    # ------------------------------------------------------------------ tickets

    def tickets(self, job: JobState) -> None:
        now = self.clock()
        if now < job.export_not_before:
            raise Wait(job.export_not_before, "the ticket export allows 10 requests a minute")
        self._spend(job)
        start = None if job.cursor else _export_start(job, now)
        job.export_not_before = now + EXPORT_INTERVAL
        try:
            page = self.zendesk.export_tickets_page(start_time=start, cursor=job.cursor, per_page=EXPORT_PAGE)
        except errors.ZendeskRateLimitedError as e:
            raise Wait(now + (e.retry_after or 60), "the ticket export is rate limited") from e
        self.store.put(job.job_id, self._ticket_items(job, page.tickets))
        job.cursor = page.after_cursor
        if page.end_of_stream or not page.after_cursor or not page.tickets:
            job.phase, job.cursor = "links", None

    def _issue_items(self, job: JobState, issue: JiraIssue) -> dict[str, dict[str, Any]]:
        parsed = parse_ticket_ids(issue.field(self.jira_ticket_field))
        refused = parsed.refused is not None  # not read: the ledger's owners stand in for it (see merge)
        fact = {"seen": True, "live": True, "key": issue.key, "v": issue.updated_ms, "refused": refused}
        items = {f"I#{pad(issue.id)}": fact}
        items |= {pair_sk("J", issue.id, t): {"key": issue.key} for t in parsed.values}
        if job.apply and not refused:
            self.entities.record_field("issue", issue.id, set(parsed.values), _version(issue.updated_ms, job))
        return items

    def _ticket_items(self, job: JobState, tickets: list[ExportedTicket]) -> dict[str, dict[str, Any]]:
        parsed = {t.id: parse_issue_keys(t.field_value(self.zendesk_issue_field)) for t in tickets}
        found = self._resolve({k for t in tickets if not t.deleted for k in parsed[t.id].values})
        items: dict[str, dict[str, Any]] = {
            f"V#{pad(i.id)}": {"live": True, "key": i.key} for i in found.values()
        }
        for ticket in tickets:
            items |= self._one_ticket(job, ticket, parsed[ticket.id], found)
        return items

    def _one_ticket(
        self, job: JobState, ticket: ExportedTicket, parsed: Parsed, found: dict[str, JiraIssue]
    ) -> dict[str, dict[str, Any]]:
        refused = parsed.refused is not None
        fact = {"deleted": ticket.deleted, "v": ticket.updated_ms, "refused": refused}
        items: dict[str, dict[str, Any]] = {f"T#{pad(ticket.id)}": fact}
        if ticket.deleted or refused:
            return items
        named = [found[k] for k in parsed.values if k in found]
        items |= {pair_sk("Z", issue.id, ticket.id): {"key": issue.key} for issue in named}
        if job.apply:
            # updated_at is to the second: the value is as of the end of that second.
            version = _version(ticket.updated_ms, job) + 1000
            self.entities.record_field("ticket", ticket.id, {i.id for i in named}, version)
        return items

    def _resolve(self, keys: set[str]) -> dict[str, JiraIssue]:
        """Issue keys to issues, for the keys that name an issue that exists. A search answers a moved issue
        under its new key, so the keys it did not answer under are asked one by one (Jira follows a move)."""
        if not keys:
            return {}
        found = {issue.key.upper(): issue for issue in self.jira.find_issues(keys=sorted(keys))}
        for key in sorted(keys - set(found) - self.missing_keys):
            try:
                ref = self.jira.get_issue(key)
            except errors.JiraNotFoundError:
                self.missing_keys.add(key)
                continue
            found[key] = JiraIssue(ref.id, ref.key, None, {})
        return found

    # ------------------------------------------------------------------ links

    def links(self, job: JobState) -> None:
        if job.since is None:
            self._all_links(job)
        else:
            self._links_of_changed(job)

    def _all_links(self, job: JobState) -> None:
        self._spend(job)
        page, after = self.zendesk.list_links_page(after=job.cursor, page_size=LINKS_PAGE)
        self._record_links(job, [(link.issue_id, link.ticket_id, link.id, link.issue_key) for link in page])
        job.cursor = after
        if after is None:
            job.phase = "ledger"

    def _links_of_changed(self, job: JobState) -> None:
        """One changed ticket's (T#) or issue's (I#) links per step, in sort key order."""
        kind, after = _split_cursor(job.cursor, default="T")
        page = self.store.items(job.job_id, kind, after, 1)
        if not page:
            if kind == "T":
                job.cursor = "I#"
            else:
                job.phase, job.cursor = "ledger", None
            return
        self._spend(job)
        item = page[0]
        entity_id = str(int(item["sk"].split("#")[1]))
        listed = (
            self.zendesk.iter_links(ticket_id=entity_id)
            if kind == "T"
            else self.zendesk.iter_links_deprecated(issue_id=entity_id)
        )
        self._record_links(job, [(lk.issue_id, lk.ticket_id, lk.id, lk.issue_key) for lk in listed])
        job.cursor = f"{kind}#{item['sk'].split('#')[1]}"

    def _record_links(self, job: JobState, links: list[tuple[str, str, int, str]]) -> None:
        items = {f"{pair_sk('L', i, t)}#{link_id}": {"key": key} for i, t, link_id, key in links if i and t}
        items |= self._verify_issues(job, {i for i, t, _, _ in links if i and t})
        self.store.put(job.job_id, items)

    def _verify_issues(self, job: JobState, issue_ids: set[str]) -> dict[str, dict[str, Any]]:
        """Whether the issues links name still exist, for those the job does not know yet."""
        known = self.store.get(job.job_id, [f"{p}#{pad(i)}" for i in issue_ids for p in ("I", "V")])
        unknown = sorted(i for i in issue_ids if f"I#{pad(i)}" not in known and f"V#{pad(i)}" not in known)
        if not unknown:
            return {}
        alive = {issue.id: issue for issue in self.jira.find_issues(ids=unknown)}
        return {f"V#{pad(i)}": {"live": i in alive} for i in unknown}

    # ------------------------------------------------------------------ the ledger's own pairs

    def ledger_pairs(self, job: JobState) -> None:
        records = self._all_ledger_pairs(job) if job.since is None else self._ledger_pairs_of_changed(job)
        self.store.put(
            job.job_id, {pair_sk("R", r.issue_id, r.ticket_id): {"key": r.issue_key} for r in records}
        )
        if job.cursor is None:
            job.phase = "merge"

    def _all_ledger_pairs(self, job: JobState) -> list[LinkRecord]:
        records, after = self.ledger.pairs_page(json.loads(job.cursor) if job.cursor else None)
        job.cursor = json.dumps(after) if after else None
        return records

    def _ledger_pairs_of_changed(self, job: JobState) -> list[LinkRecord]:
        """The ledger's pairs of the tickets (T#), then the issues (I#), the job read."""
        kind, last = _split_cursor(job.cursor, default="T")
        entities = self.store.items(job.job_id, kind, last, ENTITY_PAGE)
        lookup = self.ledger.links_for_ticket if kind == "T" else self.ledger.links_for_issue
        records = [rec for e in entities for rec in lookup(str(int(e["sk"].split("#")[1])))]
        if entities:
            job.cursor = f"{kind}#{entities[-1]['sk'].split('#')[1]}"
        else:
            job.cursor = "I#" if kind == "T" else None
        return records

    def _spend(self, job: JobState) -> None:
        """Take the job's next Zendesk call from the shared budget. A turn given for later is kept in the
        job's checkpoint, so the step that waits for it does not ask again."""
        now = self.clock()
        if job.budget_at:
            if job.budget_at - now > PROMPT_SECONDS:
                raise Wait(job.budget_at, "waiting for its turn in the Zendesk call budget")
            job.budget_at = 0.0
            return
        wait = self.budget.take() if self.budget is not None else 0.0
        if wait > PROMPT_SECONDS:
            job.budget_at = now + wait
            raise Wait(job.budget_at, "waiting for its turn in the Zendesk call budget")


def _version(updated_ms: int | None, job: JobState) -> int:
    return updated_ms if updated_ms is not None else int(job.started_at * 1000)


def _export_start(job: JobState, now: float) -> int:
    """The export's first start_time: everything (full), or since the previous job (incremental). It must
    be at least a minute in the past."""
    if job.since is None:
        return 0
    return int(min(job.since - OVERLAP_SECONDS, now - 90))


def _split_cursor(cursor: str | None, *, default: str) -> tuple[str, str | None]:
    """A cursor over the job's T# then I# items: ``"T#<padded id>"``; just ``"I#"`` to start on issues."""
    if not cursor:
        return default, None
    kind, _, last = cursor.partition("#")
    return kind, last or None
