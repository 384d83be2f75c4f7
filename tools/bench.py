"""`make bench`: how fast and how frugal the functions are, each timing a ratio against a baseline.

Every timing figure is a RATIO of two medians measured in the same run: the subject's and a baseline's,
each over ``--runs`` (at least 5) fresh runs, baseline and subject runs interleaved so machine noise hits
both. Counted figures (API calls) are exact. The table is printed and written to
``.aws-sam/bench-results.json`` (``--out``).

1. Cold start, per function: a fresh ``python`` process imports the handler as Lambda does (its CodeUri
   folder, then the layer, on ``sys.path``) and serves its first event (the signed samples in ``events/``)
   against a fresh stack prefix on the moto server and the vendor sandbox, versus a process that only
   imports boto3 and requests and builds the same clients. Plus the top imports from ``-X importtime``.
2. Warm path: the Jira webhook's time per event in a warm in-process loop (issue_created, one new link
   each, idempotency on) versus replaying exactly the calls it made (DynamoDB, SQS, Zendesk: recorded
   through botocore hooks and the sandbox) with boto3 and requests directly.
3. API economy (counted): Zendesk, Jira, DynamoDB and SQS calls per link created or deleted, per replayed
   delivery, per Zendesk-originated link; and Zendesk calls per link change under faults (the soak run).
4. Scale: a burst of mixed webhooks through the handlers on a few threads (events/s versus replaying the
   same calls directly on as many threads), and deleting an issue with 1, 10, 100 and 1,000 links.
5. Size: the unzipped build (``.aws-sam/build``, refreshed with ``sam build`` when it exists) against
   Lambda's 250 MB limit and against the dependencies alone.

``python -m tools.bench [--runs N] [--quick] [--out PATH] [--only cold,warm,economy,scale,size]``
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import make_events, payloads
from local.stack import (
    LAYER_PATHS,
    REGION,
    LambdaContext,
    LocalStack,
    apply_env,
    drain_queue,
    function_template_props,
    handler_module,
    http_api_event,
    load_handler,
    restore_env,
)
from local.template import ROOT
from local.vendors import RecordedCall, SandboxState, VendorSandbox

FUNCTIONS = ("JiraWebhookFunction", "ZendeskWebhookFunction", "RetryWorkerFunction")
COLD_EVENTS = {
    "JiraWebhookFunction": "jira_issue_created.json",
    "ZendeskWebhookFunction": "zendesk_ticket_created.json",
    "RetryWorkerFunction": "sqs_retry_batch.json",
}
SECTIONS = ("cold", "warm", "economy", "scale", "size")
MIN_RUNS = 5
DEFAULT_OUT = ROOT / ".aws-sam" / "bench-results.json"
BUILD_DIR = ROOT / ".aws-sam" / "build"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
GOALS = {
    "cold_start_ratio": 1.3,
    "warm_ratio": 1.15,
    "zendesk_calls_per_link": 1.0,
    "zendesk_calls_per_replay": 0,
    "jira_calls_per_zendesk_link": 1,
    "jira_calls_for_seen_key": 0,
}
# The Zendesk budget stays on (its DynamoDB counter is part of what each call costs) but never runs out,
# so every event does its work inline.
UNLIMITED_BUDGET = "1000000"
LINKS_PATH = "/api/services/jira/links"
# AWS calls the local harness makes (stack creation, the SQS event source, inspection), not the functions.
HARNESS_OPS = frozenset(
    {
        "dynamodb.CreateTable",
        "dynamodb.UpdateTimeToLive",
        "dynamodb.DescribeTable",
        "dynamodb.Scan",
        "dynamodb.BatchWriteItem",
        "sqs.CreateQueue",
        "sqs.GetQueueAttributes",
        "sqs.ReceiveMessage",
        "sqs.DeleteMessage",
        "sqs.ChangeMessageVisibility",
        "secrets-manager.CreateSecret",
    }
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def ratio(subject: float, baseline: float) -> float:
    return round(subject / baseline, 3) if baseline else float("nan")


# ---------------------------------------------------------------------------- configuration


@dataclass
class BenchConfig:
    """The default fits ~5 minutes on a shared 2-core machine, where moto (one process, every DynamoDB call
    parsed in Python) is the bottleneck. ``full`` runs the literal workloads: a burst of 1,000 webhooks and
    the 1,000-link deletion timed over every run (expect 15-20 minutes)."""

    runs: int = 5
    quick: bool = False
    full: bool = False
    warm_events: int = 50
    burst_events: int = 200
    burst_threads: int = 4
    delete_sizes: tuple[int, ...] = (1, 10, 100)  # timed, every run
    delete_counted: tuple[int, ...] = (1000,)  # counted in one run (its time is indicative only)
    soak_events: int = 60
    sam_build: bool = True
    sections: tuple[str, ...] = SECTIONS
    out: Path = DEFAULT_OUT

    @classmethod
    def quick_mode(cls, **overrides: Any) -> BenchConfig:
        """A smoke run in under a minute: the same figures on small workloads."""
        values: dict[str, Any] = {
            "runs": MIN_RUNS,
            "quick": True,
            "warm_events": 5,
            "burst_events": 20,
            "delete_sizes": (1, 5, 15),
            "delete_counted": (),
            "soak_events": 15,
            "sam_build": False,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def full_mode(cls, **overrides: Any) -> BenchConfig:
        values: dict[str, Any] = {
            "full": True,
            "burst_events": 1000,
            "delete_sizes": (1, 10, 100, 1000),
            "delete_counted": (),
        }
        values.update(overrides)
        return cls(**values)


# ---------------------------------------------------------------------------- counting calls


@dataclass(frozen=True)
class AwsCall:
    vendor_before: int  # how many sandbox calls had been recorded when this call was made
    thread: int
    service: str
    operation: str
    params: dict[str, Any]


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
            "vendor_calls": [f"{c.method} {_route(c.path)} {c.status}" for c in self.vendor],
        }


_NUMBER = re.compile(r"\d+")


def _route(path: str) -> str:
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


# ---------------------------------------------------------------------------- replaying calls directly


def _subst(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {(fn(k) if isinstance(k, str) else k): _subst(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_subst(v, fn) for v in value]
    return value


class Replayer:
    """The baseline: the same DynamoDB, SQS, Zendesk and Jira calls, made directly with boto3 and requests
    (clients from the same default session, so the same hooks run on both sides)."""

    def __init__(self, moto_url: str, sandbox: VendorSandbox) -> None:
        import boto3
        import requests

        self.base = sandbox.url
        self.clients = {
            service: boto3.client(
                service,
                endpoint_url=moto_url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for service in ("dynamodb", "sqs")
        }
        self.sessions = {"zendesk": requests.Session(), "jira": requests.Session()}
        self.auth = {
            "zendesk": (f"{sandbox.zendesk_email}/token", sandbox.zendesk_token),
            "jira": (sandbox.jira_email, sandbox.jira_token),
        }
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        for client in self.clients.values():
            client.close()

    def plan(self, tally: Tally, fn: Callable[[str], str]) -> list[tuple[str, Any]]:
        """The window's calls in the order they were made, with ``fn`` applied to every string."""
        from botocore import xform_name

        steps: list[tuple[str, Any]] = []
        v = 0
        vendor = tally.vendor

        def http(call: RecordedCall) -> tuple[str, Any]:
            vendor_name = "jira" if call.path.startswith("/rest/") else "zendesk"
            return (
                "http",
                (vendor_name, call.method, fn(call.path), _subst(call.query, fn), _subst(call.body, fn)),
            )

        for call in tally.aws_log:
            if f"{call.service}.{call.operation}" in HARNESS_OPS or call.service not in self.clients:
                continue
            while v < len(vendor) and tally.vendor_start + v < call.vendor_before:
                steps.append(http(vendor[v]))
                v += 1
            steps.append(("aws", (call.service, xform_name(call.operation), _subst(call.params, fn))))
        steps += [http(c) for c in vendor[v:]]
        return steps

    def run(self, steps: list[tuple[str, Any]]) -> None:
        from botocore.exceptions import ClientError

        for kind, step in steps:
            if kind == "aws":
                service, method, params = step
                try:
                    getattr(self.clients[service], method)(**params)
                except ClientError as e:
                    with self._lock:
                        self.errors[f"{service}.{method} {e.response.get('Error', {}).get('Code')}"] += 1
            else:
                vendor_name, method, path, query, body = step
                answer = self.sessions[vendor_name].request(
                    method,
                    self.base + path,
                    params=query or None,
                    json=body,
                    auth=self.auth[vendor_name],
                    timeout=(3.05, 5.0),
                )
                answer.content  # noqa: B018  # read the body, as the clients do
                if answer.status_code >= 300:
                    with self._lock:
                        self.errors[f"{method} {_route(path)} {answer.status_code}"] += 1


