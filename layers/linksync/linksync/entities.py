"""What the ledger keeps per issue or per ticket rather than per pair.

- A field item per issue and per ticket (``sk=JIRA_FIELD`` / ``ZENDESK_FIELD``): the field's last applied
  value, the version that set it and whether that version was carried out to the end. An older event does
  nothing, a replay of a finished one does nothing, and the value it replaced tells which pairs lost their
  claim even while the ticket index lags.
- The same item is the entity's tombstone (``deleted``, expiring after 30 days): a deleted issue or ticket
  gets no new links, so a late "created" or a retry queued before the delete does nothing. Tombstones kept
  before in their own items (``sk=DELETED``) are still honoured.
- A short lock per ticket: one worker at a time reads a ticket's field and applies it.

Same table as the pairs (:mod:`linksync.ledger`); the Powertools idempotency records live there too
(``pk=idempotency#...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .dynamo import TableStore, key, plain, values
from .ledger import TOMBSTONE_SK, field_key, is_tombstone, issue_pk, ticket_pk

Entity = Literal["issue", "ticket"]
TOMBSTONE_TTL_SECONDS = 30 * 24 * 3600
LOCK_RECORD_TTL_SECONDS = 3600


def entity_pk(kind: Entity, entity_id: str) -> str:
    return issue_pk(entity_id) if kind == "issue" else ticket_pk(entity_id)


@dataclass(frozen=True)
class FieldSwap:
    """What beginning a field's version found: ``before``, the value stored until now, and its
    ``version``; refused, ``refused`` says why."""

    applied: bool
    before: frozenset[str] = frozenset()
    resuming: bool = False
    refused: str | None = None
    version: int | None = None


def _vals(item: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(v) for v in item.get("vals") or ())


def _why_refused(old: dict[str, Any], version: int) -> str:
    if old.get("deleted"):
        return "deleted"
    return "done" if old.get("version") == version else "newer"


class Entities(TableStore):
    # ------------------------------------------------------------------ a field's last value

    def begin_field(
        self, kind: Entity, entity_id: str, listed: set[str], version: int, *, lead_ms: int = 0
    ) -> FieldSwap:
        """Store what an issue's Jira field (kind "issue") or a ticket's Zendesk field lists as of
        ``version``, in one request that also refuses a deleted entity, a stale event and a replay.

        ``lead_ms``: ``version`` is a read's time plus this lead (the item remembers it). A stored version
        from another read is compared as it is (reads of one ticket take turns); any other stored version
        at or after the read's time may be a change the read did not see (a late retry of the read, or an
        event applied while it was under way): it is refused as newer, for the caller to read again.

        Applied: ``before`` is what the field listed until now; ``resuming`` when the version before was
        never marked finished (e.g. this very version, whose delivery failed half way). Refused:
        ``refused`` says why ("deleted", "newer", "done"), from the item as it was.
        """
        sets = ["version = :v", "done = :no", *(["vals = :vals"] if listed else [])]
        removes = [] if listed else ["vals"]
        (sets if lead_ms else removes).append("read_lead = :lead" if lead_ms else "read_lead")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        older = "version < :low OR (read_lead = :lead AND version < :v)" if lead_ms else "version < :v"
        answer, old = self.table.conditional_or_old(
            "update_item",
            Key=field_key(kind, entity_id),
            UpdateExpression=update,
            ConditionExpression="attribute_not_exists(deleted) AND (attribute_not_exists(version) "
            f"OR {older} OR (version = :v AND done = :no))",
            ExpressionAttributeValues=values(
                v=version,
                no=False,
                **({"low": version - lead_ms, "lead": lead_ms} if lead_ms else {}),
                **({"vals": set(listed)} if listed else {}),
            ),
            ReturnValues="ALL_OLD",
        )
        if answer is None:
            stored = plain(old or {})
            return FieldSwap(
                applied=False,
                before=_vals(stored),
                refused=_why_refused(stored, version),
                version=int(stored["version"]) if stored.get("version") is not None else None,
            )
        previous = plain(answer.get("Attributes", {}))
        before = _vals(previous)
        # An earlier version begun and never finished (or one stored before versions were marked finished)
        # may have left pairs half done: the caller reads the ledger for them.
        return FieldSwap(
            applied=True,
            before=before,
            resuming=bool(previous) and previous.get("done") is not True,
            version=int(previous["version"]) if previous.get("version") is not None else None,
        )

    def done_item(self, kind: Entity, entity_id: str, version: int) -> dict[str, Any]:
        """The write that marks ``version`` of the field finished, as a TransactWriteItems entry."""
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": field_key(kind, entity_id),
                "UpdateExpression": "SET done = :yes",
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": values(yes=True, v=version),
            }
        }

    def finish_field(self, kind: Entity, entity_id: str, version: int) -> None:
        """Mark ``version`` of the field finished: a replay of it is then refused in one request."""
        item = self.done_item(kind, entity_id, version)["Update"]
        self.table.conditional(
            "update_item",
            Key=item["Key"],
            UpdateExpression=item["UpdateExpression"],
            ConditionExpression=item["ConditionExpression"],
            ExpressionAttributeValues=item["ExpressionAttributeValues"],
        )

    def record_field(self, kind: Entity, entity_id: str, listed: set[str], version: int) -> None:
        """What a reconcile job read of a field, when it is newer than what the ledger has (finished)."""
        update = "SET version = :v, done = :yes" + (", vals = :vals" if listed else " REMOVE vals")
        self.table.conditional(
            "update_item",
            Key=field_key(kind, entity_id),
            UpdateExpression=update,
            ConditionExpression=(
                "attribute_not_exists(deleted) AND (attribute_not_exists(version) OR version < :v)"
            ),
            ExpressionAttributeValues=values(
                v=version, yes=True, **({"vals": set(listed)} if listed else {})
            ),
        )

    # ------------------------------------------------------------------ tombstones

    def is_tombstoned(self, kind: Entity, entity_id: str) -> bool:
        items = self.table.get_many(
            [field_key(kind, entity_id), key(entity_pk(kind, entity_id), TOMBSTONE_SK)]
        )
        return any(is_tombstone(item) for item in items)

    def put_tombstone(self, kind: Entity, entity_id: str, *, once: bool = False) -> bool:
        """The entity is deleted: its field item says so, and expires with it after 30 days.

        ``once`` (a delete event, which the sender may deliver again): refused (False) when a delete of the
        entity was already carried out to the end (:meth:`finish_delete`); else it is begun again.
        """
        now = int(self.clock())
        update = "SET deleted = :yes, deleted_at = :now, expiration = :exp"
        named = {"yes": True, "now": now, "exp": now + TOMBSTONE_TTL_SECONDS}
        if not once:
            self.table.call(
                "update_item",
                Key=field_key(kind, entity_id),
                UpdateExpression=update,
                ExpressionAttributeValues=values(**named),
            )
            return True
        answer = self.table.conditional(
            "update_item",
            Key=field_key(kind, entity_id),
            UpdateExpression=update + ", purged = :no",
            ConditionExpression="attribute_not_exists(purged) OR purged = :no",
            ExpressionAttributeValues=values(no=False, **named),
        )
        return answer is not None

    def finish_delete(self, kind: Entity, entity_id: str) -> None:
        """Every link of the deleted entity is deleted, or on the queue: a redelivery is refused now."""
        self.table.conditional(
            "update_item",
            Key=field_key(kind, entity_id),
            UpdateExpression="SET purged = :yes",
            ConditionExpression="deleted = :yes",
            ExpressionAttributeValues=values(yes=True),
        )

    def remove_tombstone(self, kind: Entity, entity_id: str) -> None:
        self.table.call(
            "update_item",
            Key=field_key(kind, entity_id),
            UpdateExpression="REMOVE deleted, deleted_at, expiration, purged",
        )
        # Tombstones written before they moved into the field item.
        self.table.call("delete_item", Key=key(entity_pk(kind, entity_id), TOMBSTONE_SK))

    # ------------------------------------------------------------------ a short lock per ticket

    def acquire_lock(self, name: str, token: str, *, lease_seconds: float) -> bool:
        now = int(self.clock() * 1000)
        answer = self.table.conditional(
            "put_item",
            Item={
                **key(f"LOCK#{name}", "LOCK"),
                "token": {"S": token},
                "lease_until": {"N": str(now + int(lease_seconds * 1000))},
                "expiration": {"N": str(now // 1000 + LOCK_RECORD_TTL_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
            ExpressionAttributeValues=values(now=now),
        )
        return answer is not None

    def release_lock(self, name: str, token: str) -> None:
        self.table.conditional(
            "delete_item",
            Key=key(f"LOCK#{name}", "LOCK"),
            ConditionExpression="#tk = :t",
            ExpressionAttributeNames={"#tk": "token"},
            ExpressionAttributeValues=values(t=token),
        )
