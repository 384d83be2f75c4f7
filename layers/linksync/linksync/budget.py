"""A shared, smooth allowance of vendor calls, so a webhook storm cannot spend the account's whole rate limit:
Zendesk's (200-700 requests a minute by plan, shared with everything else the customer runs), and Jira's
for the keys a Zendesk field names.

Every function takes from the same DynamoDB item before it calls. The allowance is a GCRA (the
"theoretical arrival time" form of a token bucket): one item holds ``tat``, the time by which every call
granted so far will have been paid for at ``per_minute``. Taking a call moves ``tat`` on by one interval
and answers how long the caller must wait for its turn (0: now; a short burst is tolerated). A caller that
must wait does not come back to ask again: it has *reserved* its turn, and its task carries that time to
the retry queue, so deferred work is spread out call by call instead of all waking at a minute boundary,
and every turn the allowance gives out is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .dynamo import Table, key, plain, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Calls may go this far ahead of the steady rate (a short burst), in seconds' worth of allowance.
BURST_SECONDS = 10.0
ATTEMPTS = 3


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
        self._on_call = on_call  # counts each call granted (the ZendeskCalls / JiraCalls metric)
        self._tat_seen = 0.0  # the allowance's ``tat`` as this container last saw it (epoch seconds)

    @property
    def interval(self) -> float:
        """Seconds between two calls at the steady rate."""
        return 60.0 / self.per_minute

    def take(self, calls: int = 1) -> float:
        """Reserve ``calls`` calls; returns the seconds to wait for their turn (0: go now).

        With no allowance configured (``per_minute`` 0), every call is granted at once without a request.
        """
        if self.per_minute <= 0:
            self._on_call()
            return 0.0
        now = self._clock()
        cost = calls * self.interval
        # One request when the guess of which case holds is right (the last ``tat`` this container saw).
        idle_first = self._tat_seen < now
        for _ in range(ATTEMPTS):
            for idle in (idle_first, not idle_first):
                wait = self._from_idle(now, cost) if idle else self._behind(now, cost)
                if wait is not None:
                    self._on_call()
                    return wait
        # Others kept moving it under us: say to wait one interval and let the caller come back.
        return self.interval

    def _behind(self, now: float, cost: float) -> float | None:
        """Busy: calls are reserved ahead of now; queue behind them. None when the allowance is idle."""
        behind = self.table.conditional(
            "update_item",
            Key=key(f"BUDGET#{self.name}", "GCRA"),
            UpdateExpression="SET tat = tat + :cost",
            ConditionExpression="tat >= :now",
            ExpressionAttributeValues=values(cost=_ms(cost), now=_ms(now)),
            ReturnValues="UPDATED_OLD",
        )
        if behind is None:
            return None
        turn = int(plain(behind["Attributes"])["tat"]) / 1000
        self._tat_seen = turn + cost
        return max(0.0, turn - BURST_SECONDS - now)

    def _from_idle(self, now: float, cost: float) -> float | None:
        """Idle: the allowance has caught up with the clock; start again from now. None when it is busy."""
        fresh = self.table.conditional(
            "update_item",
            Key=key(f"BUDGET#{self.name}", "GCRA"),
            UpdateExpression="SET tat = :tat",
            ConditionExpression="attribute_not_exists(tat) OR tat < :now",
            ExpressionAttributeValues=values(tat=_ms(now + cost), now=_ms(now)),
        )
        if fresh is None:
            self._tat_seen = now  # not idle: guess busy next time
            return None
        self._tat_seen = now + cost
        return 0.0

    def backlog(self) -> float:
        """Seconds of reserved calls ahead of now (for the operator's status)."""
        item = self.table.call("get_item", Key=key(f"BUDGET#{self.name}", "GCRA"), ConsistentRead=True)
        tat = plain(item.get("Item", {})).get("tat")
        return max(0.0, int(tat) / 1000 - self._clock()) if tat is not None else 0.0


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
