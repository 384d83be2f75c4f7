"""What events want: from a webhook or a queued task to the links one issue or one ticket should have.

Every event becomes *desired state* for one issue or one ticket: its field's current value, or "nothing"
after a delete. :class:`linksync.claims.FieldClaims` records who wants each pair; then every pair whose
claims changed, or whose record shows unfinished work, is brought to what is wanted by
:class:`linksync.pair_sync.PairSync`. Replays, duplicates, out-of-order deliveries and late retries all
converge, because they all end in the same decision.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from . import errors
from .budget import CallBudget
from .claims import FieldClaims
from .entities import Entities, Entity
from .events import JiraEvent, ZendeskEvent
from .fields import MAX_TEXT, parse_issue_keys, parse_ticket_ids
from .handoff import DeferReason, Handoff, Turns
from .ledger import Ledger
from .operations import (
    DeleteLink,
    Operation,
    Outcome,
    Purge,
    ReconcilePair,
    RestoreTicket,
    SyncTicket,
    Task,
)
from .pair_sync import PairSync
from .ports import JiraApi, ZendeskApi
from .timing import Deadline, Timeouts
from .zendesk import JiraLink

KEYS_PER_SEARCH = 50
# A read of a ticket is versioned this far after the clock: a value an event carries is applied over it
# only when the event is surely later than the read (Zendesk's clock and ours may differ a little).
READ_LEAD_MS = 1000


class _Later(Exception):  # noqa: N818 - a signal, not an error
    """The work must wait on the queue: the invocation's deadline, or a call budget."""

    def __init__(self, why: DeferReason, delay: float, task: Task[SyncTicket] | None = None) -> None:
        super().__init__(why)
        self.why: DeferReason = why
        self.delay = delay
        self.task = task  # the task to queue, when it holds a turn of the Jira budget


