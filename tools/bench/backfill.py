"""7. Backfill: a full reconcile job, applied, on an account that already holds N issues and N tickets.

The account is seeded straight into the sandbox (its Python API, not HTTP): fields naming each other in
every mix, some links already there, some dead (their issue or ticket deleted), some made by hand. Then
``ReconcileFunction`` is invoked with ``{"mode": "full", "apply": true}`` as the continuation loop does,
until the job is done, and every vendor call is counted by kind. The budget is large enough not to matter,
so the wall time is the job's own (and the retry worker's, for what the job queued when an invocation's
end cut a pair short); what it would take under a real budget is the calls it needed divided by that
budget (the ideal: the job paces itself on nothing else, apart from the export's 10 pages a minute).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from local.payloads import JIRA_TICKET_FIELD, ZENDESK_ISSUE_FIELD
from local.stack import (
    DrainReport,
    LambdaContext,
    apply_env,
    context_for,
    drain_queue,
    load_handler,
    restore_env,
)
from local.vendors import SandboxState, VendorSandbox
from tools.bench.config import GOALS, log
from tools.bench.figures import ideal_seconds, pages_per_started
from tools.bench.kinds import PAGE_KINDS, count_kinds, per
from tools.bench.world import Bench, quiet

Pair = tuple[str, str]
ISSUE_BASE, TICKET_BASE = 9_000_000, 8_000_000
BUDGETS_PER_MINUTE = (100, 700)
MAX_SLICES = 200


@dataclass
class Account:
    """The seeded account and what a full applied job must leave."""

    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {"id", "tickets": [...]}
    tickets: dict[str, list[str]] = field(default_factory=dict)  # id -> keys in its field
    desired: set[Pair] = field(default_factory=set)
    linked: set[Pair] = field(default_factory=set)  # desired pairs with a link already
    dead: set[Pair] = field(default_factory=set)  # links to a deleted issue or a deleted ticket
    manual: set[Pair] = field(default_factory=set)  # links made by hand, both sides live, nobody names
    deleted_tickets: set[str] = field(default_factory=set)
    deleted_issues: dict[str, str] = field(default_factory=dict)  # key -> id

    @property
    def missing(self) -> set[Pair]:
        return self.desired - self.linked

    @property
    def after(self) -> set[Pair]:
        return self.desired | self.manual


def design(n: int) -> Account:
    """N issues and N tickets: issue i's field names ticket i (every 7th also ticket i+1), every 10th issue
    has an empty field and ticket i names it instead, every 10th from 1 is named from both sides; a tenth of
    the desired pairs are linked already; one in 100 tickets and one in 100 issues is deleted with a link
    left to it; one in 100 live pairs that nobody names has a link made by hand."""
    a = Account()
    key = {i: f"BF-{i + 1}" for i in range(n)}  # Jira numbers issues from 1
    iid = {i: str(ISSUE_BASE + i) for i in range(n)}
    tid = {i: str(TICKET_BASE + i) for i in range(n)}
    for i in range(n):
        named = [] if i % 10 == 0 else [tid[i]]
        if i % 7 == 3 and i + 1 < n:
            named.append(tid[i + 1])
        a.issues[key[i]] = {"id": iid[i], "tickets": named}
        a.tickets[tid[i]] = [key[i]] if i % 10 in (0, 1) else []
    for i in range(n):
        a.desired |= {(iid[i], t) for t in a.issues[key[i]]["tickets"]}
        a.desired |= {(iid[i], tid[i]) for _ in a.tickets[tid[i]]}
    ordered = sorted(a.desired)
    a.linked = set(ordered[::10])
    for k in range(max(1, n // 100)):
        dead_issue, dead_ticket = f"BFX-{k + 1}", str(TICKET_BASE + n + k)
        a.deleted_issues[dead_issue] = str(ISSUE_BASE + n + k)
        a.deleted_tickets.add(dead_ticket)
        a.dead.add((a.deleted_issues[dead_issue], tid[(k * 37) % n]))
        a.dead.add((iid[(k * 53) % n], dead_ticket))
        manual = (iid[(k * 71 + 5) % n], tid[(k * 71 + 50) % n])
        if manual not in a.desired:
            a.manual.add(manual)
    return a


def seed(sandbox: VendorSandbox, a: Account) -> None:
    """The account in the sandbox, through its Python API; then the export's one-minute lag passed."""
    for k, issue in a.issues.items():
        value = ", ".join(issue["tickets"])
        sandbox.add_issue(k, issue["id"], fields={JIRA_TICKET_FIELD: value} if value else {})
    for t, keys in a.tickets.items():
        sandbox.add_ticket(t, {ZENDESK_ISSUE_FIELD: " ".join(keys)} if keys else {})
    for k, issue_id in a.deleted_issues.items():
        sandbox.add_issue(k, issue_id)
    for t in a.deleted_tickets:
        sandbox.add_ticket(t, {})
    key_of = {v["id"]: k for k, v in a.issues.items()} | {v: k for k, v in a.deleted_issues.items()}
    for issue_id, ticket_id in sorted(a.linked | a.dead | a.manual):
        sandbox.add_link(issue_id=issue_id, issue_key=key_of[issue_id], ticket_id=ticket_id)
    for k in a.deleted_issues:
        sandbox.delete_issue(k)
    for t in a.deleted_tickets:
        sandbox.delete_ticket(t)
    sandbox.advance(120)