# ---------------------------------------------------------------------------- the shared local world


def jira_http_event(
    kind: str, issue_id: str, key: str, *, tickets: Any = None, delivery_id: str | None = None
) -> dict[str, Any]:
    body = payloads.jira_issue(kind, issue_id, key, tickets=tickets)
    raw, headers = payloads.signed_jira(body, delivery_id=delivery_id or str(uuid.uuid4()))
    return http_api_event("POST", "/webhooks/jira", raw, headers)


def zendesk_http_event(body: dict[str, Any]) -> dict[str, Any]:
    raw, headers = payloads.signed_zendesk(body)
    return http_api_event("POST", "/webhooks/zendesk", raw, headers)


def answer_body(answer: Any) -> dict[str, Any]:
    try:
        return dict(json.loads(answer["body"]))
    except (TypeError, KeyError, ValueError):
        return {}


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """A moto server in its own process. In this process (``stack.moto_server``) its request handling
    would share the GIL with the handlers being timed and make every AWS call several times slower."""
    import requests

    from local.runtime import free_port

    port = free_port()
    proc = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter, fixed argv
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/moto-api/", timeout=2)
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def no_delay(sandbox: VendorSandbox) -> None:
    """TCP_NODELAY on the sandbox's connections. Its handler writes the status line and headers, then the
    body, in two sends; with Nagle's algorithm on, the body waits for the client's delayed ACK (~40 ms on
    Linux), which would add 40 ms to every Zendesk and Jira call and hide what the code itself costs."""
    handler_class: Any = sandbox._server.RequestHandlerClass
    handler_class.disable_nagle_algorithm = True


