"""The whole stack on this machine: moto (AWS), the vendor sandbox (or real Zendesk/Jira), the template's
resources, each function in its own warm process, the HTTP API gateway, and the SQS event source.

``make demo``, ``make serve`` and ``make invoke`` are built on :class:`LocalRun`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import payloads
from local.gateway import Gateway, GatewayLogLine
from local.runtime import FunctionProcess
from local.stack import (
    DrainReport,
    LocalStack,
    PortUnavailable,
    drain_queue,
    function_template_props,
    listening_socket,
    moto_server,
    port_unavailable,
)
from local.template import ROOT, resources
from local.vendors import VendorSandbox

REAL_VENDOR_ENV = ("ZENDESK_BASE_URL", "JIRA_BASE_URL")
# Function logs of `make demo` and `make serve`, one folder per run, kept after the run ends.
LOGS_ROOT = ROOT / ".aws-sam" / "logs"
KEEP_LOG_FOLDERS = 20


def new_log_dir(label: str, root: Path | None = None) -> Path:
    """A fresh folder for one run's function logs (``<root>/<YYYYmmdd-HHMMSS>-<label>``, LOGS_ROOT by
    default), kept after the run; only the newest KEEP_LOG_FOLDERS folders of ``root`` are kept."""
    root = root or LOGS_ROOT
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{label}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{label}-{n}"
    path.mkdir()
    older = sorted((p for p in root.iterdir() if p.is_dir() and p != path), key=lambda p: p.stat().st_mtime)
    for stale in older[: max(0, len(older) - (KEEP_LOG_FOLDERS - 1))]:
        for f in stale.iterdir():
            f.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            stale.rmdir()
    return path


def check_ports(ports: dict[str, int]) -> None:
    """Raise PortUnavailable (with the role, e.g. "moto") for the first fixed port that cannot be listened on,
    before anything starts. Ports are held until all are checked, so one port given twice is caught too."""
    held = []
    try:
        for role, port in ports.items():
            if not port:
                continue
            try:
                held.append(listening_socket(port))
            except PortUnavailable as e:
                e.role = role
                raise
    finally:
        for sock in held:
            sock.close()


@dataclass
class Vendors:
    """Where Zendesk and Jira are, and the secret's values."""

    zendesk_url: str
    jira_url: str
    secret_values: dict[str, str]
    jira_ticket_field: str = payloads.JIRA_TICKET_FIELD
    zendesk_issue_field: str = payloads.ZENDESK_ISSUE_FIELD
    sandbox: VendorSandbox | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Vendors | None:
        """Real Zendesk and Jira when ZENDESK_BASE_URL and JIRA_BASE_URL are set; None for the sandbox."""
        env = dict(os.environ if env is None else env)
        if not all(env.get(k) for k in REAL_VENDOR_ENV):
            return None
        missing = [k.upper() for k in payloads.SECRET_VALUES if not env.get(k.upper())]
        if missing:
            raise SystemExit(f"real vendors need these variables too: {', '.join(missing)}")
        return cls(
            zendesk_url=env["ZENDESK_BASE_URL"],
            jira_url=env["JIRA_BASE_URL"],
            secret_values={k: env[k.upper()] for k in payloads.SECRET_VALUES},
            jira_ticket_field=env.get("JIRA_TICKET_FIELD", payloads.JIRA_TICKET_FIELD),
            zendesk_issue_field=env.get("ZENDESK_ISSUE_FIELD", payloads.ZENDESK_ISSUE_FIELD),
        )


@dataclass
class EventSourceStats(DrainReport):
    polls: int = 0


