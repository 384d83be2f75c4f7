"""One DynamoDB request at a time on the local moto server, so each is atomic as in DynamoDB.

moto's server answers requests on many threads without a lock, and two of its shortcuts then show through
where the ledger relies on DynamoDB's atomicity:

- UpdateItem on a new item first stores the item's key alone, then sets the rest: a Query running at
  that moment sees an item with nothing but its key.
- TransactWriteItems copies every table it writes to, to restore it if a condition fails. Another
  thread's write in between is undone by that restore, or breaks the copy ("dictionary changed size
  during iteration", answered as a 500).

DynamoDB itself applies each request, a transaction included, atomically. A lock around each DynamoDB
request gives the local stack the same guarantee; moto's requests take a millisecond or so, so the lock
costs the soak and the benchmarks little.
"""

from __future__ import annotations

import threading
from functools import wraps
from typing import Any

_LOCK = threading.RLock()
_MARK = "_linksync_atomic"


def make_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB requests in this process (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    @wraps(original)
    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
