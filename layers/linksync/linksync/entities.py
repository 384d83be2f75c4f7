"""What the ledger keeps per issue or per ticket rather than per pair.

- A field's last applied value, with the version that set it (``sk=JIRA_FIELD`` / ``ZENDESK_FIELD``): an
  event older than the last one applied does nothing, and the value it replaced tells which pairs lost
  their claim even while the ticket index lags.
- Tombstones (``sk=DELETED``, expiring after 30 days): a deleted issue or ticket gets no new links, so a
  late "created" or a retry queued before the delete does nothing.
- A short lock per ticket: one worker at a time reads a ticket's field and applies it.

Same table as the pairs (:mod:`linksync.ledger`); the Powertools idempotency records live there too
(``pk=idempotency#...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .dynamo import TableStore, key, plain, values
from .ledger import TOMBSTONE_SK, issue_pk, ticket_pk

if TYPE_CHECKING:
    pass

Entity = Literal["issue", "ticket"]
TOMBSTONE_TTL_SECONDS = 30 * 24 * 3600
LOCK_RECORD_TTL_SECONDS = 3600


def entity_pk(kind: Entity, entity_id: str) -> str:
    return issue_pk(entity_id) if kind == "issue" else ticket_pk(entity_id)


class Entities(TableStore):
    # ------------------------------------------------------------------ a field's last value

    def swap_field(self, kind: Entity, entity_id: str, listed: set[str], version: int) -> set[str] | None:
        """Store what an issue's Jira field (kind "issue") or a ticket's Zendesk field lists as of
        ``version``; returns what it listed before, or None when a newer version is stored (a stale event)."""
        sk = "JIRA_FIELD" if kind == "issue" else "ZENDESK_FIELD"
        update = "SET version = :v, vals = :vals" if listed else "SET version = :v REMOVE vals"
        answer = self.table.conditional(
            "update_item",
            Key=key(entity_pk(kind, entity_id), sk),
            UpdateExpression=update,
            ConditionExpression="attribute_not_exists(version) OR version <= :v",
            ExpressionAttributeValues=values(v=version, **({"vals": set(listed)} if listed else {})),
            ReturnValues="ALL_OLD",
        )
        if answer is None:
            return None
        old = plain(answer.get("Attributes", {})).get("vals")
        return {str(v) for v in old} if old else set()

    # ------------------------------------------------------------------ tombstones

    def is_tombstoned(self, kind: Entity, entity_id: str) -> bool:
        answer = self.table.call(
            "get_item", Key=key(entity_pk(kind, entity_id), TOMBSTONE_SK), ConsistentRead=True
        )
        return "Item" in answer

    def put_tombstone(self, kind: Entity, entity_id: str) -> None:
        now = int(self.clock())
        self.table.call(
            "put_item",
            Item={
                **key(entity_pk(kind, entity_id), TOMBSTONE_SK),
                "deleted_at": {"N": str(now)},
                "expiration": {"N": str(now + TOMBSTONE_TTL_SECONDS)},
            },
        )

    def remove_tombstone(self, kind: Entity, entity_id: str) -> None:
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
