"""`make soak`: a seeded random workload under faults and kills, then a count of what was lost, doubled or
orphaned.

Both sources create issues and tickets, change their link fields (adding and removing links), and delete
them; agents add links by hand in Zendesk. Every delivery may be sent twice, out of order, and several at
once (threads hitting the functions against one table), and a sender delivers again, with backoff, after
a 5xx or 409, as Jira does. Meanwhile the sandbox fails a share of Zendesk and Jira calls (500, 503, 429,
slow answers, dropped connections, and "lost" answers where the change is applied and the answer fails),
DynamoDB and SQS calls fail now and then (throttling and 500s that the SDK retries, and hand-offs that fail
outright), function processes are killed at random moments (before and after vendor calls, ledger writes
and queue sends, as Lambda does on a timeout: the sender redelivers, an SQS batch comes back after its
visibility timeout, a fresh process starts cold), and optionally Zendesk accepts duplicate links instead
of refusing them. Then the retry worker drains the queue as the SQS event source would, and Zendesk's
links are compared with what should exist.

``python -m tools.soak --events 1000 --fault-rate 0.3`` (``make soak``; ``SOAK_ARGS`` passes more).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from linksync.config import Secrets, Settings
from local import payloads
from local.payloads import ZENDESK_ISSUE_FIELD
from local.stack import (
    LocalStack,
    apply_env,
    context_for,
    drain_queue,
    http_api_event,
    moto_server,
    restore_env,
)
from local.vendors import FAULT_KINDS, RecordedCall, VendorSandbox
from tools.soak.faults import AwsFaults, Reaper
from tools.soak.processes import FunctionPool
from tools.soak.report import SoakConfig, SoakReport
from tools.soak.world import Delivery, World

FUNCTIONS = ("JiraWebhookFunction", "ZendeskWebhookFunction", "RetryWorkerFunction")
# What an SQS visibility timeout is in the soak: a batch whose process died comes back this much later.
CRASHED_BATCH_VISIBILITY = 1


@dataclass
class SoakStack:
    stack: LocalStack
    sandbox: VendorSandbox
    faults: AwsFaults
    reaper: Reaper
    pools: dict[str, FunctionPool]


@contextmanager
def soak_stack(cfg: SoakConfig) -> Iterator[SoakStack]:
    with (
        moto_server() as moto_url,
        VendorSandbox(slow_seconds=1.2, allow_duplicates=cfg.allow_duplicates) as sb,
    ):
        parameters = {
            "ZendeskBaseUrl": sb.url,
            "JiraBaseUrl": sb.url,
            "JiraTicketField": payloads.JIRA_TICKET_FIELD,
            "ZendeskIssueField": ZENDESK_ISSUE_FIELD,
            "SecretName": "zendesk-jira-linksync",
            "ZendeskCallsPerMinute": "0",
        }
        stack = LocalStack(moto_url, parameters, dict(payloads.SECRET_VALUES)).create()
        env = {
            **stack.function_env("JiraWebhookFunction"),
            # thousands of invocations: keep the report readable (the figures come from the stores)
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        previous = apply_env(env)
        faults = AwsFaults(cfg.aws_fault_rate, cfg.handoff_fail_rate, cfg.seed)
        reaper = Reaper(cfg.kill_rate, cfg.seed + 1)
        settings = Settings.from_env(env)
        # One process hosts every function here: it holds both webhooks' signing secrets.
        secrets = Secrets.from_mapping(payloads.SECRET_VALUES, payloads.SECRET_VALUES)
        pools = {
            name: FunctionPool(
                name, settings=settings, secrets=secrets, moto_url=moto_url, faults=faults, reaper=reaper
            )
            for name in FUNCTIONS
        }
        try:
            yield SoakStack(stack, sb, faults, reaper, pools)
        finally:
            restore_env(previous)


def _send(pools: dict[str, FunctionPool], delivery: Delivery) -> int:
    if delivery.source == "jira":
        raw, headers = payloads.signed_jira(delivery.body, delivery_id=delivery.delivery_id)
        name, path = "JiraWebhookFunction", "/webhooks/jira"
    else:
        raw, headers = payloads.signed_zendesk(delivery.body)
        name, path = "ZendeskWebhookFunction", "/webhooks/zendesk"
    try:
        answer = pools[name].invoke(http_api_event("POST", path, raw, headers), context_for(name))
    except Exception:  # a function error or a killed process: API Gateway answers 5xx and the sender retries
        return 500
    return int(answer["statusCode"])


def _redelivery_delay(attempts: int) -> float:
    """A sender's backoff before delivering again (Jira: retries spread over up to ~30 minutes)."""
    return float(min(8.0, 0.25 * 2**attempts))


