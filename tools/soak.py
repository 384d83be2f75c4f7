"""`make soak`: a seeded random workload under faults, then a count of what was lost, doubled or orphaned.

Both sources create issues and tickets, change their link fields (adding and removing links), and delete
them; agents add links by hand in Zendesk. Every delivery may be sent twice, out of order, and several at
once (threads hitting the handlers against one table), and a sender delivers again after a 5xx or 409, as
Jira does. Meanwhile the sandbox fails a share of Zendesk and Jira calls (500, 503, 429, slow answers,
dropped connections, and "lost" answers where the change is applied and the answer fails), DynamoDB and
SQS calls fail now and then (throttling and 500s that the SDK retries, and hand-offs that fail outright),
and optionally Zendesk accepts duplicate links instead of refusing them. Then the retry worker drains the
queue as the SQS event source would, and Zendesk's links are compared with what should exist.

``python -m tools.soak --events 1000 --fault-rate 0.3`` (``make soak``; ``SOAK_ARGS`` passes more).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from linksync.config import Secrets, Settings
from linksync.services import build_services
from local import payloads
from local.payloads import ZENDESK_ISSUE_FIELD
from local.stack import (
    REGION,
    LocalStack,
    apply_env,
    context_for,
    drain_queue,
    handler_module,
    http_api_event,
    moto_server,
    restore_env,
)
from local.vendors import FAULT_KINDS, VendorSandbox

FUNCTIONS = ("JiraWebhookFunction", "ZendeskWebhookFunction", "RetryWorkerFunction")


@dataclass
class SoakConfig:
    events: int = 1000
    fault_rate: float = 0.3
    aws_fault_rate: float = 0.05
    handoff_fail_rate: float = 0.01
    duplicate_rate: float = 0.15
    threads: int = 4
    batch: int = 20
    seed: int = 7
    allow_duplicates: bool = False
    max_redeliveries: int = 30


@dataclass
class SoakReport:
    config: SoakConfig
    events: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    duplicates_sent: int = 0
    sender_gave_up: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    zendesk_faults: dict[str, int] = field(default_factory=dict)
    aws_faults: Counter[str] = field(default_factory=Counter)
    zendesk_calls: int = 0
    link_changes: int = 0
    expected: int = 0
    lost: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    orphans: list[tuple[str, str]] = field(default_factory=list)
    ledger_mismatches: list[str] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    retry_batches: int = 0
    seconds: float = 0.0
    diagnostics: list[str] = field(default_factory=list)

    @property
    def transient_dead_letters(self) -> list[dict[str, Any]]:
        return [d for d in self.dead_letters if d.get("reason", {}).get("retryable")]

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicates
            or self.orphans
            or self.ledger_mismatches
            or self.transient_dead_letters
            or self.sender_gave_up
        )

    def figure_line(self) -> str:
        cfg = self.config
        per_change = self.zendesk_calls / self.link_changes if self.link_changes else 0.0
        return (
            f"{self.events} events, {cfg.fault_rate:.0%} Zendesk/Jira faults, {cfg.aws_fault_rate:.0%} AWS "
            f"faults: {len(self.lost)} lost, {len(self.duplicates)} duplicates, {len(self.orphans)} orphans, "
            f"{len(self.transient_dead_letters)} transient failures dead-lettered "
            f"({self.deliveries} deliveries, {per_change:.2f} Zendesk calls per link change)"
        )

    def lines(self) -> list[str]:
        per_change = self.zendesk_calls / self.link_changes if self.link_changes else 0.0
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.answers.items()))
        return [
            f"events generated           {self.events}",
            f"deliveries sent            {self.deliveries} ({self.duplicates_sent} duplicates, "
            f"{self.redeliveries} redeliveries after 5xx/409)",
            f"webhook answers            {answers}",
            f"Zendesk/Jira faults        {sum(self.zendesk_faults.values())} "
            f"{json.dumps(dict(sorted(self.zendesk_faults.items())))}",
            f"AWS faults                 {sum(self.aws_faults.values())} "
            f"{json.dumps(dict(sorted(self.aws_faults.items())))}",
            f"retry worker batches       {self.retry_batches}",
            f"Zendesk calls              {self.zendesk_calls} for {self.link_changes} link changes "
            f"({per_change:.2f} per change)",
            f"links expected             {self.expected}",
            f"links lost                 {len(self.lost)} {self.lost[:5]}",
            f"duplicate links            {len(self.duplicates)} {self.duplicates[:5]}",
            f"orphan links               {len(self.orphans)} {self.orphans[:5]}",
            f"ledger vs Zendesk          {len(self.ledger_mismatches)} mismatches "
            f"{self.ledger_mismatches[:3]}",
            f"dead-lettered              {len(self.dead_letters)} "
            f"({len(self.transient_dead_letters)} transient) "
            f"{Counter(str(d.get('reason', {}).get('status')) for d in self.dead_letters).most_common()}",
            f"time                       {self.seconds:.1f}s",
            *[f"  why: {line}" for line in self.diagnostics],
            *[f"  transient dead letter: {json.dumps(d)[:400]}" for d in self.transient_dead_letters],
            "",
            f"FIGURES: {self.figure_line()}",
            "OK" if self.ok else "FAILED: something was lost, doubled, orphaned or wrongly dead-lettered",
        ]


# ---------------------------------------------------------------------------- AWS faults


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


class AwsFaults:
    """botocore event hooks: throttling and 500s before sending (the SDK retries those), and hand-offs to
    SQS that fail outright (no retry: the handler must answer 5xx or report the record failed)."""

    def __init__(self, rate: float, handoff_rate: float, seed: int) -> None:
        self.rate = rate
        self.handoff_rate = handoff_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def _roll(self, p: float) -> bool:
        with self._lock:
            return self._rng.random() < p

    def before_send(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if not self._roll(self.rate):
            return None
        service = kwargs.get("event_name", "before-send.x").split(".")[1]
        if service == "dynamodb" and self._roll(0.5):
            self.counts["dynamodb throttled"] += 1
            body = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                    "message": "Rate of requests exceeds the allowed throughput.",
                }
            ).encode()
            return AWSResponse(request.url, 400, {"x-amzn-requestid": "soak"}, _Raw(body))
        self.counts[f"{service} 500"] += 1
        return AWSResponse(
            request.url, 500, {"x-amzn-requestid": "soak"}, _Raw(b'{"__type": "InternalFailure"}')
        )

    def before_call(self, model: Any, **kwargs: Any) -> None:
        if self._roll(self.handoff_rate):
            self.counts["sqs hand-off failed"] += 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "soak"}}, model.name)

    def client(self, service: str, endpoint_url: str) -> Any:
        made = boto3.client(
            service,
            endpoint_url=endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        made.meta.events.register(f"before-send.{service}", self.before_send)
        if service == "sqs":
            made.meta.events.register("before-call.sqs.SendMessage", self.before_call)
        return made


# ---------------------------------------------------------------------------- the world and its events


@dataclass
class Delivery:
    source: str  # "jira" or "zendesk"
    body: dict[str, Any]
    delivery_id: str | None = None
    attempts: int = 0


@dataclass
class World:
    """What is true in Jira and Zendesk: the model the expected links are computed from."""

    rng: random.Random
    sandbox: VendorSandbox
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {id, tickets, deleted}
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {keys, deleted, manual}
    manual: set[tuple[str, str]] = field(default_factory=set)
    clock: int = 1_700_000_000_000
    counter: int = 0

    def _tick(self) -> int:
        self.clock += 1000
        return self.clock

    def _ticket_value(self, ids: list[str]) -> Any:
        style = self.rng.choice(("csv", "spaces", "list", "urls"))
        if style == "csv":
            return ", ".join(ids)
        if style == "spaces":
            return " ".join(ids)
        if style == "list":
            return [int(i) for i in ids]
        return " ".join(f"https://acme.zendesk.com/agent/tickets/{i}" for i in ids)

    def _key_value(self, keys: list[str]) -> str:
        if self.rng.random() < 0.3:
            return " ".join(f"https://acme.atlassian.net/browse/{k}" for k in keys)
        return ", ".join(keys)

    def _field_tickets(self) -> list[str]:
        pool = [t for t, v in self.tickets.items() if not v["manual"]]
        return sorted(self.rng.sample(pool, k=min(len(pool), self.rng.randint(0, 3))), key=int)

    def _field_keys(self) -> list[str]:
        pool = list(self.issues)
        return sorted(self.rng.sample(pool, k=min(len(pool), self.rng.randint(0, 3))))

    def next_event(self) -> Delivery | None:
        self.counter += 1
        live_issues = [k for k, v in self.issues.items() if not v["deleted"]]
        live_tickets = [t for t, v in self.tickets.items() if not v["deleted"]]
        roll = self.rng.random()
        if roll < 0.15 or len(self.tickets) < 3:
            return self._new_ticket()
        if roll < 0.30 or not live_issues:
            return self._new_issue()
        if roll < 0.50:
            return self._update_issue(self.rng.choice(live_issues))
        if roll < 0.65 and live_tickets:
            return self._update_ticket(self.rng.choice(live_tickets))
        if roll < 0.72:
            return self._delete_issue(self.rng.choice(live_issues))
        if roll < 0.78 and live_tickets:
            return self._delete_ticket(self.rng.choice(live_tickets))
        if roll < 0.85:
            return self._manual_link(live_issues)
        return self._update_issue(self.rng.choice(live_issues))

    def _new_issue(self) -> Delivery:
        n = len(self.issues) + 1
        key, issue_id = f"SOAK-{n}", str(50000 + n)
        tickets = self._field_tickets()
        self.issues[key] = {"id": issue_id, "tickets": set(tickets), "deleted": False}
        self.sandbox.add_issue(key, issue_id)
        body = payloads.jira_issue(
            "jira:issue_created", issue_id, key, tickets=self._ticket_value(tickets), timestamp=self._tick()
        )
        return Delivery("jira", body, f"jira-{self.counter}")

    def _update_issue(self, key: str) -> Delivery:
        issue = self.issues[key]
        tickets = self._field_tickets()
        issue["tickets"] = set(tickets)
        body = payloads.jira_issue(
            "jira:issue_updated",
            issue["id"],
            key,
            tickets=self._ticket_value(tickets),
            timestamp=self._tick(),
        )
        return Delivery("jira", body, f"jira-{self.counter}")

    def _delete_issue(self, key: str) -> Delivery:
        issue = self.issues[key]
        issue["deleted"] = True
        self.sandbox.delete_issue(key)
        body = payloads.jira_issue("jira:issue_deleted", issue["id"], key, timestamp=self._tick())
        return Delivery("jira", body, f"jira-{self.counter}")

    def _new_ticket(self) -> Delivery:
        ticket_id = str(70000 + len(self.tickets) + 1)
        manual = self.rng.random() < 0.2
        keys = [] if manual else self._field_keys()
        self.tickets[ticket_id] = {"keys": set(keys), "deleted": False, "manual": manual}
        self.sandbox.add_ticket(ticket_id, {ZENDESK_ISSUE_FIELD: self._key_value(keys)} if keys else {})
        return Delivery(
            "zendesk", payloads.zendesk_event("ticket.created", ticket_id, event_id=f"zd-{self.counter}")
        )

    def _update_ticket(self, ticket_id: str) -> Delivery:
        ticket = self.tickets[ticket_id]
        keys = [] if ticket["manual"] else self._field_keys()
        ticket["keys"] = set(keys)
        self.sandbox.set_ticket_field(ticket_id, ZENDESK_ISSUE_FIELD, self._key_value(keys))
        return Delivery(
            "zendesk",
            payloads.zendesk_event("ticket.custom_field_changed", ticket_id, event_id=f"zd-{self.counter}"),
        )

    def _delete_ticket(self, ticket_id: str) -> Delivery:
        self.tickets[ticket_id]["deleted"] = True
        self.sandbox.delete_ticket(ticket_id)
        kind = self.rng.choice(("ticket.soft_deleted", "ticket.permanently_deleted", "ticket.merged"))
        return Delivery("zendesk", payloads.zendesk_event(kind, ticket_id, event_id=f"zd-{self.counter}"))

    def _manual_link(self, live_issues: list[str]) -> Delivery | None:
        manual_tickets = [t for t, v in self.tickets.items() if v["manual"] and not v["deleted"]]
        if not manual_tickets:
            return None
        key, ticket_id = self.rng.choice(live_issues), self.rng.choice(manual_tickets)
        pair = (self.issues[key]["id"], ticket_id)
        if pair not in self.manual:
            self.manual.add(pair)
            self.sandbox.add_link(issue_id=pair[0], issue_key=key, ticket_id=ticket_id)
        return None

    def expected_links(self) -> set[tuple[str, str]]:
        by_key = self.issues
        wanted: set[tuple[str, str]] = set()
        for issue in by_key.values():
            if not issue["deleted"]:
                wanted |= {(issue["id"], t) for t in issue["tickets"] if not self.tickets[t]["deleted"]}
        for ticket_id, ticket in self.tickets.items():
            if not ticket["deleted"]:
                wanted |= {(by_key[k]["id"], ticket_id) for k in ticket["keys"] if not by_key[k]["deleted"]}
        live_ids = {v["id"] for v in by_key.values() if not v["deleted"]}
        wanted |= {(i, t) for i, t in self.manual if i in live_ids and not self.tickets[t]["deleted"]}
        return wanted


# ---------------------------------------------------------------------------- the run


@contextmanager
def soak_stack(cfg: SoakConfig) -> Iterator[tuple[LocalStack, VendorSandbox, AwsFaults]]:
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
        modules = [handler_module(name) for name in FUNCTIONS]
        try:
            settings, secrets = Settings.from_env(env), Secrets.from_mapping(payloads.SECRET_VALUES)
            for module in modules:
                module.SERVICES.override(
                    build_services(
                        settings,
                        secrets,
                        dynamodb=faults.client("dynamodb", moto_url),
                        sqs=faults.client("sqs", moto_url),
                        metrics=None,  # thousands of invocations: no EMF lines in the report
                        logger=module.logger,
                    )
                )
            yield stack, sb, faults
        finally:
            for module in modules:
                module.SERVICES.override(None)
            restore_env(previous)


def _send(delivery: Delivery) -> int:
    if delivery.source == "jira":
        raw, headers = payloads.signed_jira(delivery.body, delivery_id=delivery.delivery_id)
        name, path = "JiraWebhookFunction", "/webhooks/jira"
    else:
        raw, headers = payloads.signed_zendesk(delivery.body)
        name, path = "ZendeskWebhookFunction", "/webhooks/zendesk"
    module = handler_module(name)
    try:
        answer = module.lambda_handler(http_api_event("POST", path, raw, headers), context_for(name))
    except Exception:  # a function error: API Gateway answers 500 and the sender retries
        return 500
    return int(answer["statusCode"])


def run_soak(cfg: SoakConfig, out: Callable[[str], None] = print) -> SoakReport:
    started = time.monotonic()
    report = SoakReport(cfg)
    rng = random.Random(cfg.seed)
    with soak_stack(cfg) as (stack, sandbox, faults):
        world = World(rng, sandbox)
        sandbox.set_fault_rate(cfg.fault_rate, kinds=FAULT_KINDS, seed=cfg.seed, path_prefix="/")
        pending: list[Delivery] = []
        lock = threading.Lock()

        def deliver(d: Delivery) -> None:
            status = _send(d)
            with lock:
                report.deliveries += 1
                report.answers[status] += 1
                if status >= 500 or status == 409:
                    d.attempts += 1
                    if d.attempts > cfg.max_redeliveries:
                        report.sender_gave_up += 1
                    else:
                        report.redeliveries += 1
                        pending.append(d)

        with ThreadPoolExecutor(max_workers=cfg.threads) as pool:
            while report.events < cfg.events or pending:
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
                with lock:
                    batch += pending
                    pending.clear()
                rng.shuffle(batch)  # out of order, and copies apart from their originals
                list(pool.map(deliver, batch))
                if len(batch) < cfg.batch and report.events >= cfg.events and pending:
                    time.sleep(0.05)
            worker = handler_module("RetryWorkerFunction").lambda_handler
            for _ in range(20):
                drained = drain_queue(
                    stack,
                    lambda e: worker(e, context_for("RetryWorkerFunction")),
                    max_batches=5000,
                    failure_visibility=0,
                )
                report.retry_batches += drained.batches
                if not stack.queue_depth("RetryQueue"):
                    break
        sandbox.clear_faults()
        report.zendesk_faults = dict(sandbox.faults_injected)
        report.aws_faults = faults.counts
        _compare(report, world, stack, sandbox)
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
    # A change landed when Zendesk applied it, whether or not its answer reached us.
    applied = [
        c
        for c in calls
        if c.method in ("POST", "DELETE")
        and c.path.startswith("/api/services/jira/links")
        and (c.status in (201, 204) or c.fault == "lost_500")
    ]
    report.link_changes = len(applied)
    by_id = {link["id"]: link for link in links}
    for item in stack.ledger_links():
        pair = (str(item["issue_id"]), str(item["ticket_id"]))
        if item.get("state") == "linked":
            link = by_id.get(int(item["link_id"]))
            if link is None or (link["issue_id"], link["ticket_id"]) != pair:
                report.ledger_mismatches.append(
                    f"ledger links {pair} to {item['link_id']}, Zendesk has no such link"
                )
        elif pair in actual and pair not in world.manual:
            report.ledger_mismatches.append(f"ledger says {pair} is {item.get('state')}, Zendesk has it")
    report.dead_letters = stack.queue_messages("RetryDeadLetterQueue")
    ledger = {(str(i["issue_id"]), str(i["ticket_id"])): i for i in stack.ledger_links()}
    key_of = {v["id"]: k for k, v in world.issues.items()}
    for pair in [*report.lost, *report.orphans]:
        issue = world.issues.get(key_of.get(pair[0], ""), {})
        ticket = world.tickets.get(pair[1], {})
        item = {k: v for k, v in ledger.get(pair, {}).items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk")}
        report.diagnostics.append(
            f"{pair}: issue {key_of.get(pair[0])} tickets={sorted(issue.get('tickets', []))} "
            f"deleted={issue.get('deleted')}; ticket keys={sorted(ticket.get('keys', []))} "
            f"deleted={ticket.get('deleted')} manual={ticket.get('manual')}; ledger={item}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a seeded random workload under faults")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--aws-fault-rate", type=float, default=0.05)
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
        threads=args.threads,
        seed=args.seed,
        allow_duplicates=args.allow_duplicates,
    )
    return 0 if run_soak(cfg).ok else 1


if __name__ == "__main__":
    sys.exit(main())
