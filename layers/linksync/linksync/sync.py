"""The sync service: from an event to the links that should exist, and from there to Zendesk.

Every event becomes *desired state* for one issue or one ticket (its field's current value, or "nothing"
after a delete). The ledger records that state; ``reconcile`` then brings one (issue, ticket) pair in line
with it, calling Zendesk at most once per pair under a claim. Anything that fails is rescheduled on the
retry queue as one operation per pair (or per ticket read, or per purge) and re-checked against the ledger
when it runs, so replays, duplicates, out-of-order deliveries and late retries all converge.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import errors
from .budget import ZendeskBudget
from .events import JiraEvent, ZendeskEvent
from .fields import parse_issue_keys, parse_ticket_ids
from .jira import JiraIssueRef
from .ledger import JIRA_OWNER, ZENDESK_OWNER, Ledger, LinkRecord, PairState
from .retry_queue import RetryQueue
from .zendesk import JiraLink, Ticket

CLAIM_LEASE_SECONDS = 30.0
CONTENTION_RETRY_AFTER = 5.0
TICKET_LOCK_SECONDS = 60.0
# A create that timed out may still land a little later. Until this long after it, not finding it is not
# proof it failed: wait rather than POST again (services set it from the vendor timeouts).
SETTLE_SECONDS = 10.0


class _SettlingError(Exception):
    """An earlier create may still be in flight; look again after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"an earlier create may still land; waiting {wait:.1f}s")
        self.wait = wait


# Below this much time left in the invocation, a pair is queued instead of called inline, so no call is
# still running when Lambda's timeout hits. Services set it from the vendor timeouts: a reconcile makes
# at most two calls that can each take connect + read timeout.
DEFER_BELOW_SECONDS = 2 * (3.05 + 5.0) + 1


class ZendeskApi(Protocol):
    def create_link(self, *, issue_id: str, issue_key: str, ticket_id: str) -> JiraLink: ...
    def delete_link(self, link_id: int) -> None: ...
    def show_link(self, link_id: int) -> JiraLink: ...
    def iter_links(self, *, ticket_id: str | None = None, page_size: int = 100) -> Iterator[JiraLink]: ...
    def iter_links_deprecated(
        self,
        *,
        ticket_id: str | None = None,
        issue_id: str | None = None,
        limit: int = 100,
        since_id: int | None = None,
    ) -> Iterator[JiraLink]: ...
    def get_ticket(self, ticket_id: str) -> Ticket: ...


class JiraApi(Protocol):
    def resolve_issue_id(self, key: str) -> JiraIssueRef: ...


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


class _NoMetrics:
    def add_metric(self, name: str, unit: Any, value: float) -> None:
        return None


@dataclass
class Outcome:
    """What one event or operation did, for the log line and the HTTP answer."""

    created: int = 0
    deleted: int = 0
    adopted: int = 0
    unchanged: int = 0
    queued: int = 0
    dead_lettered: int = 0
    ignored: str | None = None
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Outcome) -> Outcome:
        for name in ("created", "deleted", "adopted", "unchanged", "queued", "dead_lettered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes += other.notes
        return self

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            k: getattr(self, k)
            for k in ("created", "deleted", "adopted", "unchanged", "queued", "dead_lettered")
        }
        if self.ignored:
            data["ignored"] = self.ignored
        if self.notes:
            data["notes"] = self.notes[:20]
        return data


def _settled(state: PairState) -> bool:
    """Nothing to do: no record, linked as wanted, or unlinked with no create that might have landed."""
    rec = state.record
    if rec is None:
        return True
    if state.desired:
        return rec.link_id is not None and not rec.link_uncertain
    return rec.link_id is None and not rec.create_attempted


def _unfinished(rec: LinkRecord) -> bool:
    """A record whose link does not (yet) match who wants it, as far as the record alone can tell."""
    if rec.owners:
        return rec.link_id is None or rec.link_uncertain
    return rec.link_id is not None or rec.create_attempted


