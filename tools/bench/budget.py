"""6. The call budget: a burst of Jira changes under ``ZendeskCallsPerMinute``, through the local stack.

N ``jira:issue_created`` webhooks, each naming one new ticket (N POSTs), are sent on a few threads as fast
as the Jira webhook function answers them, with ``ZendeskCallsPerMinute`` set on the stack. What does not
fit in the budget's burst reserves its turn and waits on the retry queue with an SQS delay until then; the
retry worker runs it, fed by the SQS event source as the template configures it
(:mod:`tools.bench.eventsource`). Each function runs as the soak runs them: one module per warm process
(``tools.soak.processes.FunctionPool``, with no faults and no kills).

The sandbox stamps each call with the time it arrived (a subclass, here), so the figures are: when the last
link was made against the ideal (N calls / the budget), the share of the budget used while work waited, how
often each operation went round the queue, and how late deferred work woke after its reserved turn.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from linksync.budget import BURST_SECONDS
from local import payloads
from local.stack import LocalStack, apply_env, context_for, fresh_handler_module, http_api_event, restore_env
from local.vendors import RecordedCall, VendorSandbox
from tools.bench.config import GOALS, LINKS_PATH, log
from tools.bench.eventsource import EventSource, SourceSettings
from tools.bench.figures import (
    distribution,
    ideal_seconds,
    per_bin,
    percentile,
    queued_per_operation,
    utilisation,
)
from tools.bench.world import FUNCTION_ERRORS, Bench

ISSUES, TICKETS = 60_000_000, 40_000_000
SEND_THREADS = 4
BIN_SECONDS = 10.0


class StampedCalls(list[RecordedCall]):
    """The sandbox's record of calls, each appended with the time it arrived (``time.time``)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, call: RecordedCall) -> None:
        self.times.append(time.time())
        super().append(call)

    def clear(self) -> None:
        self.times.clear()
        super().clear()