class _Sender:
    """Delivers events and redelivers, after a backoff, those answered 5xx or 409."""

    def __init__(self, cfg: SoakConfig, report: SoakReport, pools: dict[str, FunctionPool]) -> None:
        self.cfg = cfg
        self.report = report
        self.pools = pools
        self.pending: list[tuple[float, Delivery]] = []
        self.lock = threading.Lock()

    def deliver(self, d: Delivery) -> None:
        started = time.monotonic()
        status = _send(self.pools, d)
        took = time.monotonic() - started
        with self.lock:
            self.report.answer_seconds.append(took)
            self.report.deliveries += 1
            self.report.answers[status] += 1
            if status >= 500 or status == 409:
                d.attempts += 1
                if d.attempts > self.cfg.max_redeliveries:
                    self.report.sender_gave_up += 1
                else:
                    self.report.redeliveries += 1
                    self.pending.append((time.monotonic() + _redelivery_delay(d.attempts), d))

    def due(self) -> list[Delivery]:
        now = time.monotonic()
        with self.lock:
            ready = [d for at, d in self.pending if at <= now]
            self.pending = [(at, d) for at, d in self.pending if at > now]
        return ready


def _send_all(cfg: SoakConfig, report: SoakReport, world: World, sender: _Sender, rng: random.Random) -> None:
    with ThreadPoolExecutor(max_workers=cfg.threads) as pool:
        while report.events < cfg.events or sender.pending:
            batch: list[Delivery] = []
            while report.events < cfg.events and len(batch) < cfg.batch:
                event = world.next_event()
                if event is None:
                    continue
                report.events += 1
                batch.append(event)
                if rng.random() < cfg.duplicate_rate:
                    report.duplicates_sent += 1
                    batch.append(Delivery(event.source, event.body, event.delivery_id))
            batch += sender.due()
            rng.shuffle(batch)  # out of order, and copies apart from their originals
            list(pool.map(sender.deliver, batch))
            if not batch:
                time.sleep(0.05)


def _drain(soak: SoakStack, report: SoakReport) -> None:
    worker = soak.pools["RetryWorkerFunction"]
    for _ in range(40):
        drained = drain_queue(
            soak.stack,
            lambda e: worker.invoke(e, context_for("RetryWorkerFunction")),
            max_batches=5000,
            failure_visibility=CRASHED_BATCH_VISIBILITY,
        )
        report.retry_batches += drained.batches
        report.crashed_batches += drained.errors
        if not soak.stack.queue_depth("RetryQueue"):
            return


def run_soak(cfg: SoakConfig, out: Callable[[str], None] = print) -> SoakReport:
    started = time.monotonic()
    report = SoakReport(cfg)
    rng = random.Random(cfg.seed)
    with soak_stack(cfg) as soak:
        world = World(rng, soak.sandbox)
        soak.sandbox.set_fault_rate(cfg.fault_rate, kinds=FAULT_KINDS, seed=cfg.seed, path_prefix="/")
        _send_all(cfg, report, world, _Sender(cfg, report, soak.pools), rng)
        _drain(soak, report)
        soak.sandbox.clear_faults()
        report.zendesk_faults = dict(soak.sandbox.faults_injected)
        report.aws_faults = soak.faults.counts
        report.kills = Counter(soak.reaper.kills)
        report.cold_starts = sum(p.cold_starts for p in soak.pools.values())
        _compare(report, world, soak.stack, soak.sandbox)
    report.seconds = time.monotonic() - started
    for line in report.lines():
        out(line)
    return report


