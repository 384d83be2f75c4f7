"""Applying one field's value: which pairs its issue or ticket should be linked to, as of one version.

``kind`` "issue": the Jira field of an issue, ``wanted`` maps ticket ids to the issue's key. ``kind``
"ticket": the Zendesk field of a ticket, ``wanted`` maps issue ids to their keys.

One request begins it (:meth:`linksync.entities.Entities.begin_field`): the field's new value and version
are stored, and a deleted entity, an older event and a replay of a finished one are refused there. The
pairs the value adds or drops are then brought to what is wanted, and the version is marked finished. A
pair no record names yet takes a short way: its owner, its claim and the create on record go in one
request (:meth:`linksync.pair_sync.PairSync.create_new`), and the "finished" mark rides on the last
create's own write. So a Jira event that links one new pair costs four DynamoDB requests, the call budget's
included. Every owner write is conditional on the version, so two events for one entity handled at once,
or out of order, end with the newer value whatever order their writes land in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .decision import needs_work
from .entities import Entities, Entity, FieldSwap
from .ledger import JIRA_OWNER, ZENDESK_OWNER, Ledger, LinkRecord, NewPair, PairState
from .operations import Outcome, Task
from .pair_sync import PairSync
from .timing import Deadline, Timeouts

REFUSED = {
    "deleted": "{kind} was deleted",
    "newer": "a newer event for this {kind} was already applied",
    "done": "this event was already applied",
}


class FieldClaims:
    def __init__(
        self,
        *,
        ledger: Ledger,
        entities: Entities,
        pairs: PairSync,
        timeouts: Timeouts,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.entities = entities
        self.pairs = pairs
        self.timeouts = timeouts
        self.clock = clock

    def apply(
        self,
        kind: Entity,
        entity_id: str,
        wanted: dict[str, str],
        version: int,
        deadline: Deadline,
        *,
        undecided: Callable[[], Outcome] | None = None,
        margin_ms: int = 0,
        lead_ms: int = 0,
    ) -> Outcome:
        """``undecided``: what to do instead when the ledger holds a version this one cannot be ordered
        against: the same version with another value, or a later one by no more than ``margin_ms`` (the
        versions come from clocks that may differ by that much). Without it, such an event is refused like
        any other stale one. ``lead_ms``: ``version`` is a read's time plus this lead, so a stored version
        within the lead below it cannot be ordered against it either (see ``begin_field``)."""
        swap = self.entities.begin_field(kind, entity_id, set(wanted), version, lead_ms=lead_ms)
        if not swap.applied:
            if undecided is not None and _undecided(swap, set(wanted), version, margin_ms):
                return undecided()
            return Outcome(ignored=REFUSED[swap.refused or "newer"].format(kind=kind))
        return self._carry_out(kind, entity_id, wanted, version, swap, deadline)

    def _carry_out(
        self,
        kind: Entity,
        entity_id: str,
        wanted: dict[str, str],
        version: int,
        swap: FieldSwap,
        deadline: Deadline,
    ) -> Outcome:
        """The begun version's changes, then its "finished" mark."""
        owner = JIRA_OWNER if kind == "issue" else ZENDESK_OWNER
        added, dropped, unfinished = self._changes(kind, entity_id, wanted, swap, owner)
        for other in dropped:
            self.ledger.set_owner(*_pair(kind, entity_id, other), owner, wanted=False, version=version)
        # The "finished" mark can ride on the last create's write when nothing else comes after it.
        last = added[-1] if added and not (dropped or unfinished) else None
        done = self.entities.done_item(kind, entity_id, version)
        outcome, marked = Outcome(), False
        for other in added:
            new = NewPair(*_pair(kind, entity_id, other), wanted[other], owner, version)
            result, written = self._add(
                new, deadline, done if other == last else None, fresh=not swap.resuming
            )
            outcome.merge(result)
            marked |= written
        pairs = [_pair(kind, entity_id, other) for other in [*dropped, *unfinished]]
        outcome.merge(self.pairs.reconcile_all(pairs, deadline))
        if not marked:
            self.entities.finish_field(kind, entity_id, version)
        return outcome

    def _changes(
        self, kind: Entity, entity_id: str, wanted: dict[str, str], swap: FieldSwap, owner: str
    ) -> tuple[list[str], list[str], list[str]]:
        """The pairs to add and to drop, and those an earlier try left unfinished. A first delivery knows
        them from the field's value before; a delivery that resumes a failed one reads the ledger too."""
        if not swap.resuming:
            return sorted(set(wanted) - swap.before), sorted(swap.before - set(wanted)), []
        records = {_other_side(kind, rec): rec for rec in self.ledger.links_of(kind, entity_id)}
        owned = swap.before | {other for other, rec in records.items() if owner in rec.owners}
        dropped = sorted(owned - set(wanted))
        settled = set(wanted) | set(dropped)
        unfinished = [o for o, rec in sorted(records.items()) if o not in settled and self._unfinished(rec)]
        return sorted(wanted), dropped, unfinished

    def _add(
        self, new: NewPair, deadline: Deadline, also: dict[str, Any] | None, *, fresh: bool
    ) -> tuple[Outcome, bool]:
        """Make ``new.owner`` want the pair and bring it in line; whether ``also`` was written with it."""
        if fresh and deadline.has_time():
            created = self.pairs.create_new(new, also=also)
            if not isinstance(created, Task):
                return created
            # The pair has a record after all: the usual path, with the budget's turn already taken.
            self.ledger.want(new)
            return self.pairs.reconcile(created), False
        self.ledger.want(new)
        return self.pairs.reconcile_all([(new.issue_id, new.ticket_id)], deadline), False

    def _unfinished(self, rec: LinkRecord) -> bool:
        now = self.clock()
        view = PairState(rec.issue_id, rec.ticket_id, rec).view(now)
        return needs_work(view, now=now, settle=self.timeouts.settle)


def _undecided(swap: FieldSwap, wanted: set[str], version: int, margin_ms: int) -> bool:
    """Whether a refused version cannot be ordered against the one the ledger holds."""
    if swap.refused == "done":
        return swap.before != wanted  # the same version, another value: two changes in one millisecond
    return swap.refused == "newer" and swap.version is not None and swap.version - version <= margin_ms


def _pair(kind: Entity, entity_id: str, other: str) -> tuple[str, str]:
    """The (issue id, ticket id) of an entity and an id from the other side."""
    return (entity_id, other) if kind == "issue" else (other, entity_id)


def _other_side(kind: Entity, rec: LinkRecord) -> str:
    return rec.ticket_id if kind == "issue" else rec.issue_id