class StampedSandbox(VendorSandbox):
    """The vendor sandbox, with the arrival time of every call (``calls.times``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stamped = StampedCalls()
        self.calls = self.stamped


class WarmPool:
    """One function's warm processes, as Lambda keeps them: an invocation takes an idle one or starts a
    cold one (the handler module executed anew, its services built from the environment and the secret),
    and hands it back when it answers. Concurrent invocations never share a module."""

    def __init__(self, logical_id: str) -> None:
        self.logical_id = logical_id
        self._idle: list[ModuleType] = []
        self._lock = threading.Lock()
        self.cold_starts = 0

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            module = self._idle.pop() if self._idle else None
        if module is None:
            module = fresh_handler_module(self.logical_id)
            # No EMF lines (Powertools prints every 100 values even with metrics disabled), and only the
            # ERROR log lines, kept where the bench reports function errors.
            module.metrics.add_metric = lambda *_, **__: None
            module.logger.setLevel(logging.ERROR)
            handler = getattr(module.logger, "registered_handler", None)
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(FUNCTION_ERRORS)
            with self._lock:
                self.cold_starts += 1
        try:
            return module.lambda_handler(event, context_for(self.logical_id))
        finally:
            with self._lock:
                self._idle.append(module)


@contextmanager
def _budget_world(
    b: Bench, per_minute: int
) -> Iterator[tuple[LocalStack, StampedSandbox, dict[str, WarmPool]]]:
    sandbox = StampedSandbox(slow_seconds=1.2)
    with sandbox:
        parameters = {**b.parameters(), "ZendeskBaseUrl": sandbox.url, "JiraBaseUrl": sandbox.url}
        parameters["ZendeskCallsPerMinute"] = str(per_minute)
        stack = LocalStack(b.moto_url, parameters, dict(payloads.SECRET_VALUES)).create()
        # The Jira webhook's environment serves the worker too: it only adds a signing secret it never reads.
        env = {
            **stack.function_env("JiraWebhookFunction"),
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        previous = apply_env(env)
        try:
            with contextlib.redirect_stdout(FUNCTION_ERRORS):
                yield stack, sandbox, {n: WarmPool(n) for n in ("JiraWebhookFunction", "RetryWorkerFunction")}
        finally:
            restore_env(previous)


def _events(n: int, run: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        issue, ticket = str(ISSUES + run * 100_000 + i), str(TICKETS + run * 100_000 + i)
        body = payloads.jira_issue("jira:issue_created", issue, f"BUD{run}-{i}", tickets=ticket)
        raw, headers = payloads.signed_jira(body)
        out.append(http_api_event("POST", "/webhooks/jira", raw, headers))
    return out


def _created_times(sandbox: StampedSandbox, since: int) -> list[float]:
    calls, times = sandbox.stamped, sandbox.stamped.times
    return [
        times[i]
        for i in range(since, len(calls))
        if calls[i].method == "POST" and calls[i].path == LINKS_PATH and calls[i].status == 201
    ]


def run_burst(b: Bench, n: int, per_minute: int, source: SourceSettings) -> dict[str, Any]:
    """Send the burst, let the worker drain it; the raw record (times relative to the first send)."""
    ideal = ideal_seconds(n, per_minute)
    with _budget_world(b, per_minute) as (stack, sandbox, pools):
        jira, worker = pools["JiraWebhookFunction"], pools["RetryWorkerFunction"]
        events = _events(n, b.next_id())
        since = len(sandbox.stamped)
        with b.probe.measure(record=True) as tally:
            t0 = time.time()
            with EventSource(stack, worker.invoke, source) as es:
                with ThreadPoolExecutor(SEND_THREADS) as pool:
                    answers = list(pool.map(jira.invoke, events))
                sent = time.time()
                give_up = t0 + ideal * 3 + 60
                while time.time() < give_up:
                    done = len(_created_times(sandbox, since))
                    if done >= n and not stack.queue_depth("RetryQueue"):
                        break
                    if not any(a.get("statusCode") == 200 for a in answers):
                        break  # nothing was accepted: nothing will come
                    time.sleep(0.5)
                converged_at = time.time()
            stats = es.stats
        calls = sandbox.stamped[since:]
        times = [t - t0 for t in sandbox.stamped.times[since:]]
        sends = [
            (c.params.get("MessageBody", ""), c.params.get("DelaySeconds", 0))
            for c in tally.aws_log
            if c.op == "sqs.SendMessage" and str(c.params.get("QueueUrl", "")).endswith("-RetryQueue")
        ]
        return {
            "t0": t0,
            "sent_s": sent - t0,
            "stopped_s": converged_at - t0,
            "answers": [int(a.get("statusCode", 0)) for a in answers],
            "calls": calls,
            "times": times,
            "created": [t - t0 for t in _created_times(sandbox, since)],
            "sends": sends,
            "dead_letters": len(stack.queue_messages("RetryDeadLetterQueue")),
            "queue_left": stack.queue_depth("RetryQueue"),
            "source": {
                "batches": stats.batches,
                "records": stats.records,
                "failures": stats.failures,
                "errors": stats.errors,
                "mean_batch": round(stats.records / stats.batches, 2) if stats.batches else None,
            },
            "dynamodb_requests": tally.dynamodb,
        }


def lateness(
    sends: list[tuple[str, int]], calls: list[RecordedCall], times: list[float], t0: float
) -> list[float]:
    """For each deferred pair: seconds from the turn it reserved (its last message's ``reserved_at``) to
    its POST arriving at Zendesk."""
    reserved: dict[tuple[str, str], float] = {}
    for body, _ in sends:
        try:
            m = json.loads(body)
        except ValueError:
            continue
        if isinstance(m, dict) and m.get("reserved_at") is not None and "ticket_id" in m:
            reserved[(str(m.get("issue_id")), str(m["ticket_id"]))] = float(m["reserved_at"]) - t0
    posted: dict[tuple[str, str], float] = {}
    for call, t in zip(calls, times, strict=True):
        if call.method == "POST" and call.path == LINKS_PATH and isinstance(call.body, dict):
            link = call.body.get("link") or {}
            posted.setdefault((str(link.get("issue_id")), str(link.get("ticket_id"))), t)
    return sorted(posted[p] - r for p, r in reserved.items() if p in posted)


def summarise(raw: dict[str, Any], n: int, per_minute: int) -> dict[str, Any]:
    ideal = ideal_seconds(n, per_minute)
    created = sorted(raw["created"])
    last = created[-1] if len(created) >= n else None
    sends = raw["sends"]
    queued = queued_per_operation(body for body, _ in sends)
    dist = distribution(queued.values(), n)
    # Work waited from the start when anything was deferred: the burst's allowance counts in what was allowed.
    waited_from = 0.0 if sends else None
    late = lateness(sends, raw["calls"], raw["times"], raw["t0"])
    end = last if last is not None else raw["stopped_s"]
    use = (
        utilisation(raw["times"], waited_from, end, per_minute, burst_seconds=BURST_SECONDS)
        if waited_from is not None
        else None
    )
    bins = per_bin(raw["times"], 0.0, end, BIN_SECONDS)
    allowed_per_bin = per_minute * BIN_SECONDS / 60
    full_bins = bins[:-1] if len(bins) > 1 else bins
    max_queued = max(queued.values(), default=0)
    ratio = round(last / ideal, 3) if last is not None else None
    checks = {
        "time_vs_ideal": (ratio, GOALS["budget_time_ratio"], "<="),
        "budget_used_while_waiting": (
            round(use, 3) if use is not None else None,
            GOALS["budget_utilisation"],
            ">=",
        ),
        "max_times_queued": (max_queued, GOALS["budget_max_deferrals"], "<="),
    }
    return {
        "changes": n,
        "per_minute": per_minute,
        "ideal_s": round(ideal, 1),
        "converged_s": round(last, 1) if last is not None else None,
        "links_created": len(created),
        "sent_all_s": round(raw["sent_s"], 1),
        "answers": {str(k): raw["answers"].count(k) for k in sorted(set(raw["answers"]))},
        "zendesk_calls": len(raw["calls"]),
        "queued_messages": len(sends),
        "times_queued_distribution": dist,
        "max_times_queued": max_queued,
        "wake_late_s": {
            "deferred_pairs": len(late),
            "p50": _round(percentile(late, 0.5)),
            "p90": _round(percentile(late, 0.9)),
            "max": _round(max(late, default=None)),
            "mean": _round(sum(late) / len(late) if late else None),
        },
        "calls_per_10s": bins,
        "allowed_per_10s": round(allowed_per_bin, 2),
        "lowest_full_10s_share": round(min(full_bins) / allowed_per_bin, 3) if full_bins else None,
        "created_at_s": [round(t, 2) for t in created],
        "event_source": raw["source"],
        "dead_letters": raw["dead_letters"],
        "queue_left": raw["queue_left"],
        "dynamodb_requests": raw["dynamodb_requests"],
        "goals": {
            k: {"value": v, "goal": g, "op": op, "ok": v is not None and (v <= g if op == "<=" else v >= g)}
            for k, (v, g, op) in checks.items()
        },
    }


def _round(value: float | None, places: int = 2) -> float | None:
    return round(value, places) if value is not None else None


def bench_budget(b: Bench) -> dict[str, Any]:
    n, per_minute = b.cfg.budget_changes, b.cfg.budget_per_minute
    source = SourceSettings.from_template()
    log(
        f"  budget: {n} Jira changes under {per_minute} Zendesk calls a minute (ideal "
        f"{ideal_seconds(n, per_minute):.0f} s)"
    )
    raw = run_burst(b, n, per_minute, source)
    result = summarise(raw, n, per_minute)
    result["what"] = (
        f"{n} jira:issue_created webhooks, each naming one new ticket, sent on {SEND_THREADS} threads; "
        f"ZendeskCallsPerMinute={per_minute}; the retry worker fed by an SQS event source with "
        f"BatchSize {source.batch_size}, a {source.window_seconds:g} s batching window and "
        f"{source.concurrency} concurrent invocations (the template's)"
    )
    result["scaled"] = n != 300
    return result
