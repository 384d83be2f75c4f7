"""4. Scale: a burst of mixed webhooks through the handlers on a few threads versus the same calls made
directly on as many threads; and (``deletes``) deleting an issue with many links."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from local import payloads
from local.stack import LocalStack, http_api_event
from tools.bench.config import log, median, ratio
from tools.bench.deletes import bench_delete_growth
from tools.bench.probe import Tally
from tools.bench.replay import Replayer, Step
from tools.bench.world import Bench

Item = tuple[str, dict[str, Any]]  # (function, event)


def _burst_workload(b: Bench, events: int, seed: int) -> list[Item]:
    """A mixed workload from the soak's world model (issues and tickets created, changed, deleted, links
    made by hand), 10% of deliveries sent twice; signed up front."""
    from tools.soak.world import World

    rng = random.Random(seed)
    world = World(rng, b.sandbox)
    out: list[Item] = []
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


@dataclass
class _BurstTotals:
    subject: list[float] = field(default_factory=list)  # events/s per run
    baseline: list[float] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)
    created: int = 0
    deleted: int = 0
    zendesk: int = 0
    dynamodb: int = 0

    def add(self, tally: Tally, statuses: list[int]) -> None:
        self.answers.update(statuses)
        self.created += tally.created
        self.deleted += tally.deleted
        self.zendesk += tally.zendesk
        self.dynamodb += tally.dynamodb


def _burst_subject(b: Bench, stack: LocalStack, seed: int) -> tuple[float, list[int], Tally]:
    """The workload through the handlers on the bench's threads: events/s, the answers, the calls."""

    def send(item: Item) -> int:
        try:
            return int(b.invoke(item[0], item[1])["statusCode"])
        except Exception:  # a function error: API Gateway answers 500
            return 500

    with b.functions_on(stack):
        workload = _burst_workload(b, b.cfg.burst_events, seed=seed)
        with b.probe.measure(record=True) as tally, ThreadPoolExecutor(b.cfg.burst_threads) as pool:
            started = time.perf_counter()
            statuses = list(pool.map(send, workload))
            seconds = time.perf_counter() - started
    return len(workload) / seconds, statuses, tally


def _lanes(replayer: Replayer, tally: Tally, steps: list[Step], threads: int) -> list[list[Step]]:
    """The steps shared out to ``threads`` lanes: each thread's AWS calls in its order, on the lane of that
    thread; the vendor calls round-robin."""
    http_steps = [s for s in steps if s[0] == "http"]
    lanes: list[list[Step]] = [[] for _ in range(threads)]
    aws_steps = iter(s for s in steps if s[0] == "aws")
    thread_of = [c.thread for c in tally.aws_log if replayer.replays(c)]
    lane_of = {t: i % threads for i, t in enumerate(sorted(set(thread_of)))}
    for t_id, step in zip(thread_of, aws_steps, strict=True):
        lanes[lane_of[t_id]].append(step)
    for i, step in enumerate(http_steps):
        lanes[i % threads].append(step)
    return lanes


def _burst_baseline(b: Bench, replayer: Replayer, stack: LocalStack, tally: Tally, events: int) -> float:
    """The same calls made directly on as many threads, on a fresh stack: events/s."""
    fresh = b.new_stack()

    def rename(s: str) -> str:
        return s.replace(stack.prefix, fresh.prefix)

    steps = replayer.plan(tally, rename)
    threads = b.cfg.burst_threads
    lanes = _lanes(replayer, tally, steps, threads)
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(replayer.run, lanes))
        seconds = time.perf_counter() - started
    return events / seconds


def bench_burst(b: Bench) -> dict[str, Any]:
    cfg = b.cfg
    threads = cfg.burst_threads
    replayer = Replayer(b.moto_url, b.sandbox)
    b.defer(replayer.close)
    totals = _BurstTotals()
    for r in range(cfg.runs):
        stack = b.new_stack()
        b.reset_sandbox()
        per_second, statuses, tally = _burst_subject(b, stack, seed=100 + r)
        totals.subject.append(per_second)
        totals.add(tally, statuses)
        totals.baseline.append(_burst_baseline(b, replayer, stack, tally, len(statuses)))
        log(f"  scale: burst round {r + 1}/{cfg.runs}")
    s, bl = median(totals.subject), median(totals.baseline)
    n = len(totals.subject) * cfg.burst_events
    return {
        "what": f"{cfg.burst_events} mixed webhooks (Jira and Zendesk, ~10% duplicates) through the handlers "
        f"in-process on {threads} threads",
        "runs": cfg.runs,
        "events_per_second": round(s, 1),
        "runs_events_per_second": [round(x, 1) for x in totals.subject],
        "baseline": {
            "what": f"the same AWS and vendor calls made directly on {threads} threads (fresh table)",
            "events_per_second": round(bl, 1),
            "runs_events_per_second": [round(x, 1) for x in totals.baseline],
        },
        "ratio": ratio(bl, s),
        "ratio_what": "baseline events/s over subject events/s (time per event, subject vs baseline)",
        "answers": {str(k): v for k, v in sorted(totals.answers.items())},
        "per_event": {
            "zendesk_calls": round(totals.zendesk / n, 2),
            "dynamodb_requests": round(totals.dynamodb / n, 2),
            "links_created": round(totals.created / n, 3),
            "links_deleted": round(totals.deleted / n, 3),
        },
    }


def bench_scale(b: Bench) -> dict[str, Any]:
    return {"burst": bench_burst(b), "delete_issue": bench_delete_growth(b)}
