"""The DynamoDB ledger of pairs: who wants each (issue, ticket) link, which Zendesk link id it has, and
which call may have changed Zendesk without our knowing the result.

One item per pair: ``pk=ISSUE#<issue_id>``, ``sk=TICKET#<ticket_id>``, with the GSI ``ByTicket``
(``gsi1pk=TICKET#<ticket_id>``) for lookups by ticket; no scans. ``owners`` is the set of fields that want
the link (``jira_field``, ``zendesk_field``), each with the version that last set its claim
(``jira_field_v``, ``zendesk_field_v``).

Every write adds one to ``rev``. A worker reads a pair, decides, and claims it on condition that ``rev`` is
still what it read, writing in the same request the call it is about to make (``inflight_*``): so the
decision is made on the record as it is, and a call is on record before it is sent. What the ledger keeps
per issue or ticket (field values, tombstones, locks) is in :mod:`linksync.entities`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .decision import InFlight, PairView
from .dynamo import TableStore, key, plain, values

if TYPE_CHECKING:
    pass

JIRA_OWNER = "jira_field"
ZENDESK_OWNER = "zendesk_field"
GSI_BY_TICKET = "ByTicket"
TOMBSTONE_SK = "DELETED"


def issue_pk(issue_id: str) -> str:
    return f"ISSUE#{issue_id}"


def ticket_pk(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}"


def pair_key(issue_id: str, ticket_id: str) -> dict[str, Any]:
    return key(issue_pk(issue_id), ticket_pk(ticket_id))


def field_key(kind: str, entity_id: str) -> dict[str, Any]:
    """An issue's Jira field item or a ticket's Zendesk field item (its last value, and its tombstone)."""
    if kind == "issue":
        return key(issue_pk(entity_id), "JIRA_FIELD")
    return key(ticket_pk(entity_id), "ZENDESK_FIELD")


def is_tombstone(item: dict[str, Any]) -> bool:
    """A field item that says its entity is deleted, or a tombstone item as they were written before."""
    return item["sk"]["S"] == TOMBSTONE_SK or bool(item.get("deleted", {}).get("BOOL"))


def _is_pair(item: dict[str, Any]) -> bool:
    return bool(item["pk"]["S"].startswith("ISSUE#") and item["sk"]["S"].startswith("TICKET#"))


def _in_flight(data: dict[str, Any]) -> InFlight | None:
    call = data.get("inflight_call")
    if call in ("create", "delete"):
        at = data.get("inflight_at")
        links = tuple(sorted(int(x) for x in data.get("inflight_links") or ()))
        return InFlight(call, int(at) / 1000 if at is not None else None, links)
    # Records written before the in-flight marker: a create that may have landed, a delete that may have.
    if data.get("create_attempted"):
        at = data.get("attempted_at")
        return InFlight("create", int(at) / 1000 if at else None)
    if data.get("link_uncertain") and data.get("link_id") is not None:
        return InFlight("delete", None, (int(data["link_id"]),))
    return None


@dataclass(frozen=True)
class LinkRecord:
    issue_id: str
    ticket_id: str
    issue_key: str = ""
    owners: frozenset[str] = field(default_factory=frozenset)
    link_id: int | None = None
    state: str = "pending"
    in_flight: InFlight | None = None
    adopted: bool = False
    claim_expires: int = 0  # epoch milliseconds; 0 when nobody holds the pair
    rev: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LinkRecord:
        data = plain(item)
        link_id = data.get("link_id")
        return cls(
            issue_id=str(data["issue_id"]),
            ticket_id=str(data["ticket_id"]),
            issue_key=str(data.get("issue_key", "")),
            owners=frozenset(data.get("owners") or ()),
            link_id=int(link_id) if link_id is not None else None,
            state=str(data.get("state", "pending")),
            in_flight=_in_flight(data),
            adopted=bool(data.get("adopted", False)),
            claim_expires=int(data.get("claim_expires", 0)) if data.get("claim") else 0,
            rev=int(data.get("rev", 0)),
        )


@dataclass(frozen=True)
class PairState:
    """A pair's ledger record (None if never seen) and whether its issue or its ticket is deleted."""

    issue_id: str
    ticket_id: str
    record: LinkRecord | None
    tombstoned_issue: bool = False
    tombstoned_ticket: bool = False

    @property
    def tombstoned(self) -> bool:
        return self.tombstoned_issue or self.tombstoned_ticket

    def view(self, now: float, *, doubt: bool = False, seen: tuple[int, ...] = ()) -> PairView:
        rec = self.record
        if rec is None:
            return PairView(wanted=False, doubt=doubt, seen=seen)
        return PairView(
            wanted=bool(rec.owners) and not self.tombstoned,
            link_id=rec.link_id,
            in_flight=rec.in_flight,
            held=rec.claim_expires > now * 1000,
            doubt=doubt,
            seen=seen,
            untouched=rec.state == "pending",
        )


