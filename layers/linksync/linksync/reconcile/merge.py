"""Joining what the job read, pair by pair, and (when applying) bringing each differing pair to what should
exist through the same claims, decision and budget as the webhooks.

The job's J#, Z#, L# and R# items come back from DynamoDB sorted by (issue, ticket); a step reads the next
few hundred of each and merges them like sorted files, so every pair named anywhere is judged once, and
the cursor (the last pair judged) is all a resumed job needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..desired import LinkSync
from ..entities import Entity
from ..ledger import JIRA_OWNER, ZENDESK_OWNER, Ledger, PairState
from ..operations import Outcome, Purge, Task
from ..timing import Deadline
from .plan import Observed, Verdict, judge
from .store import JobState, JobStore, pad, pair_key, unpair

KINDS = ("J", "Z", "L", "R")
CHUNK = 200


@dataclass
class Chunk:
    """The pairs of one merge step and everything known of them."""

    pairs: list[tuple[str, str]]
    named: dict[str, set[tuple[str, str]]]  # kind -> pairs with an item of that kind
    links: dict[tuple[str, str], tuple[int, ...]]
    keys: dict[tuple[str, str], str]  # issue keys, for the report
    facts: dict[str, dict[str, Any]]  # I#, V#, T# items
    states: dict[tuple[str, str], PairState]


@dataclass
class Merger:
    store: JobStore
    ledger: Ledger
    sync: LinkSync
    clock: Callable[[], float]

    def step(self, job: JobState, deadline: Deadline) -> None:
        chunk, upto = self._next_chunk(job)
        verdicts = {pair: self._judge(job, chunk, pair) for pair in chunk.pairs}
        self._report(job, chunk, verdicts)
        if job.apply:
            self._apply(job, chunk, verdicts, deadline)
        job.cursor = upto
        if upto is None:
            job.phase = "done"

    # ------------------------------------------------------------------ reading a chunk

    def _next_chunk(self, job: JobState) -> tuple[Chunk, str | None]:
        """The pairs after the cursor that every stream has complete, and the new cursor (None: the end)."""
        pages = {kind: self.store.stream(job.job_id, kind, job.cursor, CHUNK) for kind in KINDS}
        bounds = [_safe_bound(kind, sks) for kind, sks in pages.items() if len(sks) >= CHUNK]
        upto = min(bounds) if bounds else None
        named, links = _collect(pages, upto)
        pairs = sorted(set().union(*named.values()), key=lambda p: (pad(p[0]), pad(p[1])))
        wanted = [f"{k}#{pad(i)}" for i, _ in pairs for k in ("I", "V")] + [f"T#{pad(t)}" for _, t in pairs]
        sources = [f"{k}#{pad(i)}#{pad(t)}" for i, t in pairs for k in ("J", "Z", "R")]
        found = self.store.get(job.job_id, sources)
        chunk = Chunk(
            pairs=pairs,
            named=named,
            links=links,
            keys={unpair(sk): str(item.get("key", "")) for sk, item in found.items()},
            facts=self.store.get(job.job_id, wanted),
            states=self.ledger.pair_states(pairs),
        )
        return chunk, upto

    def _judge(self, job: JobState, chunk: Chunk, pair: tuple[str, str]) -> Verdict:
        issue_id, ticket_id = pair
        issue = chunk.facts.get(f"I#{pad(issue_id)}")
        ticket = chunk.facts.get(f"T#{pad(ticket_id)}")
        state = chunk.states[pair]
        full = job.since is None
        seen = Observed(
            jira=(pair in chunk.named["J"]) if _read(issue, absent_is_empty=full) else None,
            # The export leaves out the last minute's changes: a ticket it did not show is not known.
            zendesk=(pair in chunk.named["Z"]) if _read(ticket, absent_is_empty=False) else None,
            links=chunk.links.get(pair, ()),
            issue_live=_issue_live(issue, chunk.facts.get(f"V#{pad(issue_id)}"), state),
            ticket_live=not ticket["deleted"] if ticket else not state.tombstoned_ticket,
        )
        return judge(seen, state.record)

    # ------------------------------------------------------------------ the report

    def _report(self, job: JobState, chunk: Chunk, verdicts: dict[tuple[str, str], Verdict]) -> None:
        counts = job.counts
        differing: dict[str, dict[str, Any]] = {}
        for pair, verdict in verdicts.items():
            counts["desired"] = counts.get("desired", 0) + verdict.desired
            if verdict.drift is not None:
                counts[verdict.drift] = counts.get(verdict.drift, 0) + 1
            counts["ledger_repaired"] = counts.get("ledger_repaired", 0) + verdict.ledger_wrong
            if verdict.differs:
                record = chunk.states[pair].record
                key = chunk.keys.get(pair) or (record.issue_key if record else "")
                differing[f"D#{pad(pair[0])}#{pad(pair[1])}"] = {
                    "issue_id": pair[0],
                    "issue_key": key,
                    "ticket_id": pair[1],
                    "class": verdict.drift or "ledger",
                    "ledger_wrong": verdict.ledger_wrong,
                }
        self.store.put(job.job_id, differing, keep_seconds=30 * 24 * 3600)

    # ------------------------------------------------------------------ applying

    def _apply(
        self, job: JobState, chunk: Chunk, verdicts: dict[tuple[str, str], Verdict], deadline: Deadline
    ) -> None:
        outcome = Outcome()
        purged: set[tuple[Entity, str]] = set()
        for pair, verdict in verdicts.items():
            if verdict.dead:
                for side in verdict.dead:
                    entity = (side, pair[0] if side == "issue" else pair[1])
                    if entity not in purged:
                        purged.add(entity)
                        task = Task(Purge(side, entity[1], keep_owners=side == "ticket"))
                        outcome.merge(self.sync.purge(task, deadline, patient=True))
                continue
            changed = self._set_owners(chunk, pair, verdict)
            if changed or verdict.ledger_wrong or verdict.drift in ("missing", "unwanted"):
                # The job's own listing of Zendesk's links stands in for a look where it can (see
                # PairView.seen): a link the ledger does not know is adopted without listing it again.
                outcome.merge(
                    self.sync.pairs.reconcile_all(
                        [pair],
                        deadline,
                        verify=verdict.ledger_wrong,
                        patient=True,
                        seen={pair: chunk.links.get(pair, ())},
                    )
                )
        for name in ("created", "deleted", "queued"):
            job.counts[name] = job.counts.get(name, 0) + getattr(outcome, name)

    def _set_owners(self, chunk: Chunk, pair: tuple[str, str], verdict: Verdict) -> bool:
        """Make the ledger's owners say what the fields say, each with the version of what was read."""
        record = chunk.states[pair].record
        held = record.owners if record is not None else frozenset()
        issue_id, ticket_id = pair
        key = chunk.keys.get(pair) or (record.issue_key if record else "")
        changed = False
        for owner, fact in ((JIRA_OWNER, f"I#{pad(issue_id)}"), (ZENDESK_OWNER, f"T#{pad(ticket_id)}")):
            wanted = owner in verdict.owners
            if wanted == (owner in held):
                continue
            version = chunk.facts.get(fact, {}).get("v")
            if version is None:
                continue  # this side was not read: the ledger's owner stood in for it, nothing to change
            changed |= self.ledger.set_owner(
                issue_id, ticket_id, owner, wanted=wanted, version=int(version), issue_key=key
            )
        return changed