def _compare(report: SoakReport, world: World, stack: LocalStack, sandbox: VendorSandbox) -> None:
    expected = world.expected_links()
    links = sandbox.links()
    counts = Counter((link["issue_id"], link["ticket_id"]) for link in links)
    actual = set(counts)
    report.expected = len(expected)
    report.lost = sorted(expected - actual)
    report.orphans = sorted(actual - expected)
    report.duplicates = sorted(pair for pair, n in counts.items() if n > 1)
    calls = [c for c in sandbox.calls if c.path.startswith("/api/")]
    report.zendesk_calls = len(calls)
    report.call_kinds = _call_kinds(calls)
    # A change landed when Zendesk applied it, whether or not its answer reached us.
    applied = [
        c
        for c in calls
        if c.method in ("POST", "DELETE")
        and c.path.startswith("/api/services/jira/links")
        and (c.status in (201, 204) or c.fault == "lost_500")
    ]
    report.link_changes = len(applied)
    ledger = {(str(i["issue_id"]), str(i["ticket_id"])): i for i in stack.ledger_links()}
    report.ledger_mismatches = _ledger_mismatches(ledger, links, actual, world)
    report.dead_letters = stack.queue_messages("RetryDeadLetterQueue")
    report.diagnostics = _diagnose([*report.lost, *report.orphans], world, ledger)


def _call_kinds(calls: list[RecordedCall]) -> dict[str, tuple[int, int]]:
    """Zendesk calls by what they were for, each with how many a fault failed ("slow" answers in time)."""
    made: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for call in calls:
        kind = _call_kind(call)
        made[kind] += 1
        failed[kind] += call.fault not in (None, "slow")
    return {kind: (made[kind], failed[kind]) for kind in made}


def _call_kind(call: RecordedCall) -> str:
    if call.path.startswith("/api/services/jira/links"):
        one = call.path.rstrip("/") != "/api/services/jira/links"
        return {"POST": "create link", "DELETE": "delete link"}.get(
            call.method, "show link" if one else "list links"
        )
    if call.path.startswith("/api/v2/tickets/"):
        return "read ticket"
    return call.path.split("?")[0].rsplit("/", 1)[-1] or call.path


def _ledger_mismatches(
    ledger: dict[tuple[str, str], dict[str, Any]],
    links: list[dict[str, Any]],
    actual: set[tuple[str, str]],
    world: World,
) -> list[str]:
    by_id = {link["id"]: link for link in links}
    found: list[str] = []
    for pair, item in ledger.items():
        if item.get("inflight_call") or item.get("claim"):
            found.append(f"ledger {pair} still has a call in flight or a claim: {item.get('inflight_call')}")
        if item.get("state") == "linked":
            link = by_id.get(int(item["link_id"]))
            if link is None or (link["issue_id"], link["ticket_id"]) != pair:
                found.append(f"ledger links {pair} to {item['link_id']}, Zendesk has no such link")
        elif pair in actual and pair not in world.manual:
            found.append(f"ledger says {pair} is {item.get('state')}, Zendesk has it")
    return found


def _diagnose(
    pairs: list[tuple[str, str]], world: World, ledger: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    key_of = {v["id"]: k for k, v in world.issues.items()}
    lines: list[str] = []
    for pair in pairs:
        issue = world.issues.get(key_of.get(pair[0], ""), {})
        ticket = world.tickets.get(pair[1], {})
        item = {k: v for k, v in ledger.get(pair, {}).items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk")}
        lines.append(
            f"{pair}: issue {key_of.get(pair[0])} tickets={sorted(issue.get('tickets', []))} "
            f"deleted={issue.get('deleted')}; ticket keys={sorted(ticket.get('keys', []))} "
            f"deleted={ticket.get('deleted')} manual={ticket.get('manual')}; ledger={item}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a seeded random workload under faults and kills")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--aws-fault-rate", type=float, default=0.05)
    parser.add_argument(
        "--kill-rate",
        type=float,
        default=0.05,
        help="share of function invocations killed mid-way (as Lambda does on a timeout)",
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="Zendesk silently accepts a second link for the same pair (the worst case)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "No application metrics to publish")
    cfg = SoakConfig(
        events=args.events,
        fault_rate=args.fault_rate,
        aws_fault_rate=args.aws_fault_rate,
        kill_rate=args.kill_rate,
        threads=args.threads,
        seed=args.seed,
        allow_duplicates=args.allow_duplicates,
    )
    return 0 if run_soak(cfg).ok else 1


if __name__ == "__main__":
    sys.exit(main())
