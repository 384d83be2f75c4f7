"""Counting calls: botocore hooks for AWS, the vendor sandbox's own record for Zendesk and Jira."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from local.vendors import RecordedCall, VendorSandbox
from tools.bench.config import HARNESS_OPS, LINKS_PATH


@dataclass(frozen=True)
class AwsCall:
    vendor_before: int  # how many sandbox calls had been recorded when this call was made
    thread: int
    service: str
    operation: str
    params: dict[str, Any]

    @property
    def op(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class Tally:
    """What happened inside one ``Probe.measure`` window."""

    ops: Counter[str] = field(default_factory=Counter)
    aws_log: list[AwsCall] = field(default_factory=list)
    vendor: list[RecordedCall] = field(default_factory=list)
    vendor_start: int = 0
    seconds: float = 0.0

    def aws(self, service: str) -> int:
        return sum(n for op, n in self.ops.items() if op.startswith(service + ".") and op not in HARNESS_OPS)

    @property
    def dynamodb(self) -> int:
        return self.aws("dynamodb")

    @property
    def sqs(self) -> int:
        return self.aws("sqs")

    @property
    def zendesk(self) -> int:
        return sum(1 for c in self.vendor if c.path.startswith("/api/"))

    @property
    def jira(self) -> int:
        return sum(1 for c in self.vendor if c.path.startswith("/rest/"))

    @property
    def created(self) -> int:
        return sum(
            1
            for c in self.vendor
            if c.method == "POST" and c.path == LINKS_PATH and (c.status == 201 or c.fault == "lost_500")
        )

    @property
    def deleted(self) -> int:
        return sum(
            1
            for c in self.vendor
            if c.method == "DELETE" and c.path.startswith(LINKS_PATH + "/") and c.status == 204
        )

    def function_ops(self) -> dict[str, int]:
        return {op: n for op, n in sorted(self.ops.items()) if op not in HARNESS_OPS}

    def counts(self) -> dict[str, Any]:
        return {
            "zendesk_calls": self.zendesk,
            "jira_calls": self.jira,
            "dynamodb_requests": self.dynamodb,
            "sqs_requests": self.sqs,
            "links_created": self.created,
            "links_deleted": self.deleted,
            "aws_ops": self.function_ops(),
            "vendor_calls": [f"{c.method} {route(c.path)} {c.status}" for c in self.vendor],
        }


_NUMBER = re.compile(r"\d+")


def route(path: str) -> str:
    """A path with its numbers replaced by ``{id}``."""
    return _NUMBER.sub("{id}", path)


class Probe:
    """botocore hooks on boto3's default session (so on every client the functions build after install),
    and the sandbox's own record of Zendesk and Jira calls."""

    def __init__(self, sandbox: VendorSandbox) -> None:
        self.sandbox = sandbox
        self._lock = threading.Lock()
        self._active = False
        self._recording = False
        self._ops: Counter[str] = Counter()
        self._log: list[AwsCall] = []

    def install(self) -> Callable[[], None]:
        """Hook a new default session; returns what puts the previous one back."""
        import boto3

        previous = boto3.DEFAULT_SESSION
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", self._on_call)

        def uninstall() -> None:
            boto3.DEFAULT_SESSION = previous

        return uninstall

    def _on_call(self, params: dict[str, Any], model: Any, event_name: str = "", **_: Any) -> None:
        if not self._active:
            return
        service = event_name.split(".")[1] if "." in event_name else "?"
        with self._lock:
            self._ops[f"{service}.{model.name}"] += 1
            if self._recording:
                self._log.append(
                    AwsCall(len(self.sandbox.calls), threading.get_ident(), service, model.name, dict(params))
                )

    @contextlib.contextmanager
    def measure(self, *, record: bool = False) -> Iterator[Tally]:
        tally = Tally()
        with self._lock:
            self._ops, self._log = Counter(), []
            tally.vendor_start = len(self.sandbox.calls)
            self._active, self._recording = True, record
        started = time.perf_counter()
        try:
            yield tally
        finally:
            tally.seconds = time.perf_counter() - started
            with self._lock:
                self._active = self._recording = False
                tally.ops, tally.aws_log = self._ops, self._log
            tally.vendor = list(self.sandbox.calls[tally.vendor_start :])