def _safe_bound(kind: str, sks: list[str]) -> str:
    """The last pair a full page of one kind has complete: a pair's L# items (one per link) may go on in the
    next page, so for L# it is the pair before the last one (unless the page holds only one pair)."""
    last = pair_key(sks[-1])
    if kind != "L":
        return last
    earlier = [pair_key(sk) for sk in sks if pair_key(sk) < last]
    return earlier[-1] if earlier else last


def _collect(
    pages: dict[str, list[str]], upto: str | None
) -> tuple[dict[str, set[tuple[str, str]]], dict[tuple[str, str], tuple[int, ...]]]:
    """The pairs each kind names up to ``upto`` (all of them when None), and the link ids of the L# ones."""
    named: dict[str, set[tuple[str, str]]] = {kind: set() for kind in KINDS}
    links: dict[tuple[str, str], list[int]] = {}
    for kind, sks in pages.items():
        for sk in (sk for sk in sks if upto is None or pair_key(sk) <= upto):
            named[kind].add(unpair(sk))
            if kind == "L":
                links.setdefault(unpair(sk), []).append(int(sk.split("#")[3]))
    return named, {pair: tuple(sorted(ids)) for pair, ids in links.items()}


def _read(fact: dict[str, Any] | None, *, absent_is_empty: bool) -> bool:
    """Whether the job read this side's field: when it read the entity, or when not finding it means the
    field is empty (a full job's Jira search returns every issue whose field is set); never when the field
    was over the limits. Where it was not read, the ledger's owners stand in for it.

    A full job's ticket export is not like that: it shows every ticket but those changed in its last
    minute, so a ticket it did not show may well name issues (a webhook has the change)."""
    return (absent_is_empty or fact is not None) and not (fact or {}).get("refused")


def _issue_live(issue: dict[str, Any] | None, checked: dict[str, Any] | None, state: PairState) -> bool:
    if checked is not None:
        return bool(checked["live"])  # the job asked Jira
    return issue is not None or not state.tombstoned_issue