@dataclass(frozen=True)
class PairWrite:
    """What a worker learned about a pair under its claim, written as it gives the claim back."""

    link_id: int | None
    in_flight: InFlight | None = None
    adopted: bool = False
    error: str | None = None
    failed: bool = False  # a permanent failure: an operator must act


_LEGACY = "create_attempted, attempted_at, link_uncertain"


class Ledger(TableStore):
    # ------------------------------------------------------------------ reads

    def pair_state(self, issue_id: str, ticket_id: str) -> PairState:
        """The pair's record and both tombstones, in one consistent BatchGetItem."""
        return self.pair_states([(issue_id, ticket_id)])[(issue_id, ticket_id)]

    def pair_states(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], PairState]:
        """Many pairs' records and tombstones, up to 100 keys a request, strongly consistent."""
        issues, tickets = dict.fromkeys(i for i, _ in pairs), dict.fromkeys(t for _, t in pairs)
        keys = [pair_key(i, t) for i, t in pairs]
        keys += [k for i in issues for k in (field_key("issue", i), key(issue_pk(i), TOMBSTONE_SK))]
        keys += [k for t in tickets for k in (field_key("ticket", t), key(ticket_pk(t), TOMBSTONE_SK))]
        items = [
            item
            for start in range(0, len(keys), 100)
            for item in self.table.get_many(keys[start : start + 100])
        ]
        records = {
            (r.issue_id, r.ticket_id): r for r in (LinkRecord.from_item(i) for i in items if _is_pair(i))
        }
        gone = {i["pk"]["S"] for i in items if is_tombstone(i)}
        return {
            (i, t): PairState(i, t, records.get((i, t)), issue_pk(i) in gone, ticket_pk(t) in gone)
            for i, t in pairs
        }

    def links_for_issue(self, issue_id: str) -> list[LinkRecord]:
        items = self.table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
            ExpressionAttributeValues=values(pk=issue_pk(issue_id), t="TICKET#"),
            ConsistentRead=True,
        )
        return [LinkRecord.from_item(i) for i in items]

    def links_for_ticket(self, ticket_id: str) -> list[LinkRecord]:
        """Eventually consistent (a GSI): callers that must not miss a claim read the field's last value."""
        items = self.table.query(
            IndexName=GSI_BY_TICKET,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=values(pk=ticket_pk(ticket_id)),
        )
        return [LinkRecord.from_item(i) for i in items]

    def links_of(self, kind: str, entity_id: str) -> list[LinkRecord]:
        """The pairs of an issue (kind "issue") or of a ticket."""
        return self.links_for_issue(entity_id) if kind == "issue" else self.links_for_ticket(entity_id)

    def pairs_page(self, start: dict[str, Any] | None, limit: int = 500) -> tuple[list[LinkRecord], Any]:
        """One page of a scan over every pair (a full reconcile job and the operator's status read them
        all); returns the records and the key to start the next page from (None at the end)."""
        page = self.table.call(
            "scan",
            FilterExpression="begins_with(pk, :i) AND begins_with(sk, :t)",
            ExpressionAttributeValues=values(i="ISSUE#", t="TICKET#"),
            Limit=limit,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        return [LinkRecord.from_item(i) for i in page.get("Items", [])], page.get("LastEvaluatedKey")

    # ------------------------------------------------------------------ who wants the link

    def set_owner(
        self, issue_id: str, ticket_id: str, owner: str, *, wanted: bool, version: int, issue_key: str = ""
    ) -> bool:
        """Record ``owner``'s claim on the pair as of ``version``: it wants the link, or no longer does.

        An older version than the one that last set this owner's claim does nothing (returns False). A
        release is written even where the pair has no record yet, so an older event arriving later cannot
        add the claim back.
        """
        update = (
            "SET issue_id = :i, ticket_id = :t, gsi1pk = :g1, gsi1sk = :g2, "
            "created_at = if_not_exists(created_at, :now), updated_at = :now, "
            "#st = if_not_exists(#st, :pending), #ov = :v"
        )
        named: dict[str, Any] = {
            "i": issue_id,
            "t": ticket_id,
            "g1": ticket_pk(ticket_id),
            "g2": issue_pk(issue_id),
            "now": int(self.clock()),
            "pending": "pending",
            "v": version,
            "o": {owner},
            "one": 1,
        }
        if wanted:
            update += ", issue_key = :k"
            named["k"] = issue_key
        change = "ADD owners :o, rev :one" if wanted else "ADD rev :one DELETE owners :o"
        return (
            self.table.conditional(
                "update_item",
                Key=pair_key(issue_id, ticket_id),
                UpdateExpression=f"{update} {change}",
                ConditionExpression="attribute_not_exists(#ov) OR #ov <= :v",
                ExpressionAttributeNames={"#st": "state", "#ov": f"{owner}_v"},
                ExpressionAttributeValues=values(**named),
            )
            is not None
        )

    def want(self, new: NewPair) -> bool:
        """:meth:`set_owner` for a pair a field has just named."""
        return self.set_owner(
            new.issue_id, new.ticket_id, new.owner, wanted=True, version=new.version, issue_key=new.issue_key
        )

    def clear_owners(self, issue_id: str, ticket_id: str) -> None:
        """Nobody wants the pair any more, whatever the versions (its issue or ticket is gone)."""
        self.table.conditional(
            "update_item",
            Key=pair_key(issue_id, ticket_id),
            UpdateExpression="REMOVE owners SET updated_at = :now ADD rev :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values(now=int(self.clock()), one=1),
        )

    # ------------------------------------------------------------------ claims around Zendesk calls

    def claim(
        self,
        state: PairState,
        token: str,
        *,
        lease_seconds: float,
        in_flight: InFlight | None = None,
    ) -> bool:
        """Take the pair for one worker, on condition that its record is still the one in ``state``.

        ``in_flight``, when given, is written in the same request: the call is on record before it is sent
        (None leaves the record's as it is, e.g. for a look). False when the record changed since it was
        read (read it again) or someone else holds it.
        """
        rev = state.record.rev if state.record is not None else 0
        now = int(self.clock() * 1000)
        update = ["claim = :c", "claim_expires = :e", "updated_at = :s"]
        named: dict[str, Any] = {"c": token, "e": now + int(lease_seconds * 1000), "s": now // 1000}
        removes: list[str] = []
        if in_flight is not None:
            _write_in_flight(in_flight, update, removes, named)
        named.update(one=1, now=now)
        same_rev = "rev = :rev" if rev else "attribute_not_exists(rev)"
        if rev:
            named["rev"] = rev
        expression = "SET " + ", ".join(update) + (" REMOVE " + ", ".join(removes) if removes else "")
        return (
            self.table.conditional(
                "update_item",
                Key=pair_key(state.issue_id, state.ticket_id),
                UpdateExpression=expression + " ADD rev :one",
                ConditionExpression=(
                    f"attribute_exists(pk) AND {same_rev} "
                    "AND (attribute_not_exists(claim) OR claim_expires < :now)"
                ),
                ExpressionAttributeValues=values(**named),
            )
            is not None
        )

    def note_in_flight(
        self, issue_id: str, ticket_id: str, token: str, in_flight: InFlight, *, link_id: int | None = None
    ) -> bool:
        """Under our claim: record a call before it is sent (and the link a look found, if any)."""
        update: list[str] = []
        named: dict[str, Any] = {}
        _write_in_flight(in_flight, update, [], named)
        if link_id is not None:
            update.append("link_id = :l")
            named["l"] = link_id
        return self._under_claim(issue_id, ticket_id, token, "SET " + ", ".join(update), named)

    def finish(
        self,
        issue_id: str,
        ticket_id: str,
        token: str,
        write: PairWrite,
        *,
        also: dict[str, Any] | None = None,
    ) -> bool:
        """Record what the worker learned and give the pair back; ``also``, a TransactWriteItems entry, is
        written in the same request (a field's "finished" mark)."""
        update = ["updated_at = :now"]
        removes = ["claim", "claim_expires", *_LEGACY.split(", ")]
        named: dict[str, Any] = {"now": int(self.clock())}
        _write_in_flight(write.in_flight, update, removes, named)
        if write.link_id is None:
            removes += ["link_id", "adopted"]
        else:
            update += ["link_id = :l", "adopted = :a"]
            named.update(l=write.link_id, a=write.adopted)
        if write.error is None:
            removes.append("last_error")
            update.append("#st = :st")
            named["st"] = "linked" if write.link_id is not None else "unlinked"
        else:
            update.append("last_error = :err")
            named["err"] = write.error[:500]
            if write.failed:
                update.append("#st = :st")
                named["st"] = "failed"
        expression = "SET " + ", ".join(update) + " REMOVE " + ", ".join(removes)
        if also is None:
            return self._under_claim(issue_id, ticket_id, token, expression, named)
        request = self._claimed_update(issue_id, ticket_id, token, expression, named)
        reasons = self.table.transact([{"Update": {"TableName": self.table.name, **request}}, also])
        if reasons is None:
            return True
        if reasons[0] == "None":  # only the other write's condition failed: the pair's own still stands
            return self._under_claim(issue_id, ticket_id, token, expression, named)
        return False

    def _claimed_update(
        self, issue_id: str, ticket_id: str, token: str, expression: str, named: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Key": pair_key(issue_id, ticket_id),
            "UpdateExpression": expression + " ADD rev :one",
            "ConditionExpression": "claim = :c",
            "ExpressionAttributeValues": values(c=token, one=1, **named),
            **({"ExpressionAttributeNames": {"#st": "state"}} if "#st" in expression else {}),
        }

    def _under_claim(
        self, issue_id: str, ticket_id: str, token: str, expression: str, named: dict[str, Any]
    ) -> bool:
        request = self._claimed_update(issue_id, ticket_id, token, expression, named)
        return self.table.conditional("update_item", **request) is not None

    # ------------------------------------------------------------------ a pair nobody has seen

    def create_claimed(self, new: NewPair, token: str, *, lease_seconds: float, in_flight: InFlight) -> str:
        """Record a pair the ledger has never seen, wanted by one field, and claim it with the call on record,
        in one request: "claimed"; or "exists" (it has a record: take the usual path), or "deleted" (its
        issue or ticket is).

        Both sides' tombstones are checked in the same request (the field items, and the items tombstones
        were kept in before).
        """
        now = self.clock()
        named: dict[str, Any] = {
            "issue_id": new.issue_id,
            "ticket_id": new.ticket_id,
            "gsi1pk": ticket_pk(new.ticket_id),
            "gsi1sk": issue_pk(new.issue_id),
            "issue_key": new.issue_key,
            "created_at": int(now),
            "updated_at": int(now),
            "state": "pending",
            "version": new.version,
            "owners": {new.owner},
            "claim": token,
            "claim_expires": int((now + lease_seconds) * 1000),
            "rev": 1,
        }
        # Each attribute is set to the value of the same name; state and the owner's version need a #name.
        names = {"state": "#st", "version": "#ov"}
        update = [f"{names.get(attr, attr)} = :{attr}" for attr in named]
        _write_in_flight(in_flight, update, [], named)
        sides = [field_key("issue", new.issue_id), field_key("ticket", new.ticket_id)]
        legacy = [key(issue_pk(new.issue_id), TOMBSTONE_SK), key(ticket_pk(new.ticket_id), TOMBSTONE_SK)]
        checks = [_check(self.table.name, k, "attribute_not_exists(deleted)") for k in sides]
        checks += [_check(self.table.name, k, "attribute_not_exists(pk)") for k in legacy]
        pair = {
            "Update": {
                "TableName": self.table.name,
                "Key": pair_key(new.issue_id, new.ticket_id),
                "UpdateExpression": "SET " + ", ".join(update),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ExpressionAttributeNames": {"#st": "state", "#ov": f"{new.owner}_v"},
                "ExpressionAttributeValues": values(**named),
            }
        }
        reasons = self.table.transact([*checks, pair])
        if reasons is None:
            return "claimed"
        return (
            "exists"
            if reasons[-1] == "ConditionalCheckFailed" and "ConditionalCheckFailed" not in reasons[:-1]
            else "deleted"
        )


@dataclass(frozen=True)
class NewPair:
    """A pair a field names for the first time: who wants it, as of which version."""

    issue_id: str
    ticket_id: str
    issue_key: str
    owner: str
    version: int


def _check(table: str, item_key: dict[str, Any], condition: str) -> dict[str, Any]:
    return {"ConditionCheck": {"TableName": table, "Key": item_key, "ConditionExpression": condition}}


def _write_in_flight(
    flight: InFlight | None, update: list[str], removes: list[str], named: dict[str, Any]
) -> None:
    """The ``inflight_*`` attributes for ``flight`` (removed when None), added to an update's clauses."""
    if flight is None:
        removes += ["inflight_call", "inflight_at", "inflight_links"]
        return
    update.append("inflight_call = :fc")
    named["fc"] = flight.call
    if flight.sent_at is not None:
        update.append("inflight_at = :fa")
        named["fa"] = int(flight.sent_at * 1000)
    else:
        removes.append("inflight_at")
    if flight.link_ids:
        update.append("inflight_links = :fl")
        named["fl"] = [int(i) for i in flight.link_ids]
    else:
        removes.append("inflight_links")
