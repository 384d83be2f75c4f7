"""Bringing one (issue, ticket) pair to what is wanted: read, decide, claim, call, finish.

The decision is :func:`linksync.decision.decide`; this module only carries it out. A worker reads the pair,
decides, and claims the pair on condition that the record has not changed since the read, writing the
call it is about to make in the same request (write-ahead). Then it calls Zendesk and records what it
learned as it gives the claim back. If the process dies anywhere in between, the record says which call
may have happened, and the next decision looks before it trusts the ledger.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .budget import CallBudget
from .decision import (
    CALLS_ZENDESK,
    Action,
    Busy,
    Create,
    Delete,
    Forget,
    InFlight,
    Keep,
    Look,
    PairView,
    Settled,
    WaitUntil,
    after_failure,
    decide,
    in_flight_for,
)
from .handoff import Handoff, Turns
from .ledger import Ledger, LinkRecord, NewPair, PairState, PairWrite
from .operations import Outcome, ReconcilePair, Task
from .ports import ZendeskApi
from .timing import Deadline, Timeouts

# A pair whose record keeps changing between our read and our claim is tried this often, then queued.
READS_PER_PAIR = 3


@dataclass
class _Claimed:
    """One pair under our claim: what we read, what we are doing, and what we know so far."""

    state: PairState
    view: PairView
    token: str
    action: Action
    flight: InFlight | None

    @property
    def ids(self) -> dict[str, str]:
        return {"issue_id": self.state.issue_id, "ticket_id": self.state.ticket_id}


class PairSync:
    def __init__(
        self,
        *,
        zendesk: ZendeskApi,
        ledger: Ledger,
        handoff: Handoff,
        timeouts: Timeouts,
        budget: CallBudget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.zendesk = zendesk
        self.ledger = ledger
        self.handoff = handoff
        self.timeouts = timeouts
        self.turns = Turns(budget, clock)
        self.clock = clock

    def reconcile_all(
        self,
        pairs: Iterable[tuple[str, str]],
        deadline: Deadline,
        *,
        verify: bool = False,
        patient: bool = False,
        seen: Mapping[tuple[str, str], tuple[int, ...]] | None = None,
    ) -> Outcome:
        """Each pair, while the deadline allows (the rest go to the queue). ``patient``: wait for a turn of
        the call budget here, as long as the deadline allows, rather than queue the pair for it. ``seen``:
        the links a read of Zendesk just showed for some pairs (see :attr:`PairView.seen`); a pair handed to
        the queue goes without it, and looks."""
        outcome = Outcome()
        for issue_id, ticket_id in dict.fromkeys(pairs):
            task = Task(ReconcilePair(issue_id, ticket_id, verify))
            if not deadline.has_time():
                outcome.merge(self.handoff.defer(task, "deadline"))
                continue
            patience = max(0.0, deadline.remaining() - deadline.reserve) if patient else 0.0
            shown = (seen or {}).get((issue_id, ticket_id), ())
            outcome.merge(self.reconcile(task, patience=patience, seen=shown))
        return outcome

    def reconcile(
        self, task: Task[ReconcilePair], *, patience: float = 0.0, seen: tuple[int, ...] = ()
    ) -> Outcome:
        """Bring the task's pair in line with the ledger: create, adopt, delete, or nothing (looking at
        Zendesk first when the task says it was seen to disagree with the ledger)."""
        doubt = task.op.verify
        for _ in range(READS_PER_PAIR):
            state = self.ledger.pair_state(task.op.issue_id, task.op.ticket_id)
            now = self.clock()
            action = decide(state.view(now, doubt=doubt, seen=seen), now=now, settle=self.timeouts.settle)
            match action:
                case Settled():
                    return Outcome(unchanged=1)
                case Busy():
                    return self.handoff.defer(task, "held", delay=self.timeouts.contention_retry)
                case WaitUntil(at):
                    return self.handoff.defer(task, "in_flight", delay=at - now)
            wait = self.turns.wait(task, patience=patience) if isinstance(action, CALLS_ZENDESK) else 0.0
            if wait:
                return self.handoff.defer(self.turns.hold(task, wait), "budget", delay=wait)
            token = uuid.uuid4().hex
            flight = in_flight_for(action, now=now)
            if self.ledger.claim(state, token, lease_seconds=self.timeouts.claim_lease, in_flight=flight):
                work = _Claimed(state, state.view(now, doubt=doubt, seen=seen), token, action, flight)
                return self._carry_out(task, work)[0]
            # The record changed between our read and our claim: decide again on what it is now.
        return self.handoff.defer(task, "held", delay=self.timeouts.contention_retry)

    def create_new(
        self, new: NewPair, *, also: dict[str, Any] | None = None
    ) -> tuple[Outcome, bool] | Task[ReconcilePair]:
        """A pair the ledger has no record of, wanted by one field: its record, its owner and its claim go in
        one request with the create on record, without reading first. Returns the outcome and whether
        ``also`` (a TransactWriteItems entry) was written with the pair's last write.

        When the pair has a record after all, returns the task for the usual path (:meth:`reconcile`), which
        holds the budget's turn already taken here.
        """
        task = Task(ReconcilePair(new.issue_id, new.ticket_id))
        now = self.clock()
        record = LinkRecord(new.issue_id, new.ticket_id, new.issue_key, frozenset({new.owner}))
        state = PairState(new.issue_id, new.ticket_id, record)
        view = state.view(now)
        action = decide(view, now=now, settle=self.timeouts.settle)
        flight = in_flight_for(action, now=now)
        assert isinstance(action, Create) and flight is not None  # nosec B101  # what a new pair needs
        wait = self.turns.wait(task)
        if wait:
            self.ledger.want(new)
            return self.handoff.defer(self.turns.hold(task, wait), "budget", delay=wait), False
        token = uuid.uuid4().hex
        claimed = self.ledger.create_claimed(
            new, token, lease_seconds=self.timeouts.claim_lease, in_flight=flight
        )
        if claimed == "exists":
            return task.reserved(now)
        if claimed == "deleted":
            self.ledger.want(new)
            return Outcome(unchanged=1), False
        return self._carry_out(task, _Claimed(state, view, token, action, flight), also)

    # ------------------------------------------------------------------ under the claim

    def _carry_out(
        self, task: Task[ReconcilePair], work: _Claimed, also: dict[str, Any] | None = None
    ) -> tuple[Outcome, bool]:
        """The claimed work, and whether ``also`` was written with the write that gives the pair back (only
        when it went well: work handed to the queue leaves ``also`` to the caller)."""
        pair = (work.state.issue_id, work.state.ticket_id)
        try:
            if isinstance(work.action, Look):
                self._decide_after(work, self._look(work, work.action))
            write, outcome = self._execute(work)
        except errors.ApiError as e:
            # Without a call that could change Zendesk (a failed look), the record stays as it was.
            flight = (
                after_failure(work.view, work.action, work.flight, status=e.status)
                if work.flight is not None
                else work.view.in_flight
            )
            self.ledger.finish(
                *pair,
                work.token,
                PairWrite(work.view.link_id, flight, error=str(e), failed=not e.retryable),
            )
            return self.handoff.failed(task, e), False
        except Exception:
            # Something unforeseen: leave what is recorded as it is (the next decision looks if a call may
            # have happened) and let the pair go at once rather than when the lease runs out.
            self.ledger.finish(
                *pair,
                work.token,
                PairWrite(work.view.link_id, work.flight or work.view.in_flight, error="interrupted"),
            )
            raise
        written = self.ledger.finish(*pair, work.token, write, also=also)
        return outcome, written and also is not None

    def _decide_after(self, work: _Claimed, found: tuple[int, ...]) -> None:
        """What the look found decides the action; a call that follows it goes on record first."""
        now = self.clock()
        work.action = decide(work.view, now=now, settle=self.timeouts.settle, found=found)
        work.flight = in_flight_for(work.action, now=now)
        kept = work.action.link_id if isinstance(work.action, Keep) else None
        if work.flight is not None:
            state = work.state
            self.ledger.note_in_flight(state.issue_id, state.ticket_id, work.token, work.flight, link_id=kept)

    def _look(self, work: _Claimed, look: Look) -> tuple[int, ...]:
        issue_id, ticket_id = work.state.issue_id, work.state.ticket_id
        if look.link_id is None:
            return self._find(issue_id, ticket_id)
        try:
            link = self.zendesk.show_link(look.link_id)
        except errors.ZendeskNotFoundError:
            return ()
        return (link.id,) if (link.issue_id, link.ticket_id) == (issue_id, ticket_id) else ()

    def _find(self, issue_id: str, ticket_id: str) -> tuple[int, ...]:
        """The ids of the ticket's links to this issue (several only if Zendesk accepted a repeat)."""
        links = self.zendesk.iter_links(ticket_id=ticket_id)
        return tuple(link.id for link in links if (link.issue_id, link.ticket_id) == (issue_id, ticket_id))

    def _execute(self, work: _Claimed) -> tuple[PairWrite, Outcome]:
        match work.action:
            case Create():
                return self._create(work)
            case Delete(link_ids):
                deleted = self._delete(link_ids, work)
                return PairWrite(None), Outcome(deleted=deleted, unchanged=0 if deleted else 1)
            case Keep(link_id, extras):
                return self._keep(work, link_id, extras)
            case Forget():
                return PairWrite(None), Outcome(unchanged=1)
        raise AssertionError(f"no Zendesk call for {work.action!r}")  # pragma: no cover

    def _create(self, work: _Claimed) -> tuple[PairWrite, Outcome]:
        record = work.state.record
        assert record is not None  # nosec B101  # a pair is only created when a record wants it
        try:
            link = self.zendesk.create_link(
                issue_id=record.issue_id, issue_key=record.issue_key, ticket_id=record.ticket_id
            )
        except errors.ZendeskValidationError:
            # Zendesk refuses a second link for the same pair: adopt the one it has.
            self._decide_after(work, self._find(record.issue_id, record.ticket_id))
            if not isinstance(work.action, Keep):
                raise
            return self._keep(work, work.action.link_id, work.action.extras)
        self.handoff.count("LinksCreated")
        self.handoff.log.info(
            "created link", extra={**work.ids, "link_id": link.id, "issue_key": record.issue_key}
        )
        return PairWrite(link.id), Outcome(created=1)

    def _keep(self, work: _Claimed, link_id: int, extras: tuple[int, ...]) -> tuple[PairWrite, Outcome]:
        deleted = self._delete(extras, work)
        if deleted:
            self.handoff.log.warning("deleted repeated links", extra={**work.ids, "link_ids": extras})
        if link_id == work.view.link_id:
            record = work.state.record
            return PairWrite(link_id, adopted=bool(record and record.adopted)), Outcome(
                unchanged=1, deleted=deleted
            )
        self.handoff.count("LinksAdopted")
        self.handoff.log.info("adopted existing link", extra={**work.ids, "link_id": link_id})
        return PairWrite(link_id, adopted=True), Outcome(adopted=1, deleted=deleted)

    def _delete(self, link_ids: tuple[int, ...], work: _Claimed) -> int:
        deleted = 0
        for link_id in link_ids:
            try:
                self.zendesk.delete_link(link_id)
            except errors.ZendeskNotFoundError:
                continue  # already gone: that is what we wanted
            deleted += 1
        if deleted:
            self.handoff.count("LinksDeleted", deleted)
            self.handoff.log.info("deleted link", extra={**work.ids, "link_ids": list(link_ids)})
        return deleted
