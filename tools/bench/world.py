"""The shared local world: one moto server and one vendor sandbox for the whole run, fresh stacks on them,
and the functions' handlers loaded in this process with their output silenced."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from local import make_events, payloads
from local.stack import (
    LambdaContext,
    LocalStack,
    apply_env,
    function_template_props,
    handler_module,
    http_api_event,
    load_handler,
    restore_env,
)
from local.template import ROOT
from local.vendors import SandboxState, VendorSandbox
from tools.bench.config import FUNCTIONS, UNLIMITED_BUDGET, BenchConfig
from tools.bench.probe import Probe


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
    """A moto server in its own process, DynamoDB requests atomic (``tools.bench.moto_server``). In this
    process (``stack.moto_server``) its request handling would share the GIL with the handlers being timed
    and make every AWS call several times slower."""
    from local.runtime import free_port

    port = free_port()
    proc = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter, fixed argv
        [sys.executable, "-m", "tools.bench.moto_server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_moto(proc, url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_moto(proc: subprocess.Popen[bytes], url: str) -> None:
    import requests

    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url + "/moto-api/", timeout=2)
            return
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)


class Bench:
    """One moto server and one vendor sandbox for the whole run; stacks are made fresh as needed."""

    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        self._ids = iter(range(1, 10**6))
        self.baseline_env: dict[str, str] = {}
        self._own_env: dict[str, dict[str, str | None]] = {}

    def __enter__(self) -> Bench:
        from aws_lambda_powertools.utilities import parameters

        # Powertools keeps one Secrets Manager client per process, bound to the endpoint of its first use.
        clear_caches: Callable[[], None] = parameters.clear_caches
        clear_caches()
        self._exit = contextlib.ExitStack()
        self._exit.callback(clear_caches)
        self.moto_url = self._exit.enter_context(moto_process())
        self.sandbox = self._exit.enter_context(VendorSandbox(slow_seconds=1.2))
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
        self._own_env = stack.own_env()
        varying = {key: os.environ.get(key) for own in self._own_env.values() for key in own}
        previous = {**varying, **apply_env(stack.function_env("JiraWebhookFunction"))}
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
        # What differs between the functions (WEBHOOK_SECRET_ID ...): this one's. functions_on restores it.
        for key, value in self._own_env.get(name, {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
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