class SqsEventSource:
    """Polls a queue and invokes a function with batches, as Lambda's SQS event source mapping does."""

    def __init__(
        self,
        stack: LocalStack,
        function: FunctionProcess,
        *,
        queue: str = "RetryQueue",
        on_drain: Callable[[DrainReport], None] | None = None,
    ) -> None:
        self.stack = stack
        self.function = function
        self.queue = queue
        self.on_drain = on_drain
        event = next(
            e
            for e in function_template_props(function.logical_id).get("Events", {}).values()
            if e["Type"] == "SQS"
        )
        self.batch_size = int(event["Properties"].get("BatchSize", 10))
        self.stats = EventSourceStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def drain(self, **kwargs: Any) -> DrainReport:
        with self._lock:
            report = drain_queue(
                self.stack, self.function.invoke, logical_id=self.queue, batch_size=self.batch_size, **kwargs
            )
            for name in ("batches", "records", "failures", "errors"):
                setattr(self.stats, name, getattr(self.stats, name) + getattr(report, name))
            return report

    def start(self, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.stats.polls += 1
                try:
                    report = self.drain(idle_rounds=1, failure_visibility=5)
                except Exception as e:  # moto stopping under us, a broken connection: poll again
                    if not self._stop.is_set():
                        print(f"retry worker poll failed: {type(e).__name__}: {e}", flush=True)
                    continue
                if report.records and self.on_drain is not None:
                    self.on_drain(report)

        self._thread = threading.Thread(target=loop, name="sqs-event-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


@dataclass
class LocalRun:
    """Start everything with ``with LocalRun() as run:``; everything stops (no process left) on exit."""

    gateway_port: int = 0
    moto_port: int = 0
    sandbox_port: int = 0
    vendors: Vendors | None = None
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    on_request: Callable[[GatewayLogLine], None] | None = None
    functions: tuple[str, ...] | None = None
    on_drain: Callable[[DrainReport], None] | None = None

    def __enter__(self) -> LocalRun:
        self._exit = ExitStack()
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def describe(self) -> dict[str, Any]:
        """How a client reaches this stack, in the shape of a deployed stack's outputs."""
        physical = self.stack.physical
        return {
            "pid": os.getpid(),
            "region": "us-east-1",
            "aws_endpoint": self.moto_url,
            "lambda_endpoint": self.gateway.url,
            "outputs": {
                "LinksTableName": physical["LinksTable"],
                "RetryQueueUrl": physical["RetryQueue"],
                "RetryDeadLetterQueueUrl": physical["RetryDeadLetterQueue"],
                "ReconcileFunctionName": "ReconcileFunction",
                "JiraWebhookUrl": f"{self.gateway.url}/webhooks/jira",
                "ZendeskWebhookUrl": f"{self.gateway.url}/webhooks/zendesk",
            },
            "parameters": {**self.stack.parameters, "SecretName": physical["SecretName"]},
        }

    def _start(self) -> None:
        check_ports({"gateway": self.gateway_port, "moto": self.moto_port, "sandbox": self.sandbox_port})
        if self.log_dir is None:
            self.log_dir = Path(
                self._exit.enter_context(tempfile.TemporaryDirectory(prefix="linksync-logs-"))
            )
        try:
            self.moto_url = self._exit.enter_context(moto_server(port=self.moto_port))
        except PortUnavailable as e:
            e.role = "moto"
            raise
        if self.vendors is None:
            try:
                sandbox = VendorSandbox(port=self.sandbox_port, slow_seconds=1.5)
            except OSError as e:
                unavailable = port_unavailable(e, self.sandbox_port)
                if unavailable is None:
                    raise
                unavailable.role = "sandbox"
                raise unavailable from None
            sandbox = self._exit.enter_context(sandbox)
            self.vendors = Vendors(sandbox.url, sandbox.url, dict(payloads.SECRET_VALUES), sandbox=sandbox)
        self.sandbox = self.vendors.sandbox
        parameters = {
            "ZendeskBaseUrl": self.vendors.zendesk_url,
            "JiraBaseUrl": self.vendors.jira_url,
            "JiraTicketField": self.vendors.jira_ticket_field,
            "ZendeskIssueField": self.vendors.zendesk_issue_field,
            "SecretName": "zendesk-jira-linksync",
        }
        self.stack = LocalStack(self.moto_url, parameters, self.vendors.secret_values).create()
        names = self.functions or tuple(resources("AWS::Serverless::Function"))
        self.processes: dict[str, FunctionProcess] = {}
        for name in names:
            props = function_template_props(name)
            proc = FunctionProcess(
                name,
                {**self.stack.function_env(name), **self.extra_env},
                log_path=self.log_dir / f"{name}.log",
                timeout=float(props.get("Timeout", 3)),
            )
            self._exit.callback(proc.stop)
            self.processes[name] = proc.start()
        with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
            list(pool.map(lambda p: p.wait_ready(), self.processes.values()))
        invokers: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: proc.invoke for name, proc in self.processes.items()
        }
        try:
            self.gateway = Gateway(invokers, port=self.gateway_port, on_request=self.on_request).start()
        except PortUnavailable as e:
            e.role = "gateway"
            raise
        self._exit.callback(self.gateway.stop)
        worker = self.processes.get("RetryWorkerFunction")
        self.event_source = SqsEventSource(self.stack, worker, on_drain=self.on_drain) if worker else None
        if self.event_source:
            self._exit.callback(self.event_source.stop)
