"""The DynamoDB ledger: which links should exist, which Zendesk link id each one has, and who wants it.

One item per (issue, ticket) pair: ``pk=ISSUE#<issue_id>``, ``sk=TICKET#<ticket_id>``, with the GSI
``ByTicket`` (``gsi1pk=TICKET#<ticket_id>``) for lookups by ticket; no scans. ``owners`` is the set of
fields that want the link (``jira_field``, ``zendesk_field``): a field change adds or removes only its
own name, and the link should exist while the set is not empty and neither side is deleted.

Each API call on a pair is preceded by a conditional *claim* so two deliveries never call Zendesk for the
same pair at once, and ``create_attempted`` remembers that a POST may have landed even if its answer was
lost. Deleted issues and tickets leave a tombstone (``sk=DELETED``) so a late create does nothing.
The same table holds the Powertools idempotency records (``pk=idempotency#...``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .errors import HandOffError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

JIRA_OWNER = "jira_field"
ZENDESK_OWNER = "zendesk_field"
GSI_BY_TICKET = "ByTicket"
TOMBSTONE_TTL_SECONDS = 30 * 24 * 3600

_ser = TypeSerializer()
_de = TypeDeserializer()


def _issue_pk(issue_id: str) -> str:
    return f"ISSUE#{issue_id}"


def _ticket_pk(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}"


def _key(issue_id: str, ticket_id: str) -> dict[str, Any]:
    return {"pk": {"S": _issue_pk(issue_id)}, "sk": {"S": _ticket_pk(ticket_id)}}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{k}": _ser.serialize(v) for k, v in values.items()}


@dataclass(frozen=True)
class LinkRecord:
    issue_id: str
    ticket_id: str
    issue_key: str = ""
    owners: frozenset[str] = field(default_factory=frozenset)
    link_id: int | None = None
    state: str = "pending"
    create_attempted: bool = False
    attempted_at: int = 0  # epoch milliseconds of the last create attempt
    link_uncertain: bool = False  # a delete of link_id failed without telling whether it happened
    adopted: bool = False
    claim: str | None = None
    claim_expires: int = 0  # epoch milliseconds
    last_error: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LinkRecord:
        data = {k: _de.deserialize(v) for k, v in item.items()}
        link_id = data.get("link_id")
        return cls(
            issue_id=str(data["issue_id"]),
            ticket_id=str(data["ticket_id"]),
            issue_key=str(data.get("issue_key", "")),
            owners=frozenset(data.get("owners") or ()),
            link_id=int(link_id) if link_id is not None else None,
            state=str(data.get("state", "pending")),
            create_attempted=bool(data.get("create_attempted", False)),
            attempted_at=int(data.get("attempted_at", 0)),
            link_uncertain=bool(data.get("link_uncertain", False)),
            adopted=bool(data.get("adopted", False)),
            claim=data.get("claim"),
            claim_expires=int(data.get("claim_expires", 0)),
            last_error=data.get("last_error"),
        )


@dataclass(frozen=True)
class PairState:
    """A pair's ledger record (None if never seen) and whether either side is deleted."""

    record: LinkRecord | None
    tombstoned: bool

    @property
    def desired(self) -> bool:
        return bool(self.record and self.record.owners) and not self.tombstoned