def export_floor_seconds(pages: int, per_minute: int = 10) -> float:
    """The export allows ``per_minute`` pages a minute: the least time ``pages`` of them take."""
    return round(max(0, pages - 1) * 60 / per_minute, 1)


def run_job(b: Bench, stack: Any) -> tuple[list[dict[str, Any]], float]:
    """Invoke the reconcile function until its job is done; the answers and the wall time."""
    previous = apply_env(stack.function_env("ReconcileFunction"))
    answers: list[dict[str, Any]] = []
    try:
        handler = load_handler("ReconcileFunction")
        started = time.perf_counter()
        with quiet():
            for _ in range(MAX_SLICES):
                answer = handler(
                    {"mode": "full", "apply": True}, LambdaContext("ReconcileFunction", timeout_seconds=900)
                )
                answers.append(answer)
                if answer.get("error") or answer.get("done"):
                    break
                if answer.get("waiting") or answer.get("busy"):
                    time.sleep(min(float(answer.get("retry_in", 1)), 5.0))
        return answers, time.perf_counter() - started
    finally:
        restore_env(previous)


def drain_retries(stack: Any) -> tuple[DrainReport, float]:
    """What the job queued (an invocation's end cutting a pair short) carried out by the retry worker, as
    the SQS event source would; the report and the wall time."""
    previous = apply_env(stack.function_env("RetryWorkerFunction"))
    try:
        handler = load_handler("RetryWorkerFunction")
        started = time.perf_counter()
        with quiet():
            report = drain_queue(
                stack, lambda e: handler(e, context_for("RetryWorkerFunction")), max_batches=10_000
            )
        return report, time.perf_counter() - started
    finally:
        restore_env(previous)


