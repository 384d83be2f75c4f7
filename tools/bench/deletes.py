"""4. Scale, continued: deleting an issue with 1, 10, 100 (and 1,000) links; time grows with N, calls per
link fall toward one."""

from __future__ import annotations

import functools
import time
from typing import Any

from local.stack import LocalStack, drain_queue
from tools.bench.config import log, median, ratio
from tools.bench.probe import Tally
from tools.bench.replay import subst
from tools.bench.world import Bench, answer_body, jira_http_event


def _swap(old: str, new: str, text: str) -> str:
    return text.replace(old, new)


def _seed_issue_links(b: Bench, stack: LocalStack, issue_id: str, key: str, count: int) -> None:
    """``count`` links on one issue, as a Jira issue_created would leave them: the first pair made by the
    Jira webhook itself (an issue_created listing its ticket), the others added to Zendesk directly and to
    the ledger as copies of the first pair's item, in batches."""
    tickets = [str(9_100_000 + b.next_id()) for _ in range(count)]
    created = b.invoke(
        "JiraWebhookFunction", jira_http_event("jira:issue_created", issue_id, key, tickets=tickets[0])
    )
    if answer_body(created).get("created") != 1:
        raise RuntimeError(f"seeding {key}: the first link was not created: {created}")
    links = [b.sandbox.add_link(issue_id=issue_id, issue_key=key, ticket_id=t) for t in tickets[1:]]
    if links:
        _clone_ledger_item(stack, issue_id, tickets, links)


def _clone_ledger_item(
    stack: LocalStack, issue_id: str, tickets: list[str], links: list[dict[str, Any]]
) -> None:
    """The ledger item of ``tickets[0]``'s pair copied for each other ticket, with that ticket's link id."""
    from boto3.dynamodb.types import TypeSerializer

    template = next(
        i
        for i in stack.ledger_links()
        if str(i["issue_id"]) == issue_id and str(i["ticket_id"]) == tickets[0]
    )
    ser = TypeSerializer()
    requests_ = []
    for ticket, link in zip(tickets[1:], links, strict=True):
        item = subst(template, functools.partial(_swap, tickets[0], ticket))
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
        with b.probe.measure() as drained:
            drain_queue(stack, lambda e: b.invoke("RetryWorkerFunction", e), max_batches=5000)
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


def _timed_rounds(b: Bench, stack: LocalStack, rows: dict[str, dict[str, Any]]) -> dict[int, list[float]]:
    """Every timed size in every run, the order rotated per run; the counts of each size's first run go in
    ``rows``."""
    sizes = b.cfg.delete_sizes
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(b.cfg.runs):
        for n in sizes[r % len(sizes) :] + sizes[: r % len(sizes)]:
            seconds, tally, issue_id, body = _delete_once(b, stack, n)
            times[n].append(seconds)
            if str(n) not in rows:
                rows[str(n)] = _delete_counts(b, stack, issue_id, n, tally, body)
        log(f"  scale: delete growth round {r + 1}/{b.cfg.runs}")
    return times


def bench_delete_growth(b: Bench) -> dict[str, Any]:
    cfg = b.cfg
    sizes = cfg.delete_sizes
    stack = b.new_stack()
    rows: dict[str, dict[str, Any]] = {}
    with b.functions_on(stack):
        times = _timed_rounds(b, stack, rows)
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
