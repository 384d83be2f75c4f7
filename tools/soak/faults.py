"""What goes wrong on the AWS side during a soak, and how a function process dies.

- :class:`AwsFaults`: botocore event hooks. Throttling and 500s before a request is sent (the SDK retries
  those), and hand-offs to SQS that fail outright (no retry: the handler must answer 5xx or report the
  record failed).
- :class:`Reaper`: Lambda ends a process when it times out or runs out of memory, at any moment. Each
  invocation is doomed with probability ``rate``. A doomed one dies, half the time, at one of the first
  few points just before or after a vendor call (where a lost result hurts most: the DELETE applied, the
  process gone), and otherwise at one of the first points around a ledger write or a queue send.
  A killed process raises :class:`ProcessKilled` (a BaseException, so no ``except Exception`` in the code
  under test catches it) and from then on every I/O it tries raises too: no cleanup code gets to write
  anything, as in a real kill.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import requests
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError

from local.stack import REGION

# The requests that change DynamoDB or hand work to SQS: a kill just before or after one of them.
WRITES = {
    "dynamodb": ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"),
    "sqs": ("SendMessage", "SendMessageBatch"),
}


class ProcessKilled(BaseException):
    """The process is gone: nothing after this point runs, cleanup included."""


# A doomed invocation dies at one of the first this-many points of the kind drawn for it.
REACH = {"vendor": 4, "write": 14}


class Fate:
    """One process's mortality: armed per invocation; once dead, every I/O raises."""

    def __init__(self, reaper: Reaper) -> None:
        self._reaper = reaper
        self.dead = False
        self._doom: tuple[str, int] | None = None
        self._countdown = 0

    def arm(self) -> None:
        """A new invocation: decide whether (and at which checkpoint) it dies."""
        self._doom = self._reaper.doom()
        self._countdown = self._doom[1] if self._doom else 0

    def checkpoint(self, point: str) -> None:
        if self.dead:
            raise ProcessKilled("the process is gone")
        if self._doom is None or ("vendor" in point) != (self._doom[0] == "vendor"):
            return
        self._countdown -= 1
        if self._countdown <= 0:
            self.dead = True
            self._reaper.record(point)
            raise ProcessKilled(point)

    def alive(self, **_: Any) -> None:
        if self.dead:
            raise ProcessKilled("the process is gone")


class Reaper:
    """Decides which invocations die, and where: ``rate`` is the share of invocations killed."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.kills: Counter[str] = Counter()

    def doom(self) -> tuple[str, int] | None:
        """None for an invocation that lives; else the kind of point it dies at, and which one of them."""
        with self._lock:
            if self.rate <= 0 or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(("vendor", "write"))
            return kind, self._rng.randint(1, REACH[kind])

    def record(self, point: str) -> None:
        with self._lock:
            self.kills[point] += 1

    def fate(self) -> Fate:
        return Fate(self)

    def watch_client(self, client: Any, service: str, fate: Fate) -> Any:
        """Kill points around the client's writes; any call of a dead process fails."""
        client.meta.events.register(f"before-call.{service}", fate.alive)
        label = "ledger" if service == "dynamodb" else "queue"
        for operation in WRITES[service]:

            def before(*, _label: str = label, **_: Any) -> None:
                fate.checkpoint(f"before {_label} write")

            def after(*, _label: str = label, **_: Any) -> None:
                fate.checkpoint(f"after {_label} write")

            client.meta.events.register(f"before-call.{service}.{operation}", before)
            client.meta.events.register(f"after-call.{service}.{operation}", after)
        return client

    def watch_session(self, session: requests.Session, fate: Fate) -> requests.Session:
        """Kill points just before a vendor request is sent and just after its answer arrived."""
        send = session.send

        def mortal_send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            fate.checkpoint("before vendor call")
            response = send(request, **kwargs)
            fate.checkpoint("after vendor call")
            return response

        session.send = mortal_send  # type: ignore[method-assign]
        return session


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _headers() -> HTTPHeaders:
    headers = HTTPHeaders()
    headers["x-amzn-requestid"] = "soak"
    return headers


class AwsFaults:
    def __init__(self, rate: float, handoff_rate: float, seed: int) -> None:
        self.rate = rate
        self.handoff_rate = handoff_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def _roll(self, p: float) -> bool:
        with self._lock:
            return self._rng.random() < p

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def before_send(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if not self._roll(self.rate):
            return None
        service = kwargs.get("event_name", "before-send.x").split(".")[1]
        if service == "dynamodb" and self._roll(0.5):
            self._count("dynamodb throttled")
            body = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                    "message": "Rate of requests exceeds the allowed throughput.",
                }
            ).encode()
            return AWSResponse(request.url, 400, _headers(), _Raw(body))
        self._count(f"{service} 500")
        return AWSResponse(
            request.url,
            500,
            _headers(),
            _Raw(b'{"__type": "InternalFailure"}'),
        )

    def before_call(self, model: Any, **kwargs: Any) -> None:
        if self._roll(self.handoff_rate):
            self._count("sqs hand-off failed")
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "soak"}}, model.name)

    def client(self, service: str, endpoint_url: str) -> Any:
        made = boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        made.meta.events.register(f"before-send.{service}", self.before_send)
        if service == "sqs":
            made.meta.events.register("before-call.sqs.SendMessage", self.before_call)
        return made
