"""A shared allowance of Zendesk calls per minute, so a webhook storm cannot spend the account's whole
rate limit (200-700 requests a minute by plan, shared with everything else the customer runs).

Every function takes from the same DynamoDB counter (one item per minute, expiring by TTL) before it
calls Zendesk. When the minute's allowance is spent, the work is queued for the next minute, not dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .errors import HandOffError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ZendeskBudget:
    def __init__(
        self,
        table_name: str,
        per_minute: int,
        *,
        client: DynamoDBClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.per_minute = per_minute
        self._db = client
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def take(self, calls: int = 1) -> float | None:
        """Take ``calls`` from this minute's allowance: None when granted, else seconds to the next minute."""
        if not self.enabled:
            return None
        now = self._clock()
        minute = int(now // 60)
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": "BUDGET#zendesk"}, "sk": {"S": str(minute)}},
                UpdateExpression="ADD used :n SET expiration = :exp",
                ConditionExpression="attribute_not_exists(used) OR used <= :room",
                ExpressionAttributeValues={
                    ":n": {"N": str(calls)},
                    ":room": {"N": str(self.per_minute - calls)},
                    ":exp": {"N": str((minute + 2) * 60)},
                },
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return max(1.0, (minute + 1) * 60 - now)
            raise HandOffError(
                f"DynamoDB update_item failed: {e.response.get('Error', {}).get('Code')}"
            ) from e
        except BotoCoreError as e:
            raise HandOffError(f"DynamoDB update_item failed: {type(e).__name__}") from e
        return None