class SyncService:
    def __init__(
        self,
        *,
        zendesk: ZendeskApi,
        jira: JiraApi,
        ledger: Ledger,
        queue: RetryQueue,
        zendesk_issue_field: str,
        metrics: MetricsSink | None = None,
        logger: logging.Logger | Any = None,
        budget: ZendeskBudget | None = None,
    ) -> None:
        self.zendesk = zendesk
        self.jira = jira
        self.ledger = ledger
        self.queue = queue
        self.zendesk_issue_field = str(zendesk_issue_field)
        self.budget = budget
        self.metrics = metrics or _NoMetrics()
        self.log = logger or logging.getLogger(__name__)
        # Seconds left in the current invocation; the handler sets it from the Lambda context.
        self.time_left: Callable[[], float] = lambda: float("inf")
        self.defer_below = DEFER_BELOW_SECONDS
        self.settle_seconds = SETTLE_SECONDS

    def _over_budget(self, operation: dict[str, Any], outcome: Outcome) -> bool:
        """True (and the operation queued for the next minute) when the Zendesk allowance is spent."""
        wait = self.budget.take() if self.budget is not None else None
        if wait is None:
            return False
        self.queue.schedule({**operation, "attempt": int(operation.get("attempt", 0)) - 1}, retry_after=wait)
        self._count("BudgetDeferred")
        self.log.info("Zendesk call budget spent for this minute; queued", extra={"delay_seconds": wait})
        outcome.queued += 1
        return True

    def _count(self, name: str, value: int = 1) -> None:
        if value:
            self.metrics.add_metric(name=name, unit="Count", value=value)

    # ------------------------------------------------------------------ events

    def handle_jira(self, event: JiraEvent) -> Outcome:
        if event.action == "ignore":
            return Outcome(ignored=event.reason)
        if event.action == "delete":
            return self.purge("issue", event.issue_id)
        if self.ledger.is_tombstoned("issue", event.issue_id):
            return Outcome(ignored="issue was deleted")
        parsed = parse_ticket_ids(event.field_value)
        outcome = Outcome()
        if parsed.rejected:
            self.log.warning(
                "ignoring values in the Jira ticket field", extra={"rejected": parsed.rejected[:10]}
            )
            outcome.notes.append(f"ignored {len(parsed.rejected)} value(s) that are not ticket ids")
        version = event.timestamp if event.timestamp is not None else int(time.time() * 1000)
        wanted = dict.fromkeys(parsed.values, event.issue_key)
        pairs = self._set_field_claims("issue", event.issue_id, wanted, version)
        if pairs is None:
            return Outcome(ignored="a newer event for this issue was already applied")
        return outcome.merge(self.reconcile_all(pairs))

    def handle_zendesk(self, event: ZendeskEvent) -> Outcome:
        if event.action == "ignore":
            return Outcome(ignored=event.reason)
        if event.action == "delete":
            # A soft-deleted ticket can come back: keep who wanted its links, the tombstone stops them.
            return self.purge(
                "ticket", event.ticket_id, keep_owners=event.event_type == "ticket.soft_deleted"
            )
        if event.action == "restore":
            return self.restore_ticket(event.ticket_id)
        # Event subscriptions and the trigger body alike: the Tickets API's current value is the truth.
        return self.sync_ticket(event.ticket_id)

    # ------------------------------------------------------------------ retry-queue operations

    def run(self, operation: dict[str, Any]) -> Outcome:
        """Carry out one operation taken from the retry queue."""
        op = operation.get("op")
        if op == "reconcile":
            return self.reconcile(str(operation["issue_id"]), str(operation["ticket_id"]), operation)
        if op == "sync_ticket":
            return self.sync_ticket(str(operation["ticket_id"]), operation)
        if op == "purge":
            return self.purge(str(operation["kind"]), str(operation["id"]), operation)
        if op == "delete_link":
            return self.delete_link(int(operation["link_id"]), operation)
        raise ValueError(f"unknown operation {op!r}")

    # ------------------------------------------------------------------ desired state

    def _set_field_claims(
        self, kind: str, entity_id: str, wanted: dict[str, str], version: int
    ) -> list[tuple[str, str]] | None:
        """Make one field's claims match its value as of ``version``; returns the pairs to reconcile.

        ``kind`` "issue": the Jira field of issue ``entity_id``, ``wanted`` maps ticket ids to the issue's
        key. ``kind`` "ticket": the Zendesk field of ticket ``entity_id``, ``wanted`` maps issue ids to keys.
        Every write is conditional on the version, so two events for one entity handled at the same time,
        or in the wrong order, end with the newer one's value whatever order their writes land in. None
        when a newer version was already applied.
        """
        owner = JIRA_OWNER if kind == "issue" else ZENDESK_OWNER

        def pair(other: str) -> tuple[str, str]:
            return (entity_id, other) if kind == "issue" else (other, entity_id)

        before = self.ledger.swap_field_set(kind, entity_id, set(wanted), version)
        if before is None:
            return None
        if kind == "issue":
            current = {rec.ticket_id: rec for rec in self.ledger.links_for_issue(entity_id)}
        else:
            current = {rec.issue_id: rec for rec in self.ledger.links_for_ticket(entity_id)}
        pairs: list[tuple[str, str]] = []
        for other, key in sorted(wanted.items()):
            self.ledger.add_owner(*pair(other), key, owner, version=version)
            pairs.append(pair(other))
        # The ticket index lags its table a little; the field's previous value, read with the swap, does not.
        owned = before | {o for o, rec in current.items() if owner in rec.owners}
        for other in sorted(owned - set(wanted)):
            self.ledger.remove_owner(*pair(other), owner, version=version)
            pairs.append(pair(other))
        # A redelivered event finds its claims already written: pairs an earlier try left unfinished are
        # picked up here, or nobody would ever look at them again.
        pairs += [pair(o) for o, rec in sorted(current.items()) if _unfinished(rec)]
        return pairs

    def sync_ticket(self, ticket_id: str, operation: dict[str, Any] | None = None) -> Outcome:
        """Make the ticket's Zendesk-field links match the field's current value, read from Zendesk.

        One delivery at a time per ticket (a short lease): whoever reads last applies last, so two changes
        handled at once cannot leave the older value in force.
        """
        op = operation or {"op": "sync_ticket", "ticket_id": ticket_id}
        if self.ledger.is_tombstoned("ticket", ticket_id):
            return Outcome(ignored="ticket was deleted")
        outcome = Outcome()
        if self._over_budget(op, outcome):
            return outcome
        token = uuid.uuid4().hex
        lock = f"TICKET#{ticket_id}"
        if not self.ledger.acquire_lock(lock, token, lease_seconds=TICKET_LOCK_SECONDS):
            self.queue.schedule(
                {**op, "attempt": int(op.get("attempt", 0)) - 1}, retry_after=CONTENTION_RETRY_AFTER
            )
            outcome.queued += 1
            return outcome
        try:
            try:
                ticket = self.zendesk.get_ticket(ticket_id)
                version = int(time.time() * 1000)
                parsed = parse_issue_keys(ticket.field_value(self.zendesk_issue_field))
                if parsed.rejected:
                    self.log.warning(
                        "ignoring values in the Zendesk issue field", extra={"rejected": parsed.rejected[:10]}
                    )
                    outcome.notes.append(f"ignored {len(parsed.rejected)} value(s) that are not Jira keys")
                refs: list[JiraIssueRef] = []
                for key in parsed.values:
                    try:
                        refs.append(self.jira.resolve_issue_id(key))
                    except errors.NotFoundError as e:
                        if isinstance(e, errors.ZendeskError):
                            raise
                        self.log.warning("Jira issue not found; not linking it", extra={"issue_key": key})
                        outcome.notes.append(f"{key} does not exist in Jira")
            except errors.NotFoundError as e:
                if isinstance(e, errors.ZendeskError):
                    return outcome.merge(Outcome(ignored="ticket not found in Zendesk"))
                raise
            except errors.ApiError as e:
                return outcome.merge(self._failed(op, e))
            pairs = (
                self._set_field_claims("ticket", ticket_id, {ref.id: ref.key for ref in refs}, version) or []
            )
        finally:
            self.ledger.release_lock(lock, token)
        return outcome.merge(self.reconcile_all(pairs))

    def purge(
        self, kind: str, entity_id: str, operation: dict[str, Any] | None = None, *, keep_owners: bool = False
    ) -> Outcome:
        """An issue or ticket is gone: tombstone it and delete every link it has, ours or not."""
        op = operation or {"op": "purge", "kind": kind, "id": entity_id, "keep_owners": keep_owners}
        keep_owners = bool(op.get("keep_owners", keep_owners))
        self.ledger.put_tombstone(kind, entity_id)
        records = (
            self.ledger.links_for_issue(entity_id)
            if kind == "issue"
            else self.ledger.links_for_ticket(entity_id)
        )
        for rec in records:
            if rec.owners and not keep_owners:
                self.ledger.remove_owners(rec.issue_id, rec.ticket_id, None)
        outcome = self.reconcile_all([(rec.issue_id, rec.ticket_id) for rec in records])
        if self._over_budget(op, outcome):
            return outcome
        try:
            if kind == "issue":
                remaining = list(self.zendesk.iter_links_deprecated(issue_id=entity_id))
                remaining = [link for link in remaining if link.issue_id == entity_id]
            else:
                remaining = [
                    link
                    for link in self.zendesk.iter_links(ticket_id=entity_id)
                    if link.ticket_id == entity_id
                ]
        except errors.ApiError as e:
            return outcome.merge(self._failed(op, e))
        # Links the ledger knows are being deleted (or queued for it) by the reconcile above; the rest were
        # made elsewhere, e.g. by agents in Zendesk's Jira app.
        ours = {rec.link_id for rec in records if rec.link_id is not None}
        for link in remaining:
            if link.id in ours:
                continue
            if self.time_left() < self.defer_below:
                # Out of time: the purge runs again from the queue and lists what is left.
                self.queue.schedule({**op, "attempt": int(op.get("attempt", 0)) - 1})
                outcome.queued += 1
                break
            outcome.merge(
                self.delete_link(
                    link.id,
                    {
                        "op": "delete_link",
                        "link_id": link.id,
                        "issue_id": link.issue_id,
                        "ticket_id": link.ticket_id,
                    },
                )
            )
        return outcome

    def restore_ticket(self, ticket_id: str) -> Outcome:
        """A soft-deleted ticket is back: lift its tombstone, bring back the links its fields still want."""
        self.ledger.remove_tombstone("ticket", ticket_id)
        pairs = [(rec.issue_id, rec.ticket_id) for rec in self.ledger.links_for_ticket(ticket_id)]
        return self.reconcile_all(pairs).merge(self.sync_ticket(ticket_id))

    def delete_link(self, link_id: int, operation: dict[str, Any]) -> Outcome:
        """Delete one Zendesk link by id (one the ledger never made, e.g. an agent's)."""
        try:
            self.zendesk.delete_link(link_id)
        except errors.NotFoundError:
            return Outcome(unchanged=1)
        except errors.ApiError as e:
            return self._failed(operation, e)
        self._count("LinksDeleted")
        self.log.info(
            "deleted link",
            extra={
                "link_id": link_id,
                "issue_id": operation.get("issue_id"),
                "ticket_id": operation.get("ticket_id"),
            },
        )
        return Outcome(deleted=1)

    # ------------------------------------------------------------------ reconcile one pair

    def reconcile_all(self, pairs: Iterable[tuple[str, str]]) -> Outcome:
        outcome = Outcome()
        for issue_id, ticket_id in dict.fromkeys(pairs):
            if self.time_left() < self.defer_below:
                self.queue.schedule(
                    {"op": "reconcile", "issue_id": issue_id, "ticket_id": ticket_id, "attempt": -1}
                )
                outcome.queued += 1
                continue
            outcome.merge(self.reconcile(issue_id, ticket_id))
        return outcome

    def reconcile(self, issue_id: str, ticket_id: str, operation: dict[str, Any] | None = None) -> Outcome:
        """Bring one pair in line with the ledger: create, adopt, delete or nothing."""
        op = operation or {"op": "reconcile", "issue_id": issue_id, "ticket_id": ticket_id}
        outcome = Outcome()
        for _ in range(3):  # again if the desired state changed while we were calling Zendesk
            state = self.ledger.pair_state(issue_id, ticket_id)
            if _settled(state):
                if not any((outcome.created, outcome.deleted, outcome.adopted, outcome.unchanged)):
                    outcome.unchanged += 1
                return outcome
            if self._over_budget(op, outcome):
                return outcome
            token = uuid.uuid4().hex
            creating = state.desired
            before = self.ledger.claim(
                issue_id, ticket_id, token, lease_seconds=CLAIM_LEASE_SECONDS, creating=creating
            )
            if before is None:
                # Another delivery is calling Zendesk for this pair right now; look again shortly.
                self.queue.schedule(
                    {**op, "attempt": int(op.get("attempt", 0)) - 1}, retry_after=CONTENTION_RETRY_AFTER
                )
                outcome.queued += 1
                return outcome
            fresh = PairState(before, state.tombstoned)
            if _settled(fresh) or (fresh.desired and not creating):
                # Someone finished (or changed) this pair between our read and our claim: look again.
                self.ledger.release_claim(
                    issue_id,
                    ticket_id,
                    token,
                    create_attempted=before.create_attempted,
                    attempted_at=before.attempted_at,
                )
                continue
            try:
                # If the wanted state changes while we call Zendesk, that change's own reconcile finds our
                # claim and queues itself, so there is no need to read the pair again here.
                return outcome.merge(self._apply(fresh, token))
            except _SettlingError as wait:
                self.ledger.release_claim(
                    issue_id, ticket_id, token, create_attempted=True, attempted_at=before.attempted_at
                )
                self.queue.schedule({**op, "attempt": int(op.get("attempt", 0)) - 1}, retry_after=wait.wait)
                outcome.queued += 1
                return outcome
            except errors.ApiError as e:
                # An answer, even an error, means the request is over: nothing of it can land later.
                self.ledger.release(
                    issue_id,
                    ticket_id,
                    token,
                    error=str(e),
                    failed=not e.retryable,
                    answered=e.status is not None,
                    delete_failed=not fresh.desired and before.link_id is not None,
                )
                return outcome.merge(self._failed(op, e))
            except BaseException:
                self.ledger.release(issue_id, ticket_id, token, error="interrupted")
                raise
        if not _settled(self.ledger.pair_state(issue_id, ticket_id)):
            self.queue.schedule({**op, "attempt": int(op.get("attempt", 0)) - 1})
            outcome.queued += 1
        return outcome

    def _find_links(self, issue_id: str, ticket_id: str) -> list[JiraLink]:
        """The ticket's links to this issue, oldest first (several only if Zendesk accepted a repeat)."""
        found = [
            link
            for link in self.zendesk.iter_links(ticket_id=ticket_id)
            if link.issue_id == issue_id and link.ticket_id == ticket_id
        ]
        return sorted(found, key=lambda link: link.id)

    def _check_settled_attempt(self, rec: LinkRecord) -> None:
        if rec.create_attempted and rec.attempted_at:
            wait = rec.attempted_at / 1000 + self.settle_seconds - time.time()
            if wait > 0:
                raise _SettlingError(wait)

    def _delete_extras(self, links: list[JiraLink], ids: dict[str, str]) -> int:
        deleted = 0
        for extra in links:
            try:
                self.zendesk.delete_link(extra.id)
                deleted += 1
            except errors.NotFoundError:
                pass
            self.log.warning("deleted a duplicate link", extra={**ids, "link_id": extra.id})
        if deleted:
            self._count("LinksDeleted", deleted)
        return deleted

    def _apply(self, state: PairState, token: str) -> Outcome:
        rec = state.record
        assert rec is not None  # nosec B101  # narrowing: _settled() was False, so a record exists
        ids = {"issue_id": rec.issue_id, "ticket_id": rec.ticket_id}
        if state.desired and rec.link_id is not None and rec.link_uncertain:
            # A delete of this link failed without an answer, then the link was wanted again: is it there?
            try:
                self.zendesk.show_link(rec.link_id)
            except errors.NotFoundError:
                pass
            else:
                self.ledger.finish_linked(
                    rec.issue_id, rec.ticket_id, token, link_id=rec.link_id, adopted=rec.adopted
                )
                return Outcome(unchanged=1)
        if state.desired:
            found = self._find_links(rec.issue_id, rec.ticket_id) if rec.create_attempted else []
            if not found:
                self._check_settled_attempt(rec)
                try:
                    link = self.zendesk.create_link(
                        issue_id=rec.issue_id, issue_key=rec.issue_key, ticket_id=rec.ticket_id
                    )
                except errors.ValidationError:
                    # Zendesk refuses a second link for the same pair: adopt the one it has.
                    found = self._find_links(rec.issue_id, rec.ticket_id)
                    if not found:
                        raise
                else:
                    self.ledger.finish_linked(
                        rec.issue_id, rec.ticket_id, token, link_id=link.id, adopted=False
                    )
                    self._count("LinksCreated")
                    self.log.info(
                        "created link", extra={**ids, "link_id": link.id, "issue_key": rec.issue_key}
                    )
                    return Outcome(created=1)
            keep, extras = found[0], found[1:]
            self.ledger.finish_linked(rec.issue_id, rec.ticket_id, token, link_id=keep.id, adopted=True)
            self._count("LinksAdopted")
            self.log.info("adopted existing link", extra={**ids, "link_id": keep.id})
            return Outcome(adopted=1, deleted=self._delete_extras(extras, ids))

        targets = [rec.link_id] if rec.link_id is not None else []
        if rec.link_id is None and rec.create_attempted:
            targets = [link.id for link in self._find_links(rec.issue_id, rec.ticket_id)]
            if not targets:
                self._check_settled_attempt(rec)
        deleted = 0
        for link_id in targets:
            try:
                self.zendesk.delete_link(link_id)
                deleted += 1
            except errors.NotFoundError:
                pass
        self.ledger.finish_unlinked(rec.issue_id, rec.ticket_id, token)
        if deleted:
            self._count("LinksDeleted", deleted)
            self.log.info("deleted link", extra={**ids, "link_ids": targets})
        return Outcome(deleted=deleted, unchanged=0 if deleted else 1)

    # ------------------------------------------------------------------ failures

    def _failed(self, operation: dict[str, Any], error: errors.ApiError) -> Outcome:
        """Retry what may succeed later; dead-letter the rest with the reason."""
        reason = error.to_dict()
        if error.retryable and not self.queue.exhausted(operation):
            retry_after = error.retry_after if isinstance(error, errors.RateLimitedError) else None
            delay = self.queue.schedule({**operation, "last_error": reason}, retry_after=retry_after)
            self._count("RetriesScheduled")
            self.log.warning(
                "call failed; retry scheduled",
                extra={"error": str(error), "delay_seconds": delay, "operation": operation.get("op")},
            )
            return Outcome(queued=1)
        if error.retryable:
            reason = {**reason, "exhausted_after_attempts": int(operation.get("attempt", 0))}
        self.queue.dead_letter({k: v for k, v in operation.items() if k != "last_error"}, reason)
        self._count("DeadLettered")
        self.log.error(
            "call failed for good; sent to the dead-letter queue",
            extra={"error": str(error), "operation": operation.get("op")},
        )
        return Outcome(dead_lettered=1)