class LinkSync:
    def __init__(
        self,
        *,
        zendesk: ZendeskApi,
        jira: JiraApi,
        ledger: Ledger,
        entities: Entities,
        pairs: PairSync,
        handoff: Handoff,
        zendesk_issue_field: str,
        timeouts: Timeouts,
        budget: CallBudget | None = None,
        jira_budget: CallBudget | None = None,
        projects: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zendesk = zendesk
        self.jira = jira
        self.ledger = ledger
        self.entities = entities
        self.pairs = pairs
        self.handoff = handoff
        self.zendesk_issue_field = str(zendesk_issue_field)
        self.timeouts = timeouts
        self.turns = Turns(budget, clock)
        self.jira_turns = Turns(jira_budget, clock)
        self.projects = projects
        self.clock = clock
        self.claims = FieldClaims(
            ledger=ledger, entities=entities, pairs=pairs, timeouts=timeouts, clock=clock
        )

    # ------------------------------------------------------------------ events

    def handle_jira(self, event: JiraEvent, deadline: Deadline) -> Outcome:
        if event.action == "ignore":
            return Outcome(ignored=event.reason)
        if event.action == "delete":
            # Jira delivers a delete again when it does not hear back in time: once purged, it is done.
            if not self.entities.put_tombstone("issue", event.issue_id, once=True):
                return Outcome(ignored="this event was already applied")
            outcome = self.purge(Task(Purge("issue", event.issue_id)), deadline, tombstoned=True)
            self.entities.finish_delete("issue", event.issue_id)
            return outcome
        parsed = parse_ticket_ids(event.field_value)
        if parsed.refused:
            return self._refused("Jira", parsed.refused)
        if not self._allowed(event.issue_key):
            return Outcome(ignored=f"{event.issue_key} is in a project outside JIRA_PROJECTS")
        outcome = Outcome()
        if parsed.rejected:
            self.handoff.log.warning(
                "ignoring values in the Jira ticket field", extra={"rejected": parsed.rejected[:10]}
            )
            outcome.notes.append(f"ignored {len(parsed.rejected)} value(s) that are not ticket ids")
        version = event.timestamp if event.timestamp is not None else int(self.clock() * 1000)
        wanted = dict.fromkeys(parsed.values, event.issue_key)
        return outcome.merge(self.claims.apply("issue", event.issue_id, wanted, version, deadline))

    def handle_zendesk(self, event: ZendeskEvent, deadline: Deadline) -> Outcome:
        match event.action:
            case "ignore":
                return Outcome(ignored=event.reason)
            case "delete":
                # A soft-deleted ticket can come back: keep who wanted its links, the tombstone stops them.
                keep = event.event_type == "ticket.soft_deleted"
                return self.purge(Task(Purge("ticket", event.ticket_id, keep_owners=keep)), deadline)
            case "restore":
                return self.restore_ticket(event.ticket_id, deadline)
        return self.sync_ticket(Task(sync_op(event)), deadline)

    # ------------------------------------------------------------------ tasks from the retry queue

    def run(self, task: Task[Operation], deadline: Deadline) -> Outcome:
        match task.op:
            case ReconcilePair() as op:
                return self.pairs.reconcile(Task(op, task.attempts, task.reserved_at))
            case SyncTicket() as op:
                return self.sync_ticket(Task(op, task.attempts, task.reserved_at), deadline)
            case Purge() as op:
                return self.purge(Task(op, task.attempts, task.reserved_at), deadline)
            case DeleteLink() as op:
                return self.delete_link(Task(op, task.attempts, task.reserved_at))
            case RestoreTicket() as op:
                return self.restore_ticket(op.ticket_id, deadline)

    def sync_ticket(self, task: Task[SyncTicket], deadline: Deadline) -> Outcome:
        """Make the ticket's Zendesk-field links match the field: the value the task knows, or else the
        value read from Zendesk now.

        Reads take a short lock per ticket, one worker at a time: whoever reads last applies last, so two
        changes handled at once cannot leave the older value in force.
        """
        if task.op.version is not None:
            return self._apply_value(task, deadline, may_read=True)
        ticket_id = task.op.ticket_id
        if self.entities.is_tombstoned("ticket", ticket_id):
            return Outcome(ignored="ticket was deleted")
        wait = self.turns.wait(task)
        if wait:
            return self.handoff.defer(self.turns.hold(task, wait), "budget", delay=wait)
        token, lock = uuid.uuid4().hex, f"TICKET#{ticket_id}"
        if not self.entities.acquire_lock(lock, token, lease_seconds=self.timeouts.ticket_lock):
            return self.handoff.defer(task, "held", delay=self.timeouts.contention_retry)
        try:
            try:
                ticket = self.zendesk.get_ticket(ticket_id)
            except errors.ZendeskNotFoundError:
                return Outcome(ignored="ticket not found in Zendesk")
            except errors.ApiError as e:
                return self.handoff.failed(task, e)
            value = ticket.field_value(self.zendesk_issue_field)
            read = SyncTicket(ticket_id, value, int(self.clock() * 1000) + READ_LEAD_MS, READ_LEAD_MS)
            # From here on a retry applies what was read rather than read it again.
            return self._apply_value(Task(read, task.attempts), deadline, may_read=False)
        finally:
            self.entities.release_lock(lock, token)

    def _apply_value(self, task: Task[SyncTicket], deadline: Deadline, *, may_read: bool) -> Outcome:
        """The value the task knows, as of its version.

        ``may_read``: a version the ledger's cannot be ordered against (the same time with another value;
        a time within ``READ_LEAD_MS`` before the ledger's, which may come from a read on our clock) is
        settled by reading the ticket. A version surely older is ignored: the ledger holds a newer one.
        """
        op = task.op
        assert op.version is not None  # nosec B101  # only tasks that know their value come here
        outcome = Outcome()
        try:
            wanted = self._wanted(op.value, outcome, deadline, task)
        except errors.ApiError as e:
            return outcome.merge(self.handoff.failed(task, e))
        except _Later as later:
            return outcome.merge(self.handoff.defer(later.task or task, later.why, delay=later.delay))
        if wanted is None:
            return outcome
        read = partial(self.sync_ticket, Task(SyncTicket(op.ticket_id)), deadline) if may_read else None
        applied = self.claims.apply(
            "ticket",
            op.ticket_id,
            wanted,
            op.version,
            deadline,
            undecided=read,
            margin_ms=READ_LEAD_MS,
            lead_ms=op.lead_ms,
        )
        return outcome.merge(applied)

    def _wanted(
        self, value: Any, outcome: Outcome, deadline: Deadline, task: Task[SyncTicket]
    ) -> dict[str, str] | None:
        """The issues a Zendesk field's value names (issue id -> key); None when the value is refused (over
        the limits), with why in ``outcome``."""
        parsed = parse_issue_keys(value)
        if parsed.refused:
            outcome.ignored = self._refused("Zendesk", parsed.refused).ignored
            return None
        if parsed.rejected:
            self.handoff.log.warning(
                "ignoring values in the Zendesk issue field", extra={"rejected": parsed.rejected[:10]}
            )
            outcome.notes.append(f"ignored {len(parsed.rejected)} value(s) that are not Jira keys")
        keys = [key for key in parsed.values if self._allowed(key, outcome)]
        self._resolve(keys, deadline, task)
        wanted: dict[str, str] = {}
        for key in keys:
            try:
                ref = self.jira.resolve_issue_id(key)
            except errors.JiraNotFoundError:
                self.handoff.log.warning("Jira issue not found; not linking it", extra={"issue_key": key})
                outcome.notes.append(f"{key} does not exist in Jira")
                continue
            wanted[ref.id] = ref.key
        return wanted

    def _resolve(self, keys: list[str], deadline: Deadline, task: Task[SyncTicket]) -> None:
        """Look up the keys this container does not know, a search per 50, each within the Jira budget and
        the deadline; what does not fit raises _Later (the ticket's sync waits on the queue, holding the
        Jira turn it was given, which its first search uses when it comes back)."""
        unknown = [key for key in keys if not self.jira.known(key)]
        for n, start in enumerate(range(0, len(unknown), KEYS_PER_SEARCH)):
            if not deadline.has_time():
                raise _Later("deadline", 0)
            turn = task if n == 0 else Task(task.op, task.attempts)  # a held turn pays for one search
            wait = self.jira_turns.wait(turn)
            if wait:
                raise _Later("budget", wait, self.jira_turns.hold(turn, wait))
            self.jira.resolve_keys(unknown[start : start + KEYS_PER_SEARCH])

    def _allowed(self, issue_key: str, outcome: Outcome | None = None) -> bool:
        """Whether the key's project may be linked (JIRA_PROJECTS; every project when it is empty)."""
        project = issue_key.rsplit("-", 1)[0].upper()
        if not self.projects or project in self.projects:
            return True
        if outcome is not None:
            outcome.notes.append(f"{issue_key} is in a project outside JIRA_PROJECTS; not linked")
        return False

    def _refused(self, side: str, why: str) -> Outcome:
        self.handoff.count("FieldRefused")
        self.handoff.log.warning(
            f"the {side} field is over the limits; its links are left as they are", extra={"why": why}
        )
        return Outcome(ignored=f"the {side} field was left as it is: {why}")

    def purge(
        self, task: Task[Purge], deadline: Deadline, *, patient: bool = False, tombstoned: bool = False
    ) -> Outcome:
        """An issue or ticket is gone: tombstone it (unless the caller has) and delete every link it has,
        ours or not."""
        op = task.op
        if not tombstoned:
            self.entities.put_tombstone(op.entity, op.entity_id)
        records = self.ledger.links_of(op.entity, op.entity_id)
        for rec in records:
            if rec.owners and not op.keep_owners:
                self.ledger.clear_owners(rec.issue_id, rec.ticket_id)
        pairs = [(rec.issue_id, rec.ticket_id) for rec in records]
        outcome = self.pairs.reconcile_all(pairs, deadline, patient=patient)
        # The pairs above delete the links the ledger knows; the rest were made elsewhere, e.g. by agents in
        # Zendesk's Jira app, and are found by listing the entity's links.
        ours = {rec.link_id for rec in records if rec.link_id is not None}
        return outcome.merge(self._purge_unknown_links(task, ours, deadline, patient))

    def _purge_unknown_links(
        self, task: Task[Purge], ours: set[int], deadline: Deadline, patient: bool
    ) -> Outcome:
        op = task.op
        patience = max(0.0, deadline.remaining() - deadline.reserve) if patient else 0.0
        wait = self.turns.wait(task, patience=patience)
        if wait:
            return self.handoff.defer(self.turns.hold(task, wait), "budget", delay=wait)
        try:
            remaining = [link for link in self._links_of(op.entity, op.entity_id) if link.id not in ours]
        except errors.ApiError as e:
            return self.handoff.failed(task, e)
        outcome = Outcome()
        for link in remaining:
            if not deadline.has_time():
                # Out of time: the purge runs again from the queue and lists what is left.
                return outcome.merge(self.handoff.defer(task, "deadline"))
            outcome.merge(self.delete_link(Task(DeleteLink(link.id, link.issue_id, link.ticket_id))))
        return outcome

    def _links_of(self, kind: Entity, entity_id: str) -> list[JiraLink]:
        """Every Zendesk link of an issue (the one list that filters by issue) or of a ticket."""
        if kind == "issue":
            listed = self.zendesk.iter_links_deprecated(issue_id=entity_id)
            return [link for link in listed if link.issue_id == entity_id]
        return [link for link in self.zendesk.iter_links(ticket_id=entity_id) if link.ticket_id == entity_id]

    def restore_ticket(self, ticket_id: str, deadline: Deadline) -> Outcome:
        """A soft-deleted ticket is back: lift its tombstone, bring back the links its fields still want."""
        self.entities.remove_tombstone("ticket", ticket_id)
        pairs = [(rec.issue_id, rec.ticket_id) for rec in self.ledger.links_for_ticket(ticket_id)]
        outcome = self.pairs.reconcile_all(pairs, deadline)
        return outcome.merge(self.sync_ticket(Task(SyncTicket(ticket_id)), deadline))

    def delete_link(self, task: Task[DeleteLink]) -> Outcome:
        """Delete one Zendesk link by id (one the ledger never made, e.g. an agent's)."""
        op = task.op
        try:
            self.zendesk.delete_link(op.link_id)
        except errors.ZendeskNotFoundError:
            return Outcome(unchanged=1)
        except errors.ApiError as e:
            return self.handoff.failed(task, e)
        self.handoff.count("LinksDeleted")
        self.handoff.log.info(
            "deleted link", extra={"link_id": op.link_id, "issue_id": op.issue_id, "ticket_id": op.ticket_id}
        )
        return Outcome(deleted=1)


def sync_op(event: ZendeskEvent) -> SyncTicket:
    """The sync a Zendesk event asks for. A field change that carries the new value is applied as of the
    event's time; other events and the trigger body read the ticket (the Tickets API's current value is the
    truth), as does a carried value too long to keep (it would be refused either way)."""
    known = event.carried
    if known is None or len(known.value or "") > MAX_TEXT:
        return SyncTicket(event.ticket_id)
    return SyncTicket(event.ticket_id, known.value, known.time_ms)