def bench_backfill(b: Bench) -> dict[str, Any]:
    n = b.cfg.backfill_size
    account = design(n)
    b.sandbox.state = SandboxState()  # only the account: no sample issues or tickets
    seed(b.sandbox, account)
    stack = b.new_stack()
    log(
        f"  backfill: {len(account.issues)} issues, {len(account.tickets)} tickets, "
        f"{len(account.missing)} links to create, {len(account.dead)} dead"
    )
    try:
        with b.probe.measure() as tally:
            answers, seconds = run_job(b, stack)
            drained, drain_seconds = drain_retries(stack)
        links = b.sandbox.link_pairs()
    finally:
        b.reset_sandbox()  # the samples back, the account's 20,000 records gone
    last = answers[-1] if answers else {}
    kinds = count_kinds(tally.vendor)
    zendesk = {k: v for k, v in kinds.items() if k.startswith("zendesk ")}
    jira = {k: v for k, v in kinds.items() if k.startswith("jira ")}
    pages = sum(v for k, v in zendesk.items() if k in PAGE_KINDS)
    created, deleted = tally.created, tally.deleted
    zendesk_calls = sum(zendesk.values())
    links_seen = len(account.linked | account.dead | account.manual)
    converged = set(links) == account.after and len(links) == len(account.after)
    per_link = per(zendesk_calls - pages, created + deleted)
    with_field = sum(1 for issue in account.issues.values() if issue["tickets"])
    search_per_100 = pages_per_started(jira.get("jira search page", 0), with_field, 100)
    list_per_1000 = pages_per_started(zendesk.get("zendesk links page", 0), links_seen, 1000)
    export_pages = zendesk.get("zendesk export page", 0)
    checks = {
        "zendesk_calls_per_link_change_beyond_pages": (per_link, GOALS["backfill_zendesk_per_link"]),
        "jira_search_pages_per_100_issues": (search_per_100, GOALS["backfill_jira_per_100_issues"]),
        "link_list_calls_per_1000_links": (list_per_1000, GOALS["backfill_list_per_1000_links"]),
    }
    return {
        "what": f"a full reconcile job, applied, on {len(account.issues)} issues and {len(account.tickets)} "
        f"tickets seeded into the sandbox; ReconcileFunction invoked until done, budget unlimited",
        "issues": len(account.issues),
        "tickets": len(account.tickets) + len(account.deleted_tickets),
        "expected": {
            "desired": len(account.desired),
            "linked_before": len(account.linked),
            "missing": len(account.missing),
            "dead": len(account.dead),
            "manual": len(account.manual),
        },
        "report": last.get("report", {}),
        # the job's own counts against the seeded account's (a full job reads everything)
        "report_as_expected": {
            k: last.get("report", {}).get(k) == v
            for k, v in (
                ("desired", len(account.desired)),
                ("missing", len(account.missing)),
                ("dead", len(account.dead)),
                ("manual", len(account.manual)),
            )
        },
        # one issue's or ticket's links listed: only to purge a dead one (a link there before that the
        # ledger did not know is adopted from the job's own listing, without a second look); an issue's
        # list (the deprecated one, the only one filtering by issue) ends on an empty second page
        "links_of_one_expected": 2 * len(account.deleted_issues) + len(account.deleted_tickets),
        "done": bool(last.get("done")),
        "error": last.get("error"),
        "slices": len(answers),
        "retry_queue": {
            "records": drained.records,
            "batches": drained.batches,
            "failures": drained.failures,
            "seconds": round(drain_seconds, 1),
        },
        "converged": converged,
        "links_after": len(links),
        "created": created,
        "deleted": deleted,
        "zendesk_calls": zendesk_calls,
        "zendesk_page_reads": pages,
        "jira_calls": sum(jira.values()),
        "calls_by_kind": kinds,
        # every request in the window: the harness makes none while the job runs (HARNESS_OPS would leave
        # out the job's own BatchWriteItem and Scan)
        "dynamodb_requests": sum(n for op, n in tally.ops.items() if op.startswith("dynamodb.")),
        "aws_ops": dict(sorted(tally.ops.items())),
        "seconds": round(seconds + drain_seconds, 1),
        "job_seconds": round(seconds, 1),
        "export_floor_seconds": export_floor_seconds(export_pages),
        "ideal_seconds_under_budget": {
            str(pm): round(max(ideal_seconds(zendesk_calls, pm), export_floor_seconds(export_pages)), 1)
            for pm in BUDGETS_PER_MINUTE
        },
        "goals": {k: {"value": v, "goal": g, "ok": v is not None and v <= g} for k, (v, g) in checks.items()},
        "issues_with_field": with_field,
        "links_before": links_seen,
        "jira_calls_per_100_issues": per(sum(jira.values()), len(account.issues), 100),
    }
