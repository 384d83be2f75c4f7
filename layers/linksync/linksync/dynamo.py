"""One DynamoDB table, as the ledger and the call budget use it: every call's failure becomes a typed error.

A failed condition is an answer, not a failure: :meth:`Table.conditional` returns False for it. Anything
else that goes wrong (throttling the SDK gave up on, a 500, a broken connection) is a ``HandOffError``:
the work could not be stored, so the caller must not pretend it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .errors import HandOffError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ser = TypeSerializer()
_de = TypeDeserializer()
CONDITION_FAILED = "ConditionalCheckFailedException"


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: ``values(v=3)`` -> ``{":v": {"N": "3"}}``."""
    return {f":{k}": _ser.serialize(v) for k, v in named.items()}


def attr(value: Any) -> dict[str, Any]:
    """One attribute value in DynamoDB's wire form."""
    return dict(_ser.serialize(value))


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """An item's attributes as Python values."""
    return {k: _de.deserialize(v) for k, v in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class Table:
    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.name = table_name
        self.client = client

    def __repr__(self) -> str:
        return f"Table({self.name!r})"

    def call(self, operation: str, **kwargs: Any) -> Any:
        """One request on this table; a failed condition is re-raised as ClientError for ``conditional``."""
        try:
            return getattr(self.client, operation)(TableName=self.name, **kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == CONDITION_FAILED:
                raise
            raise HandOffError(f"DynamoDB {operation} failed: {code}") from e
        except BotoCoreError as e:
            raise HandOffError(f"DynamoDB {operation} failed: {type(e).__name__}") from e

    def conditional(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """The answer when the write happened, None when its condition did not hold."""
        try:
            answer: dict[str, Any] = self.call(operation, **kwargs)
        except ClientError:
            return None
        return answer

    def conditional_or_old(
        self, operation: str, **kwargs: Any
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Like :meth:`conditional`, and when the condition did not hold, the item as it was (one request)."""
        try:
            answer: dict[str, Any] = self.call(
                operation, ReturnValuesOnConditionCheckFailure="ALL_OLD", **kwargs
            )
        except ClientError as e:
            old: dict[str, Any] | None = e.response.get("Item")  # type: ignore[assignment]
            return None, old
        return answer, None

    def transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """TransactWriteItems in one request: None when it happened, else each item's cancellation reason
        code ("None" for the items that were fine, "ConditionalCheckFailed", ...)."""
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise HandOffError(
                    f"DynamoDB transact_write_items failed: {e.response.get('Error', {}).get('Code')}"
                ) from e
            return [str(r.get("Code", "None")) for r in e.response.get("CancellationReasons", [])]
        except BotoCoreError as e:
            raise HandOffError(f"DynamoDB transact_write_items failed: {type(e).__name__}") from e
        return None

    def get_many(self, keys: list[dict[str, Any]], *, rounds: int = 5) -> list[dict[str, Any]]:
        """Strongly consistent BatchGetItem of up to 100 keys, following UnprocessedKeys a bounded number of
        times."""
        request: dict[str, Any] = {self.name: {"Keys": keys, "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        for _ in range(rounds):
            try:
                answer = self.client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as e:
                raise HandOffError(f"DynamoDB batch_get_item failed: {type(e).__name__}") from e
            items += answer.get("Responses", {}).get(self.name, [])
            request = dict(answer.get("UnprocessedKeys") or {})
            if not request:
                return items
        raise HandOffError("DynamoDB batch_get_item left keys unprocessed")

    def query(self, *, max_pages: int = 1000, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item a query matches, page after page (bounded)."""
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        for _ in range(max_pages):
            page = self.call("query", **kwargs, **({"ExclusiveStartKey": start} if start else {}))
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return items
        raise HandOffError(f"DynamoDB query returned more than {max_pages} pages")


class TableStore:
    """What the ledger's parts have in common: one table, and the clock their records are stamped with."""

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = Table(table_name, client=client)
        self.clock = clock

    @property
    def table_name(self) -> str:
        return self.table.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(table_name={self.table.name!r})"
