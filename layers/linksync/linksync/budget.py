"""A shared allowance of vendor calls per minute, so a webhook storm cannot spend the account's whole
rate limit: Zendesk's (200-700 requests a minute by plan, shared with everything else the customer runs),
and Jira's for the keys a Zendesk field names.

Every function takes from the same DynamoDB counter (one item per vendor and minute, expiring by TTL)
before it calls. When the minute's allowance is spent, the work is queued for the next minute, not dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .dynamo import Table, key, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CallBudget:
    def __init__(
        self,
        table_name: str,
        per_minute: int,
        *,
        name: str = "zendesk",
        client: DynamoDBClient,
        clock: Callable[[], float] = time.time,
        on_call: Callable[[], None] = lambda: None,
    ) -> None:
        self.table = Table(table_name, client=client)
        self.per_minute = per_minute
        self.name = name
        self._clock = clock
        self._on_call = on_call  # counts each call granted (the ZendeskCalls metric)

    def used_this_minute(self) -> int:
        """How many calls this minute's allowance has given out (for the operator's status)."""
        minute = int(self._clock() // 60)
        item = self.table.call("get_item", Key=key(f"BUDGET#{self.name}", str(minute)), ConsistentRead=True)
        return int(item.get("Item", {}).get("used", {}).get("N", 0))

    def take(self) -> float | None:
        """Take one call from this minute's allowance: None when granted, else seconds to the next minute.

        With no allowance configured (``per_minute`` 0), every call is granted without a request.
        """
        if self.per_minute <= 0:
            self._on_call()
            return None
        now = self._clock()
        minute = int(now // 60)
        granted = self.table.conditional(
            "update_item",
            Key=key(f"BUDGET#{self.name}", str(minute)),
            UpdateExpression="ADD used :n SET expiration = :exp",
            ConditionExpression="attribute_not_exists(used) OR used < :limit",
            ExpressionAttributeValues=values(n=1, limit=self.per_minute, exp=(minute + 2) * 60),
        )
        if granted is None:
            return max(1.0, (minute + 1) * 60 - now)
        self._on_call()
        return None