class Ledger:
    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table_name = table_name
        self._db = client

    def __repr__(self) -> str:
        return f"Ledger(table_name={self.table_name!r})"

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._db, operation)(TableName=self.table_name, **kwargs)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise
            raise HandOffError(
                f"DynamoDB {operation} failed: {e.response.get('Error', {}).get('Code')}"
            ) from e
        except BotoCoreError as e:
            raise HandOffError(f"DynamoDB {operation} failed: {type(e).__name__}") from e

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        """True when the write happened, False when its condition did not hold."""
        try:
            self._call(operation, **kwargs)
        except ClientError:
            return False
        return True

    # ------------------------------------------------------------------ reads

    def pair_state(self, issue_id: str, ticket_id: str) -> PairState:
        """The pair's record and both tombstones, in one consistent BatchGetItem."""
        keys = [
            _key(issue_id, ticket_id),
            {"pk": {"S": _issue_pk(issue_id)}, "sk": {"S": "DELETED"}},
            {"pk": {"S": _ticket_pk(ticket_id)}, "sk": {"S": "DELETED"}},
        ]
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        for _ in range(5):
            try:
                answer = self._db.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as e:
                raise HandOffError(f"DynamoDB batch_get_item failed: {type(e).__name__}") from e
            items += answer.get("Responses", {}).get(self.table_name, [])
            request = dict(answer.get("UnprocessedKeys") or {})
            if not request:
                break
        else:
            raise HandOffError("DynamoDB batch_get_item left keys unprocessed")
        record = None
        tombstoned = False
        for item in items:
            if item["sk"]["S"] == "DELETED":
                tombstoned = True
            else:
                record = LinkRecord.from_item(item)
        return PairState(record, tombstoned)

    def _query(self, **kwargs: Any) -> list[LinkRecord]:
        records: list[LinkRecord] = []
        start: dict[str, Any] | None = None
        while True:
            page = self._call("query", **kwargs, **({"ExclusiveStartKey": start} if start else {}))
            records += [LinkRecord.from_item(item) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return records

    def links_for_issue(self, issue_id: str) -> list[LinkRecord]:
        return self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
            ExpressionAttributeValues=_values(pk=_issue_pk(issue_id), t="TICKET#"),
            ConsistentRead=True,
        )

    def links_for_ticket(self, ticket_id: str) -> list[LinkRecord]:
        return self._query(
            IndexName=GSI_BY_TICKET,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_values(pk=_ticket_pk(ticket_id)),
        )

    def is_tombstoned(self, kind: str, entity_id: str) -> bool:
        pk = _issue_pk(entity_id) if kind == "issue" else _ticket_pk(entity_id)
        answer = self._call("get_item", Key={"pk": {"S": pk}, "sk": {"S": "DELETED"}}, ConsistentRead=True)
        return "Item" in answer

    # ------------------------------------------------------------------ desired state

    def add_owner(
        self, issue_id: str, ticket_id: str, issue_key: str, owner: str, *, version: int | None = None
    ) -> bool:
        """Record that ``owner`` wants the pair linked. With a ``version``, an older event than the one that
        last set this owner's claim does nothing (returns False)."""
        now = int(time.time())
        update = (
            "SET issue_id = :i, ticket_id = :t, issue_key = :k, gsi1pk = :g1, gsi1sk = :g2, "
            "created_at = if_not_exists(created_at, :now), updated_at = :now, "
            "#st = if_not_exists(#st, :pending)"
        )
        names = {"#st": "state"}
        values: dict[str, Any] = {
            "i": issue_id,
            "t": ticket_id,
            "k": issue_key,
            "g1": _ticket_pk(ticket_id),
            "g2": _issue_pk(issue_id),
            "now": now,
            "pending": "pending",
            "o": {owner},
        }
        kwargs: dict[str, Any] = {}
        if version is not None:
            update += ", #ov = :v"
            names["#ov"] = f"{owner}_v"
            values["v"] = version
            kwargs["ConditionExpression"] = "attribute_not_exists(#ov) OR #ov <= :v"
        return self._conditional(
            "update_item",
            Key=_key(issue_id, ticket_id),
            UpdateExpression=update + " ADD owners :o",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_values(**values),
            **kwargs,
        )

    def remove_owner(self, issue_id: str, ticket_id: str, owner: str, *, version: int) -> bool:
        """Drop ``owner``'s claim as of ``version``. Writes the version even where the pair has no record yet,
        so an older event arriving later cannot add the claim back."""
        return self._conditional(
            "update_item",
            Key=_key(issue_id, ticket_id),
            UpdateExpression=(
                "SET issue_id = :i, ticket_id = :t, gsi1pk = :g1, gsi1sk = :g2, "
                "created_at = if_not_exists(created_at, :now), updated_at = :now, "
                "#st = if_not_exists(#st, :pending), #ov = :v DELETE owners :o"
            ),
            ConditionExpression="attribute_not_exists(#ov) OR #ov <= :v",
            ExpressionAttributeNames={"#st": "state", "#ov": f"{owner}_v"},
            ExpressionAttributeValues=_values(
                i=issue_id,
                t=ticket_id,
                g1=_ticket_pk(ticket_id),
                g2=_issue_pk(issue_id),
                now=int(time.time()),
                pending="pending",
                v=version,
                o={owner},
            ),
        )

    def remove_owners(self, issue_id: str, ticket_id: str, owners: Iterable[str] | None = None) -> None:
        """Remove some owners, or all of them (None), from a pair that exists, whatever their versions."""
        names = set(owners) if owners is not None else None
        if names is not None and not names:
            return
        update = "DELETE owners :o SET updated_at = :now" if names else "REMOVE owners SET updated_at = :now"
        values = _values(now=int(time.time()), **({"o": names} if names else {}))
        self._conditional(
            "update_item",
            Key=_key(issue_id, ticket_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )

    def swap_field_set(self, kind: str, entity_id: str, values: set[str], version: int) -> set[str] | None:
        """Store what an issue's (kind "issue") or ticket's field lists as of ``version``; returns what it
        listed before, or None when a newer version is already stored (this event is stale)."""
        key = (
            {"pk": {"S": _issue_pk(entity_id)}, "sk": {"S": "JIRA_FIELD"}}
            if kind == "issue"
            else {"pk": {"S": _ticket_pk(entity_id)}, "sk": {"S": "ZENDESK_FIELD"}}
        )
        update = "SET version = :v, vals = :vals" if values else "SET version = :v REMOVE vals"
        try:
            answer = self._call(
                "update_item",
                Key=key,
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(version) OR version <= :v",
                ExpressionAttributeValues=_values(v=version, **({"vals": set(values)} if values else {})),
                ReturnValues="ALL_OLD",
            )
        except ClientError:
            return None
        old = answer.get("Attributes", {}).get("vals")
        return {str(v) for v in _de.deserialize(old)} if old else set()

    def acquire_lock(self, name: str, token: str, *, lease_seconds: float) -> bool:
        """A short lease so only one delivery at a time reads and applies one entity's truth."""
        now = int(time.time() * 1000)
        return self._conditional(
            "put_item",
            Item={
                "pk": {"S": f"LOCK#{name}"},
                "sk": {"S": "LOCK"},
                "token": {"S": token},
                "lease_until": {"N": str(now + int(lease_seconds * 1000))},
                "expiration": {"N": str(now // 1000 + 3600)},
            },
            ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )

    def release_lock(self, name: str, token: str) -> None:
        self._conditional(
            "delete_item",
            Key={"pk": {"S": f"LOCK#{name}"}, "sk": {"S": "LOCK"}},
            ConditionExpression="#tk = :t",
            ExpressionAttributeNames={"#tk": "token"},
            ExpressionAttributeValues={":t": {"S": token}},
        )

    def put_tombstone(self, kind: str, entity_id: str) -> None:
        pk = _issue_pk(entity_id) if kind == "issue" else _ticket_pk(entity_id)
        now = int(time.time())
        self._call(
            "put_item",
            Item={
                "pk": {"S": pk},
                "sk": {"S": "DELETED"},
                "deleted_at": {"N": str(now)},
                "expiration": {"N": str(now + TOMBSTONE_TTL_SECONDS)},
            },
        )

    def remove_tombstone(self, kind: str, entity_id: str) -> None:
        pk = _issue_pk(entity_id) if kind == "issue" else _ticket_pk(entity_id)
        self._call("delete_item", Key={"pk": {"S": pk}, "sk": {"S": "DELETED"}})

    # ------------------------------------------------------------------ claims around API calls

    def claim(
        self, issue_id: str, ticket_id: str, token: str, *, lease_seconds: float, creating: bool
    ) -> LinkRecord | None:
        """Take the pair for one API call; returns the record as it was when the claim was taken (None if
        someone else holds it).

        Deciding from this copy, not from an earlier read, keeps a delivery that read before another one
        finished from acting on stale state. ``creating`` also records that a POST may land.
        """
        now = int(time.time() * 1000)  # milliseconds: the serializer takes ints, not floats
        update = "SET claim = :c, claim_expires = :e"
        if creating:
            update += ", create_attempted = :true, attempted_at = :now"
        try:
            answer = self._call(
                "update_item",
                Key=_key(issue_id, ticket_id),
                UpdateExpression=update,
                ConditionExpression=(
                    "attribute_exists(pk) AND (attribute_not_exists(claim) OR claim_expires < :now)"
                ),
                ExpressionAttributeValues=_values(
                    c=token,
                    e=now + int(lease_seconds * 1000),
                    now=now,
                    **({"true": True} if creating else {}),
                ),
                ReturnValues="ALL_OLD",
            )
        except ClientError:
            return None
        return LinkRecord.from_item(answer["Attributes"])

    def release_claim(
        self, issue_id: str, ticket_id: str, token: str, *, create_attempted: bool, attempted_at: int
    ) -> None:
        """Give the pair back untouched: ``create_attempted``/``attempted_at`` as they were before the claim
        (no call was made under it)."""
        update = "SET updated_at = :now, create_attempted = :ca"
        values: dict[str, Any] = {"ca": create_attempted}
        if attempted_at:
            update += ", attempted_at = :at REMOVE claim, claim_expires"
            values["at"] = attempted_at
        else:
            update += " REMOVE claim, claim_expires, attempted_at"
        self._finish(issue_id, ticket_id, token, update, **values)

    def finish_linked(
        self, issue_id: str, ticket_id: str, token: str, *, link_id: int, adopted: bool
    ) -> None:
        self._finish(
            issue_id,
            ticket_id,
            token,
            "SET link_id = :l, #st = :s, adopted = :a, create_attempted = :f, updated_at = :now "
            "REMOVE claim, claim_expires, last_error, link_uncertain, attempted_at",
            l=link_id,
            s="linked",
            a=adopted,
            f=False,
        )

    def finish_unlinked(self, issue_id: str, ticket_id: str, token: str) -> None:
        self._finish(
            issue_id,
            ticket_id,
            token,
            "SET #st = :s, create_attempted = :f, updated_at = :now "
            "REMOVE link_id, claim, claim_expires, last_error, adopted, link_uncertain",
            s="unlinked",
            f=False,
        )

    def release(
        self,
        issue_id: str,
        ticket_id: str,
        token: str,
        *,
        error: str,
        failed: bool = False,
        answered: bool = False,
        delete_failed: bool = False,
    ) -> None:
        """Give the pair back after a failed call, noting why. ``answered``: the vendor replied, so the call
        is over and cannot land later (no need to wait before looking for it). ``delete_failed``: a DELETE
        of the pair's link failed, so whether the link still exists must be checked before relying on it."""
        update = "SET last_error = :e, updated_at = :now"
        values: dict[str, Any] = {"e": error[:500]}
        if failed:
            update += ", #st = :s"
            values["s"] = "failed"
        if delete_failed:
            update += ", link_uncertain = :u"
            values["u"] = True
        update += " REMOVE claim, claim_expires"
        if answered:
            update += ", attempted_at"
        self._finish(issue_id, ticket_id, token, update, **values)

    def _finish(self, issue_id: str, ticket_id: str, token: str, update: str, **values: Any) -> None:
        names = {"#st": "state"} if "#st" in update else {}
        self._conditional(
            "update_item",
            Key=_key(issue_id, ticket_id),
            UpdateExpression=update,
            ConditionExpression="claim = :c",
            ExpressionAttributeValues=_values(c=token, now=int(time.time()), **values),
            **({"ExpressionAttributeNames": names} if names else {}),
        )