class Bench:
    """One moto server and one vendor sandbox for the whole run; stacks are made fresh as needed."""

    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        self._ids = iter(range(1, 10**6))
        self.baseline_env: dict[str, str] = {}

    def __enter__(self) -> Bench:
        from aws_lambda_powertools.utilities import parameters

        # Powertools keeps one Secrets Manager client per process, bound to the endpoint of its first use.
        clear_caches: Callable[[], None] = parameters.clear_caches
        clear_caches()
        self._exit = contextlib.ExitStack()
        self._exit.callback(clear_caches)
        self.moto_url = self._exit.enter_context(moto_process())
        self.sandbox = self._exit.enter_context(VendorSandbox(slow_seconds=1.2))
        no_delay(self.sandbox)
        make_events.seed_samples(self.sandbox)
        self.probe = Probe(self.sandbox)
        self._exit.callback(self.probe.install())
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._props = {name: function_template_props(name) for name in FUNCTIONS}
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def defer(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` when the bench stops."""
        self._exit.callback(fn)

    def next_id(self) -> int:
        return next(self._ids)

    def parameters(self) -> dict[str, str]:
        return {
            "ZendeskBaseUrl": self.sandbox.url,
            "JiraBaseUrl": self.sandbox.url,
            "JiraTicketField": payloads.JIRA_TICKET_FIELD,
            "ZendeskIssueField": payloads.ZENDESK_ISSUE_FIELD,
            "SecretName": "zendesk-jira-linksync",
            "ZendeskCallsPerMinute": UNLIMITED_BUDGET,
        }

    def new_stack(self) -> LocalStack:
        return LocalStack(self.moto_url, self.parameters(), dict(payloads.SECRET_VALUES)).create()

    def reset_sandbox(self) -> None:
        """No links, the sample issues and tickets (the record of calls is kept)."""
        self.sandbox.state = SandboxState()
        make_events.seed_samples(self.sandbox)

    @contextlib.contextmanager
    def functions_on(self, stack: LocalStack) -> Iterator[None]:
        """The template's environment for ``stack`` in this process, the handlers' output silenced."""
        previous = apply_env(stack.function_env("JiraWebhookFunction"))
        try:
            for name in FUNCTIONS:
                self._handlers.setdefault(name, load_handler(name))
            with quiet():
                yield
        finally:
            restore_env(previous)

    def context(self, name: str) -> LambdaContext:
        props = self._props[name]
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=int(props.get("MemorySize", 128)),
            timeout_seconds=float(props.get("Timeout", 3)),
        )

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        return self._handlers[name](event, self.context(name))


class _Sink:
    """Where the functions' output goes during a measurement: dropped, but ERROR lines are kept."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def write(self, text: str) -> int:
        if '"level":"ERROR"' in text and len(self.errors) < 20:
            self.errors.append(text.strip()[:2000])
        return len(text)

    def flush(self) -> None:
        return None


FUNCTION_ERRORS = _Sink()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The functions log a JSON line per step and print EMF metrics: keep the cost, drop the output."""
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for name in FUNCTIONS:
        handler = getattr(handler_module(name).logger, "registered_handler", None)
        if isinstance(handler, logging.StreamHandler) and all(h is not handler for h, _ in swapped):
            swapped.append((handler, handler.setStream(FUNCTION_ERRORS)))
    try:
        with contextlib.redirect_stdout(FUNCTION_ERRORS), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


# ---------------------------------------------------------------------------- 1. cold start

CHILD = r"""
import time
T0 = time.perf_counter()
import importlib, json, sys, uuid
spec = json.loads(sys.argv[1])
sys.path[:0] = [spec["code_dir"], *spec["layers"]]
module_name, func_name = spec["handler"].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), func_name)
T1 = time.perf_counter()


class Context:
    def __init__(self):
        self.function_name = spec["function"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + spec["function"]
        self.memory_limit_in_mb = spec["memory"]
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/" + spec["function"]
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + spec["timeout"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


with open(spec["event"]) as f:
    event = json.load(f)
result = handler(event, Context())
T2 = time.perf_counter()
sys.stdout.flush()
timings = {"import_s": T1 - T0, "first_event_s": T2 - T1, "epoch_done": time.time()}
timings["epoch_start"] = timings["epoch_done"] - (time.perf_counter() - T0)
print("BENCH " + json.dumps({**timings, "result": result}), flush=True)
"""

BASELINE_CHILD = r"""
import time
T0 = time.perf_counter()
import json
import boto3, requests
clients = [boto3.client(name) for name in ("dynamodb", "sqs", "secretsmanager")]
session = requests.Session()
T1 = time.perf_counter()
timings = {"import_s": T1 - T0, "first_event_s": 0.0, "epoch_done": time.time()}
timings["epoch_start"] = timings["epoch_done"] - (time.perf_counter() - T0)
print("BENCH " + json.dumps({**timings, "result": None}), flush=True)
"""

_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str, top: int = 10) -> dict[str, Any]:
    """``-X importtime`` lines: the top modules by cumulative time, and self time summed per package."""
    rows = []
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            rows.append((m.group(4), int(m.group(1)), int(m.group(2)), (len(m.group(3)) - 1) // 2))
    by_package: Counter[str] = Counter()
    for name, self_us, _, _ in rows:
        by_package[name.split(".")[0]] += self_us
    ranked = sorted(rows, key=lambda r: -r[2])[:top]
    return {
        "total_ms": round(sum(r[1] for r in rows) / 1000, 1),
        "modules": len(rows),
        "top_cumulative": [
            {"module": n, "cumulative_ms": round(c / 1000, 1), "self_ms": round(s / 1000, 1), "depth": d}
            for n, s, c, d in ranked
        ],
        "top_packages_self": [
            {"package": p, "self_ms": round(us / 1000, 1)} for p, us in by_package.most_common(top)
        ],
    }


@dataclass
class ChildRun:
    wall_s: float
    import_s: float
    first_event_s: float
    result: Any
    stderr: str
    startup_s: float = 0.0  # process start until the script's first line (interpreter, site)
    teardown_s: float = 0.0  # answer line to process end (0 when killed after answering)
    links_created: int = 0


def _child_env(function_env: dict[str, str]) -> dict[str, str]:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ", "SYSTEMROOT") if k in os.environ}
    return {
        **base,
        **function_env,
        "ZENDESK_SIGNATURE_TOLERANCE_SECONDS": make_events.SAMPLE_SIGNATURE_TOLERANCE,
    }


def _spawn(code: str, spec: dict[str, Any], env: dict[str, str], cwd: Path, importtime: bool) -> ChildRun:
    """Run one child; its wall time is the parent's clock from spawning it to reading its answer line (Lambda
    freezes a process after an invocation, it does not tear it down, so the exit is timed apart)."""
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code, json.dumps(spec)]
    with tempfile.TemporaryFile("w+") as err:
        epoch = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter and code, no shell
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True
        )
        assert proc.stdout is not None
        answer, answered = None, 0.0
        for line in proc.stdout:
            if line.startswith("BENCH "):
                answered = time.perf_counter()
                answer = line
                break
        if answer is not None and not importtime:
            proc.kill()  # Lambda freezes the process here; its teardown is no part of a cold start
            proc.wait(timeout=60)
            code_, ended = 0, answered
        else:
            proc.stdout.read()
            code_ = proc.wait(timeout=180)
            ended = time.perf_counter()
        proc.stdout.close()
        err.seek(0)
        stderr = err.read()
    if code_ != 0 or answer is None:
        raise RuntimeError(f"cold-start child failed ({code_}): {stderr[-2000:]}")
    data = json.loads(answer[6:])
    wall = answered - started
    return ChildRun(
        wall,
        data["import_s"],
        data["first_event_s"],
        data["result"],
        stderr,
        startup_s=data["epoch_start"] - epoch,
        teardown_s=ended - answered,
    )


def _cold_spec(name: str) -> dict[str, Any]:
    props = function_template_props(name)
    return {
        "function": name,
        "code_dir": str(ROOT / props["CodeUri"]),
        "handler": str(props["Handler"]),
        "layers": [str(p) for p in LAYER_PATHS],
        "event": str(make_events.EVENTS / COLD_EVENTS[name]),
        "memory": int(props.get("MemorySize", 128)),
        "timeout": float(props.get("Timeout", 3)),
    }


def _first_event_ok(name: str, result: Any) -> bool:
    if name == "RetryWorkerFunction":
        return isinstance(result, dict) and result.get("batchItemFailures") == []
    return isinstance(result, dict) and result.get("statusCode") == 200


def cold_start_once(b: Bench, name: str | None, *, importtime: bool = False) -> ChildRun:
    """One fresh process: ``name``'s handler on its sample event (fresh stack, sandbox without links), or
    the baseline when ``name`` is None."""
    if name is None:
        stack_env = b.baseline_env
        spec = {"function": "baseline"}
        return _spawn(BASELINE_CHILD, spec, stack_env, ROOT / "functions", importtime)
    stack = b.new_stack()
    b.reset_sandbox()
    spec = _cold_spec(name)
    before = len(b.sandbox.calls)
    run = _spawn(CHILD, spec, _child_env(stack.function_env(name)), Path(spec["code_dir"]), importtime)
    calls = b.sandbox.calls[before:]
    run.links_created = sum(
        1 for c in calls if c.method == "POST" and c.path == LINKS_PATH and c.status == 201
    )
    if not _first_event_ok(name, run.result):
        raise RuntimeError(f"{name} did not serve its first event: {str(run.result)[:500]}")
    return run


def bench_cold_start(b: Bench) -> dict[str, Any]:
    runs = b.cfg.runs
    b.baseline_env = _child_env(b.new_stack().function_env("JiraWebhookFunction"))
    subjects: list[str | None] = [None, *FUNCTIONS]
    done: dict[str | None, list[ChildRun]] = {s: [] for s in subjects}
    for r in range(runs):
        for subject in subjects[r % len(subjects) :] + subjects[: r % len(subjects)]:
            done[subject].append(cold_start_once(b, subject))
        log(f"  cold start: round {r + 1}/{runs}")
    importtime = {
        str(s or "baseline"): parse_importtime(cold_start_once(b, s, importtime=True).stderr)
        for s in subjects
    }

    def med(subject: str | None, attr: str) -> float:
        return round(median(getattr(run, attr) for run in done[subject]), 4)

    base = median(run.wall_s for run in done[None])
    out: dict[str, Any] = {
        "what": "wall time from spawning the process to reading its answer to the first event (parent's "
        "clock), median of runs; the process is then killed (Lambda freezes it, it does not exit)",
        "runs": runs,
        "baseline": {
            "what": "python -c 'import boto3, requests' + dynamodb, sqs, secretsmanager clients + Session",
            "median_s": round(base, 4),
            "runs_s": [round(run.wall_s, 4) for run in done[None]],
            "startup_median_s": med(None, "startup_s"),
            "imports_and_clients_median_s": med(None, "import_s"),
            "importtime": importtime["baseline"],
        },
        "functions": {},
    }
    for name in FUNCTIONS:
        wall = median(run.wall_s for run in done[name])
        out["functions"][name] = {
            "event": f"events/{COLD_EVENTS[name]}",
            "median_s": round(wall, 4),
            "runs_s": [round(run.wall_s, 4) for run in done[name]],
            "ratio": ratio(wall, base),
            "goal": GOALS["cold_start_ratio"],
            "meets_goal": ratio(wall, base) <= GOALS["cold_start_ratio"],
            "startup_median_s": med(name, "startup_s"),
            "import_median_s": med(name, "import_s"),
            "first_event_median_s": med(name, "first_event_s"),
            "links_created_per_run": [run.links_created for run in done[name]],
            "importtime": importtime[name],
        }
    return out


# ---------------------------------------------------------------------------- 2. warm path

_HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_WARM_IDS = re.compile(r"(?<!\d)[57]\d{7}(?!\d)")
WARM_ISSUES, WARM_TICKETS = 70_000_000, 50_000_000


def _fresh_ids(replay: int) -> Callable[[str], str]:
    """The baseline's own pairs for replay number ``replay``: issue 7xxxxxxx -> 8<replay>xxxxxx, ticket
    5xxxxxxx -> 6<replay>xxxxxx, WARM-n -> WARM<replay>B-n, and each 32-hex token (claim tokens, idempotency
    keys) a new one, consistently within the replay."""
    tokens: dict[str, str] = {}
    offset = 10_000_000 + replay * 100_000

    def fn(s: str) -> str:
        s = _HEX32.sub(lambda m: tokens.setdefault(m.group(0), uuid.uuid4().hex), s)
        s = _WARM_IDS.sub(lambda m: str(int(m.group(0)) + offset), s)
        return s.replace("WARM-", f"WARM{replay}B-")

    return fn


def bench_warm(b: Bench) -> dict[str, Any]:
    cfg = b.cfg
    name = "JiraWebhookFunction"
    stack = b.new_stack()
    replayer = Replayer(b.moto_url, b.sandbox)
    b.defer(replayer.close)

    def events(run: int, count: int) -> list[dict[str, Any]]:
        out = []
        for n in range(count):
            k = run * 1000 + n
            issue, ticket = str(WARM_ISSUES + k), str(WARM_TICKETS + k)
            out.append(jira_http_event("jira:issue_created", issue, f"WARM-{k + 1}", tickets=ticket))
        return out

    def subject(run: int, count: int) -> tuple[float, Tally]:
        batch = events(run, count)
        with b.probe.measure(record=True) as tally:
            started = time.perf_counter()
            answers = [b.invoke(name, e) for e in batch]
            seconds = time.perf_counter() - started
        bad = [a for a in answers if a.get("statusCode") != 200 or answer_body(a).get("created") != 1]
        if bad:
            raise RuntimeError(f"warm loop: {len(bad)} events did not create their link: {bad[0]}")
        return seconds / len(batch), tally

    replays = iter(range(1, 1000))

    def baseline(template: Tally, count: int) -> float:
        """A subject run's calls replayed on pairs of their own (a recording can be replayed many times)."""
        steps = replayer.plan(template, _fresh_ids(next(replays)))
        started = time.perf_counter()
        replayer.run(steps)
        return (time.perf_counter() - started) / count

    with b.functions_on(stack):
        cold = jira_http_event("jira:issue_created", "69999999", "WARM-0", tickets="49999999")
        b.invoke(name, cold)
        warmup = max(1, cfg.warm_events // 5)
        _, first = subject(0, warmup)  # warm handler, warm clients
        baseline(first, warmup)
        subj: list[float] = []
        base: list[float] = []
        tallies: list[Tally] = []
        for r in range(1, cfg.runs + 1):
            # Alternate which goes first; the baseline replays the latest full-size subject run.
            if r % 2 or not tallies:
                per_event, last = subject(r, cfg.warm_events)
                base.append(baseline(last, cfg.warm_events))
            else:
                base.append(baseline(tallies[-1], cfg.warm_events))
                per_event, last = subject(r, cfg.warm_events)
            subj.append(per_event)
            tallies.append(last)
            log(f"  warm path: round {r}/{cfg.runs}")
    total = len(tallies) * cfg.warm_events
    ops: Counter[str] = Counter()
    for t in tallies:
        ops.update(t.function_ops())
    s, bl = median(subj), median(base)
    return {
        "what": "time per event in a warm loop: Jira issue_created creating 1 link on a fresh pair, "
        "idempotency on",
        "events_per_run": cfg.warm_events,
        "runs": cfg.runs,
        "subject": {"median_ms_per_event": round(s * 1000, 3), "runs_ms": [round(x * 1000, 3) for x in subj]},
        "baseline": {
            "what": "the same DynamoDB/SQS/Zendesk calls made directly with boto3 and requests, fresh pairs",
            "median_ms_per_event": round(bl * 1000, 3),
            "runs_ms": [round(x * 1000, 3) for x in base],
            "answers_not_ok": dict(replayer.errors),
        },
        "ratio": ratio(s, bl),
        "goal": GOALS["warm_ratio"],
        "meets_goal": ratio(s, bl) <= GOALS["warm_ratio"],
        "calls_per_event": {
            "dynamodb": round(sum(t.dynamodb for t in tallies) / total, 2),
            "sqs": round(sum(t.sqs for t in tallies) / total, 2),
            "zendesk": round(sum(t.zendesk for t in tallies) / total, 2),
            "jira": round(sum(t.jira for t in tallies) / total, 2),
        },
        "aws_ops_per_event": {op: round(n / total, 2) for op, n in sorted(ops.items())},
    }


# ---------------------------------------------------------------------------- 3. API economy


@dataclass
class Scenario:
    name: str
    what: str
    tally: Tally
    answer: dict[str, Any]
    per: str  # "created", "deleted", "replay" or "ticket"
    goals: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        t = self.tally
        changes = t.created + t.deleted
        data: dict[str, Any] = {"what": self.what, **t.counts(), "answer": self.answer}
        if self.per in ("created", "deleted"):
            links = t.created if self.per == "created" else t.deleted
            data[f"zendesk_calls_per_link_{self.per}"] = round(t.zendesk / links, 3) if links else None
        if changes:
            data["dynamodb_requests_per_link_change"] = round(t.dynamodb / changes, 2)
        checks = {}
        for key, goal in self.goals.items():
            value = data.get(key)
            checks[key] = {"value": value, "goal": goal, "ok": value is not None and value <= goal}
        data["goals"] = checks
        return data


def economy_scenarios(b: Bench) -> list[Scenario]:
    """Each on fresh ids, one after another, everything answered from the same warm handlers."""
    out: list[Scenario] = []
    n = b.next_id()
    issue_a, key_a = str(3_000_000 + n), f"ECO-{n}"
    issue_b, key_b = str(3_100_000 + n), f"ECOB-{n}"
    t = [str(4_000_000 + 10 * n + i) for i in range(6)]
    for ticket in t:
        b.sandbox.add_ticket(ticket, {})
    b.sandbox.add_issue(key_a, issue_a)
    b.sandbox.add_issue(key_b, issue_b)

    def run(
        name: str, what: str, fn_name: str, event: dict[str, Any], per: str, goals: dict[str, float]
    ) -> dict[str, Any]:
        with b.probe.measure() as tally:
            answer = b.invoke(fn_name, event)
        body = answer_body(answer)
        out.append(Scenario(name, what, tally, {"status": answer.get("statusCode"), **body}, per, goals))
        return event

    per_created = {"zendesk_calls_per_link_created": GOALS["zendesk_calls_per_link"]}
    per_deleted = {"zendesk_calls_per_link_deleted": GOALS["zendesk_calls_per_link"]}
    replay_goal = {"zendesk_calls": GOALS["zendesk_calls_per_replay"]}
    jira, zd = "JiraWebhookFunction", "ZendeskWebhookFunction"

    first = run(
        "jira_created_1_link",
        "Jira issue_created listing 1 ticket",
        jira,
        jira_http_event("jira:issue_created", issue_a, key_a, tickets=t[0]),
        "created",
        per_created,
    )
    run("jira_replayed_delivery", "the same Jira delivery again", jira, first, "replay", replay_goal)
    run(
        "jira_created_3_links",
        "Jira issue_created listing 3 tickets",
        jira,
        jira_http_event("jira:issue_created", issue_b, key_b, tickets=", ".join(t[1:4])),
        "created",
        per_created,
    )
    run(
        "jira_field_removes_1",
        "Jira issue_updated: the field drops 1 of its 3 tickets",
        jira,
        jira_http_event("jira:issue_updated", issue_b, key_b, tickets=", ".join(t[1:3])),
        "deleted",
        per_deleted,
    )
    run(
        "jira_issue_deleted_2_links",
        "Jira issue_deleted for an issue with 2 links left",
        jira,
        jira_http_event("jira:issue_deleted", issue_b, key_b),
        "deleted",
        per_deleted,
    )
    # Zendesk-originated: a key this container never resolved, then the same key again.
    key_c, issue_c = f"ECOC-{n}", str(3_200_000 + n)
    b.sandbox.add_issue(key_c, issue_c)
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, key_c)
    b.sandbox.set_ticket_field(t[5], payloads.ZENDESK_ISSUE_FIELD, key_c)
    jira_goal = {"jira_calls": GOALS["jira_calls_per_zendesk_link"]}
    created_zd = zendesk_http_event(payloads.zendesk_event("ticket.created", t[4]))
    run(
        "zendesk_created_new_key",
        "Zendesk ticket.created whose field lists a key not seen before",
        zd,
        created_zd,
        "created",
        {**per_created, **jira_goal},
    )
    run(
        "zendesk_created_seen_key",
        "Zendesk ticket.created whose field lists a key already resolved",
        zd,
        zendesk_http_event(payloads.zendesk_event("ticket.created", t[5])),
        "created",
        {**per_created, "jira_calls": GOALS["jira_calls_for_seen_key"]},
    )
    run("zendesk_replayed_delivery", "the same Zendesk event again", zd, created_zd, "replay", replay_goal)
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, "")
    run(
        "zendesk_field_removes_1",
        "Zendesk custom_field_changed: the field no longer lists the key",
        zd,
        zendesk_http_event(
            payloads.zendesk_event("ticket.custom_field_changed", t[4], current="", previous=key_c)
        ),
        "deleted",
        per_deleted,
    )
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, key_a)
    run(
        "zendesk_trigger_1_link",
        "Zendesk trigger body naming 1 key (the ticket's field says the same)",
        zd,
        zendesk_http_event(payloads.zendesk_trigger(t[4], key_a)),
        "created",
        per_created,
    )
    run(
        "zendesk_ticket_soft_deleted",
        "Zendesk ticket.soft_deleted for a ticket with 1 link",
        zd,
        zendesk_http_event(payloads.zendesk_event("ticket.soft_deleted", t[4])),
        "deleted",
        per_deleted,
    )
    return out


def bench_economy(b: Bench) -> dict[str, Any]:
    stack = b.new_stack()
    with b.functions_on(stack):
        scenarios = economy_scenarios(b)
    result: dict[str, Any] = {
        "what": "calls counted per event (sandbox record; botocore hooks), happy path, warm handlers",
        "scenarios": {s.name: s.figures() for s in scenarios},
    }
    result["under_faults"] = soak_economy(b)
    return result


def soak_economy(b: Bench) -> dict[str, Any]:
    from tools.soak import SoakConfig, run_soak

    cfg = SoakConfig(events=b.cfg.soak_events, fault_rate=0.3, aws_fault_rate=0.05, seed=7, threads=4)
    lines: list[str] = []
    log(f"  economy: soak run, {cfg.events} events under faults")
    with b.probe.measure() as tally, quiet():
        report = run_soak(cfg, out=lines.append)
    changes = report.link_changes
    return {
        "events": cfg.events,
        "what": f"tools/soak.py run_soak: {cfg.events} events, {cfg.fault_rate:.0%} Zendesk/Jira "
        "faults, "
        f"{cfg.aws_fault_rate:.0%} AWS faults, {cfg.threads} threads, then the retry queue drained",
        "zendesk_calls": report.zendesk_calls,
        "link_changes": changes,
        "zendesk_calls_per_link_change": round(report.zendesk_calls / changes, 3) if changes else None,
        "dynamodb_requests": tally.dynamodb,
        "dynamodb_requests_per_link_change": round(tally.dynamodb / changes, 2) if changes else None,
        "sqs_requests": tally.sqs,
        "ok": report.ok,
        "lost": len(report.lost),
        "duplicates": len(report.duplicates),
        "orphans": len(report.orphans),
        "figure_line": report.figure_line(),
    }


# ---------------------------------------------------------------------------- 4. scale


def _burst_workload(b: Bench, events: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """A mixed workload from the soak's world model (issues and tickets created, changed, deleted, links
    made by hand), 10% of deliveries sent twice; signed up front."""
    from tools.soak import World

    rng = random.Random(seed)
    world = World(rng, b.sandbox)
    out: list[tuple[str, dict[str, Any]]] = []
    while len(out) < events:
        delivery = world.next_event()
        if delivery is None:
            continue
        if delivery.source == "jira":
            raw, headers = payloads.signed_jira(delivery.body, delivery_id=delivery.delivery_id)
            item = ("JiraWebhookFunction", http_api_event("POST", "/webhooks/jira", raw, headers))
        else:
            raw, headers = payloads.signed_zendesk(delivery.body)
            item = ("ZendeskWebhookFunction", http_api_event("POST", "/webhooks/zendesk", raw, headers))
        out.append(item)
        if rng.random() < 0.1 and len(out) < events:
            out.append(item)
    rng.shuffle(out)
    return out


def bench_burst(b: Bench) -> dict[str, Any]:
    cfg = b.cfg
    threads = cfg.burst_threads
    replayer = Replayer(b.moto_url, b.sandbox)
    b.defer(replayer.close)
    subj: list[float] = []
    base: list[float] = []
    answers: Counter[int] = Counter()
    created = deleted = zendesk = dynamodb = 0
    for r in range(cfg.runs):
        stack = b.new_stack()
        b.reset_sandbox()
        with b.functions_on(stack):
            workload = _burst_workload(b, cfg.burst_events, seed=100 + r)

            def send(item: tuple[str, dict[str, Any]]) -> int:
                try:
                    return int(b.invoke(item[0], item[1])["statusCode"])
                except Exception:  # a function error: API Gateway answers 500
                    return 500

            with b.probe.measure(record=True) as tally, ThreadPoolExecutor(threads) as pool:
                started = time.perf_counter()
                statuses = list(pool.map(send, workload))
                seconds = time.perf_counter() - started
        subj.append(len(workload) / seconds)
        answers.update(statuses)
        created += tally.created
        deleted += tally.deleted
        zendesk += tally.zendesk
        dynamodb += tally.dynamodb
        # The baseline: the same calls, each thread's AWS calls in its order, on a fresh stack.
        fresh = b.new_stack()
        rename = lambda s, old=stack.prefix, new=fresh.prefix: s.replace(old, new)  # noqa: E731
        steps = replayer.plan(tally, rename)
        http_steps = [s for s in steps if s[0] == "http"]
        lanes: list[list[tuple[str, Any]]] = [[] for _ in range(threads)]
        aws_steps = iter(s for s in steps if s[0] == "aws")
        thread_of = [
            c.thread
            for c in tally.aws_log
            if f"{c.service}.{c.operation}" not in HARNESS_OPS and c.service in replayer.clients
        ]
        lane_of = {t: i % threads for i, t in enumerate(sorted(set(thread_of)))}
        for t_id, step in zip(thread_of, aws_steps, strict=True):
            lanes[lane_of[t_id]].append(step)
        for i, step in enumerate(http_steps):
            lanes[i % threads].append(step)
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            list(pool.map(replayer.run, lanes))
            seconds = time.perf_counter() - started
        base.append(len(workload) / seconds)
        log(f"  scale: burst round {r + 1}/{cfg.runs}")
    s, bl = median(subj), median(base)
    n = len(subj) * cfg.burst_events
    return {
        "what": f"{cfg.burst_events} mixed webhooks (Jira and Zendesk, ~10% duplicates) through the handlers "
        f"in-process on {threads} threads",
        "runs": cfg.runs,
        "events_per_second": round(s, 1),
        "runs_events_per_second": [round(x, 1) for x in subj],
        "baseline": {
            "what": f"the same AWS and vendor calls made directly on {threads} threads (fresh table)",
            "events_per_second": round(bl, 1),
            "runs_events_per_second": [round(x, 1) for x in base],
        },
        "ratio": ratio(bl, s),
        "ratio_what": "baseline events/s over subject events/s (time per event, subject vs baseline)",
        "answers": {str(k): v for k, v in sorted(answers.items())},
        "per_event": {
            "zendesk_calls": round(zendesk / n, 2),
            "dynamodb_requests": round(dynamodb / n, 2),
            "links_created": round(created / n, 3),
            "links_deleted": round(deleted / n, 3),
        },
    }


def _swap(old: str, new: str, text: str) -> str:
    return text.replace(old, new)


def _seed_issue_links(b: Bench, stack: LocalStack, issue_id: str, key: str, count: int) -> None:
    """``count`` links on one issue, as a Jira issue_created would leave them: in Zendesk, and in the
    ledger (the first pair through the Ledger's own calls, the rest cloned from its item in batches)."""
    from boto3.dynamodb.types import TypeSerializer

    from linksync.ledger import JIRA_OWNER, Ledger

    tickets = [str(9_100_000 + b.next_id()) for _ in range(count)]
    links = [b.sandbox.add_link(issue_id=issue_id, issue_key=key, ticket_id=t) for t in tickets]
    ledger = Ledger(stack.physical["LinksTable"], client=stack.dynamodb)
    token = uuid.uuid4().hex
    ledger.add_owner(issue_id, tickets[0], key, JIRA_OWNER)
    ledger.claim(issue_id, tickets[0], token, lease_seconds=30, creating=True)
    ledger.finish_linked(issue_id, tickets[0], token, link_id=int(links[0]["id"]), adopted=False)
    if count == 1:
        return
    template = next(
        i
        for i in stack.ledger_links()
        if str(i["issue_id"]) == issue_id and str(i["ticket_id"]) == tickets[0]
    )
    ser = TypeSerializer()
    requests_ = []
    for ticket, link in zip(tickets[1:], links[1:], strict=True):
        item = _subst(template, functools.partial(_swap, tickets[0], ticket))
        item["link_id"] = int(link["id"])
        requests_.append({"PutRequest": {"Item": {k: ser.serialize(v) for k, v in item.items()}}})
    table = stack.physical["LinksTable"]
    for start in range(0, len(requests_), 25):
        pending: dict[str, Any] = {table: requests_[start : start + 25]}
        while pending:
            pending = stack.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _delete_once(b: Bench, stack: LocalStack, n: int) -> tuple[float, Tally, str, dict[str, Any]]:
    k = b.next_id()
    issue_id, key = str(9_500_000 + k), f"DEL-{k}"
    b.sandbox.add_issue(key, issue_id)
    _seed_issue_links(b, stack, issue_id, key, n)
    event = jira_http_event("jira:issue_deleted", issue_id, key)
    with b.probe.measure() as tally:
        started = time.perf_counter()
        answer = b.invoke("JiraWebhookFunction", event)
        seconds = time.perf_counter() - started
    return seconds, tally, issue_id, answer_body(answer)


def bench_delete_growth(b: Bench) -> dict[str, Any]:
    cfg = b.cfg
    sizes = cfg.delete_sizes
    stack = b.new_stack()
    times: dict[int, list[float]] = {n: [] for n in sizes}
    rows: dict[str, dict[str, Any]] = {}
    with b.functions_on(stack):
        for r in range(cfg.runs):
            for n in sizes[r % len(sizes) :] + sizes[: r % len(sizes)]:
                seconds, tally, issue_id, body = _delete_once(b, stack, n)
                times[n].append(seconds)
                if str(n) not in rows:
                    rows[str(n)] = _delete_counts(b, stack, issue_id, n, tally, body)
            log(f"  scale: delete growth round {r + 1}/{cfg.runs}")
        for n in cfg.delete_counted:
            log(f"  scale: deleting an issue with {n} links (counted, one run)")
            seconds, tally, issue_id, body = _delete_once(b, stack, n)
            rows[str(n)] = {
                **_delete_counts(b, stack, issue_id, n, tally, body),
                "indicative_s": round(seconds, 3),
            }
    base = median(times[sizes[0]])
    for n in sizes:
        med = median(times[n])
        rows[str(n)].update(
            {
                "median_s": round(med, 4),
                "runs_s": [round(x, 4) for x in times[n]],
                "time_ratio_vs_1": ratio(med, base),
                "time_ratio_per_link": round(ratio(med, base) / n, 3),
            }
        )
    for n in cfg.delete_counted:
        rows[str(n)]["time_what"] = "one run: indicative only, not a benchmark figure (--full times it)"
    return {
        "what": "Jira issue_deleted for an issue with N links (ledger and Zendesk seeded directly); "
        f"time is the webhook's, ratios against N={sizes[0]} in the same run",
        "runs": cfg.runs,
        "sizes": {k: rows[k] for k in sorted(rows, key=int)},
    }


def _delete_counts(
    b: Bench, stack: LocalStack, issue_id: str, n: int, tally: Tally, body: dict[str, Any]
) -> dict[str, Any]:
    """Counts for one deletion; what the webhook queued (deadline) is drained through the worker."""
    row: dict[str, Any] = {
        "links": n,
        "answer": {k: body.get(k) for k in ("created", "deleted", "unchanged", "queued", "dead_lettered")},
        "zendesk_calls": tally.zendesk,
        "dynamodb_requests": tally.dynamodb,
        "sqs_requests": tally.sqs,
        "links_deleted_inline": tally.deleted,
    }
    if body.get("queued"):
        worker = b._handlers["RetryWorkerFunction"]
        with b.probe.measure() as drained:
            drain_queue(stack, lambda e: worker(e, b.context("RetryWorkerFunction")), max_batches=5000)
        row["drained"] = {
            "zendesk_calls": drained.zendesk,
            "dynamodb_requests": drained.dynamodb,
            "links_deleted": drained.deleted,
        }
    total_deleted = tally.deleted + row.get("drained", {}).get("links_deleted", 0)
    total_zd = tally.zendesk + row.get("drained", {}).get("zendesk_calls", 0)
    total_db = tally.dynamodb + row.get("drained", {}).get("dynamodb_requests", 0)
    row["zendesk_calls_per_link"] = round(total_zd / total_deleted, 3) if total_deleted else None
    row["dynamodb_requests_per_link"] = round(total_db / total_deleted, 2) if total_deleted else None
    row["all_links_gone"] = not any(link["issue_id"] == issue_id for link in b.sandbox.links())
    return row


def bench_scale(b: Bench) -> dict[str, Any]:
    return {"burst": bench_burst(b), "delete_issue": bench_delete_growth(b)}


# ---------------------------------------------------------------------------- 5. size


def tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def _sam_build() -> dict[str, Any]:
    sam = ROOT / ".venv-sam" / "bin" / "sam"
    if not sam.exists():
        return {"ran": False, "why": "no .venv-sam (make install)"}
    py312 = Path(sys.base_prefix) / "bin" / "python3.12"
    env = dict(os.environ)
    if py312.exists():
        env["PATH"] = f"{py312.parent}{os.pathsep}{env.get('PATH', '')}"
    log("  size: sam build (refreshing .aws-sam/build)")
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603  # nosec B603  # the project's own sam, fixed argv
        [str(sam), "build", "--template", "template.yaml"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {
        "ran": True,
        "ok": done.returncode == 0,
        "seconds": round(time.perf_counter() - started, 1),
        **({} if done.returncode == 0 else {"error": (done.stderr or done.stdout)[-1500:]}),
    }


def bench_size(cfg: BenchConfig) -> dict[str, Any]:
    if not BUILD_DIR.exists():
        print("run make build first")
        return {"skipped": "run make build first"}
    build = _sam_build() if cfg.sam_build else {"ran": False, "why": "--quick or --no-sam-build"}
    layer_dir = BUILD_DIR / "SharedLayer"
    layer = tree_size(layer_dir)
    own = tree_size(layer_dir / "python" / "linksync")
    deps = layer - own
    mb = 1024 * 1024
    functions = {}
    for name in FUNCTIONS:
        code = tree_size(BUILD_DIR / name)
        total = code + layer
        functions[name] = {
            "function_bytes": code,
            "with_layer_mb": round(total / mb, 2),
            "of_lambda_limit": round(total / LAMBDA_UNZIPPED_LIMIT, 4),
            "vs_dependencies_alone": ratio(total, deps),
        }
    return {
        "sam_build": build,
        "layer_mb": round(layer / mb, 2),
        "linksync_package_kb": round(own / 1024, 1),
        "dependencies_mb": round(deps / mb, 2),
        "layer_vs_dependencies": ratio(layer, deps),
        "lambda_limit_mb": LAMBDA_UNZIPPED_LIMIT // mb,
        "functions": functions,
        "largest_packages_mb": _largest(layer_dir / "python", 8),
    }


def _largest(path: Path, top: int) -> dict[str, float]:
    if not path.exists():
        return {}
    sizes = {}
    for child in path.iterdir():
        if child.name.endswith((".dist-info", ".data")):
            continue
        sizes[child.name] = tree_size(child) if child.is_dir() else child.stat().st_size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return {name: round(size / 1024 / 1024, 2) for name, size in ranked}


# ---------------------------------------------------------------------------- report


def misses(results: dict[str, Any]) -> list[str]:
    out = []
    cold = results.get("cold_start", {})
    for name, row in cold.get("functions", {}).items():
        if not row["meets_goal"]:
            out.append(f"cold start {name}: {row['ratio']:.2f}x (goal <= {row['goal']}x)")
    warm = results.get("warm", {})
    if "meets_goal" in warm and not warm["meets_goal"]:
        out.append(f"warm path: {warm['ratio']:.2f}x (goal <= {warm['goal']}x)")
    for name, row in results.get("economy", {}).get("scenarios", {}).items():
        for key, check in row["goals"].items():
            if not check["ok"]:
                out.append(f"economy {name}: {key} = {check['value']} (goal <= {check['goal']})")
    return out


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


def _render_cold(cold: dict[str, Any]) -> list[str]:
    base = cold["baseline"]
    lines = [
        "",
        "1. COLD START  process start -> first event answered (parent's clock); baseline: import boto3, "
        f"requests + 3 clients + Session = {base['median_s']:.3f} s",
        f"   {'function':<24}{'median s':>9}{'ratio':>8}{'goal':>12}{'import s':>10}{'1st event s':>12}"
        "  top imports, cumulative ms",
    ]
    for name, row in cold["functions"].items():
        top = ", ".join(
            f"{m['module']} {m['cumulative_ms']:.0f}"
            for m in row["importtime"]["top_cumulative"]
            if m["depth"] == 0
        )
        goal = f"<={row['goal']} {'ok' if row['meets_goal'] else 'MISS'}"
        lines.append(
            f"   {name:<24}{row['median_s']:>9.3f}{row['ratio']:>7.2f}x{goal:>12}"
            f"{row['import_median_s']:>10.3f}{row['first_event_median_s']:>12.3f}  {top[:70]}"
        )
    return lines


def _render_warm(warm: dict[str, Any]) -> list[str]:
    cpe = warm["calls_per_event"]
    ops = ", ".join(f"{k.split('.')[1]} {v:g}" for k, v in warm["aws_ops_per_event"].items())
    return [
        "",
        f"2. WARM PATH  Jira issue_created -> 1 link on a fresh pair, {warm['events_per_run']} events/run, "
        "idempotency on",
        f"   handler {warm['subject']['median_ms_per_event']:.2f} ms/event vs the same calls made directly "
        f"{warm['baseline']['median_ms_per_event']:.2f} ms/event = {warm['ratio']:.2f}x "
        f"(goal <= {warm['goal']}x) {'ok' if warm['meets_goal'] else 'MISS'}",
        f"   calls per event: DynamoDB {cpe['dynamodb']} ({ops}), SQS {cpe['sqs']}, "
        f"Zendesk {cpe['zendesk']}, "
        f"Jira {cpe['jira']}",
    ]


def _render_economy(eco: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "3. API ECONOMY  calls counted per event, happy path (ZD/link: Zendesk calls per link changed)",
        f"   {'scenario':<28}{'Zendesk':>8}{'Jira':>6}{'DynamoDB':>9}{'SQS':>5}{'+links':>7}{'-links':>7}"
        f"{'ZD/link':>8}{'DB/change':>10}  goals",
    ]
    for name, row in eco["scenarios"].items():
        per = row.get("zendesk_calls_per_link_created", row.get("zendesk_calls_per_link_deleted"))
        goals = " ".join(
            f"{k.replace('zendesk_calls_per_link_', 'ZD/').replace('_calls', '')}<={g['goal']}:"
            f"{'ok' if g['ok'] else 'MISS'}"
            for k, g in row["goals"].items()
        )
        per_change = _fmt(row.get("dynamodb_requests_per_link_change"), ".1f")
        lines.append(
            f"   {name:<28}{row['zendesk_calls']:>8}{row['jira_calls']:>6}{row['dynamodb_requests']:>9}"
            f"{row['sqs_requests']:>5}{row['links_created']:>7}{row['links_deleted']:>7}"
            f"{_fmt(per, '.2f'):>8}{per_change:>10}  {goals}"
        )
    f = eco.get("under_faults", {})
    if f:
        lines.append(
            f"   under faults (soak: {f['events']} events, {f['link_changes']} link changes): "
            f"{f['zendesk_calls_per_link_change']} Zendesk calls, {f['dynamodb_requests_per_link_change']} "
            f"DynamoDB requests per link change; {f['lost']} lost, {f['duplicates']} duplicates, "
            f"{f['orphans']} orphans"
        )
    return lines


def _render_scale(scale: dict[str, Any]) -> list[str]:
    burst = scale["burst"]
    pe = burst["per_event"]
    lines = [
        "",
        "4. SCALE",
        f"   burst: {burst['what']}",
        f"   {burst['events_per_second']:.1f} events/s vs the same calls made directly "
        f"{burst['baseline']['events_per_second']:.1f} events/s = {burst['ratio']:.2f}x the time per event; "
        f"answers {burst['answers']}",
        f"   per event: Zendesk {pe['zendesk_calls']}, DynamoDB {pe['dynamodb_requests']}, "
        f"links +{pe['links_created']} -{pe['links_deleted']}",
        f"   {'delete issue with N links':<26}{'Zendesk':>8}{'ZD/link':>8}{'DynamoDB':>9}{'DB/link':>8}"
        f"{'median s':>9}{'t/t(1)':>8}{'per link':>9}{'queued':>7}",
    ]
    for n, row in scale["delete_issue"]["sizes"].items():
        drained = row.get("drained", {})
        zd = row["zendesk_calls"] + drained.get("zendesk_calls", 0)
        db = row["dynamodb_requests"] + drained.get("dynamodb_requests", 0)
        if "median_s" in row:
            timing = (
                f"{row['median_s']:>9.3f}{row['time_ratio_vs_1']:>7.1f}x{row['time_ratio_per_link']:>9.3f}"
            )
        else:
            timing = f"{'(' + format(row['indicative_s'], '.1f') + ' s, 1 run)':>26}"
        lines.append(
            f"   {n:<26}{zd:>8}{_fmt(row['zendesk_calls_per_link'], '.2f'):>8}{db:>9}"
            f"{_fmt(row['dynamodb_requests_per_link'], '.1f'):>8}{timing}"
            f"{_fmt(row['answer'].get('queued')):>7}"
        )
    return lines


def _render_size(size: dict[str, Any]) -> list[str]:
    lines = ["", "5. SIZE  unzipped, .aws-sam/build"]
    if "skipped" in size:
        return [*lines, f"   {size['skipped']}"]
    sb = size["sam_build"]
    if sb.get("ran"):
        lines.append(f"   sam build: {'ok' if sb.get('ok') else 'FAILED'} in {sb['seconds']} s")
    else:
        lines.append(f"   sam build: not run ({sb['why']})")
    lines.append(
        f"   layer {size['layer_mb']} MB = dependencies {size['dependencies_mb']} MB + linksync "
        f"{size['linksync_package_kb']} KB ({size['layer_vs_dependencies']:.3f}x the dependencies alone)"
    )
    for name, row in size["functions"].items():
        lines.append(
            f"   {name:<24} code {row['function_bytes'] / 1024:.1f} KB; "
            f"with the layer {row['with_layer_mb']} MB "
            f"= {row['of_lambda_limit']:.1%} of {size['lambda_limit_mb']} MB, "
            f"{row['vs_dependencies_alone']:.3f}x the dependencies"
        )
    lines.append(f"   largest in the layer (MB): {size['largest_packages_mb']}")
    return lines


def render(results: dict[str, Any]) -> list[str]:
    meta = results["meta"]
    mode = "quick, " if meta["quick"] else "full, " if meta.get("full") else ""
    lines = [
        f"zendesk-jira-linksync bench ({mode}median of {meta['runs']} runs, {meta['cpus']} CPUs, "
        f"Python {meta['python']}, {meta['seconds']:.0f} s)"
    ]
    if "functions" in results["cold_start"]:
        lines += _render_cold(results["cold_start"])
    if "ratio" in results["warm"]:
        lines += _render_warm(results["warm"])
    if "scenarios" in results["economy"]:
        lines += _render_economy(results["economy"])
    if "burst" in results["scale"]:
        lines += _render_scale(results["scale"])
    lines += _render_size(results["size"])
    if results.get("function_errors"):
        lines += [
            "",
            f"FUNCTION ERRORS ({len(results['function_errors'])}, first): {results['function_errors'][0]}",
        ]
    lines += ["", "MISSES: " + ("; ".join(results["misses"]) if results["misses"] else "none")]
    return lines


def git_state() -> dict[str, Any]:
    """Which code was measured: HEAD and the files changed on top of it."""
    git = shutil.which("git")
    if not git:
        return {}

    def out(*args: str) -> str:
        done = subprocess.run(  # noqa: S603  # nosec B603  # fixed argv, no shell
            [git, *args], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip()

    return {
        "head": out("rev-parse", "--short", "HEAD"),
        "changed": [line[3:] for line in out("status", "--short").splitlines()],
    }


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    started = time.perf_counter()
    FUNCTION_ERRORS.errors.clear()
    results: dict[str, Any] = {
        "meta": {
            "runs": cfg.runs,
            "quick": cfg.quick,
            "full": cfg.full,
            "sandbox_tcp_nodelay": True,
            "moto": "a separate moto server process",
            "sections": list(cfg.sections),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "goals": GOALS,
            "zendesk_calls_per_minute": UNLIMITED_BUDGET,
            "git": git_state(),
        }
    }
    skipped = {"skipped": "not selected (--only)"}
    for key in ("cold_start", "warm", "economy", "scale", "size"):
        results[key] = dict(skipped)
    needs_stack = [s for s in cfg.sections if s != "size"]
    if needs_stack:
        with Bench(cfg) as b:
            steps: list[tuple[str, str, Callable[[Bench], dict[str, Any]]]] = [
                ("cold", "cold_start", bench_cold_start),
                ("economy", "economy", bench_economy),
                ("warm", "warm", bench_warm),
                ("scale", "scale", bench_scale),
            ]
            for section, key, fn in steps:
                if section in cfg.sections:
                    log(f"{section}...")
                    t0 = time.perf_counter()
                    results[key] = fn(b)
                    log(f"{section}: {time.perf_counter() - t0:.1f} s")
    if "size" in cfg.sections:
        results["size"] = bench_size(cfg)
    results["function_errors"] = FUNCTION_ERRORS.errors
    results["misses"] = misses(results)
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="benchmarks as ratios against same-run baselines")
    parser.add_argument(
        "--runs", type=int, default=None, help=f"fresh runs per figure (>= {MIN_RUNS}; default 5)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smoke mode: small workloads, no sam build")
    mode.add_argument(
        "--full",
        action="store_true",
        help="the literal workloads: 1,000-event burst, 1,000-link delete timed",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default %(default)s)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    parser.add_argument("--no-sam-build", action="store_true", help="measure .aws-sam/build as it is")
    args = parser.parse_args(argv)
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    overrides: dict[str, Any] = {"sections": sections, "out": args.out}
    if args.runs is not None:
        if args.runs < MIN_RUNS:
            parser.error(f"--runs must be at least {MIN_RUNS}")
        overrides["runs"] = args.runs
    if args.no_sam_build:
        overrides["sam_build"] = False
    if args.quick:
        cfg = BenchConfig.quick_mode(**overrides)
    elif args.full:
        cfg = BenchConfig.full_mode(**overrides)
    else:
        cfg = BenchConfig(**overrides)
    results = run_bench(cfg)
    for line in render(results):
        print(line)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {cfg.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
