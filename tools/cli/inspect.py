"""What `linksync status` and `linksync links` gather: the ledger, the queues, the budget, the last reconcile
jobs, and for one issue or ticket, its links as the ledger and Zendesk each see them."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from linksync import errors
from linksync.budget import CallBudget
from linksync.jira import ISSUE_KEY_RE
from linksync.ledger import JIRA_OWNER, ZENDESK_OWNER, Ledger, LinkRecord
from linksync.reconcile.job import result
from linksync.reconcile.store import JobStore
from tools.cli.queues import hold_all, release
from tools.cli.target import CliError, Target

MAX_SCANNED = 1_000_000


def status(target: Target) -> dict[str, Any]:
    table = target.output("LinksTableName")
    return {
        "stack": target.name,
        "ledger": ledger_census(Ledger(table, client=target.dynamodb)),
        "queues": queues(target),
        "budget": budget(target, table),
        "reconcile": last_jobs(JobStore(table, client=target.dynamodb)),
    }


def ledger_census(ledger: Ledger) -> dict[str, Any]:
    """Pairs by state, with owners and calls in flight (a scan: it reads every pair once)."""
    states: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    in_flight = scanned = 0
    start: Any = None
    while scanned < MAX_SCANNED:
        records, start = ledger.pairs_page(start, limit=1000)
        scanned += len(records)
        for rec in records:
            states[rec.state] += 1
            owners.update(rec.owners)
            in_flight += rec.in_flight is not None
        if not start:
            break
    return {"pairs": scanned, "states": dict(states), "owners": dict(owners), "in_flight": in_flight}


def queues(target: Target) -> dict[str, Any]:
    retry, dead = target.output("RetryQueueUrl"), target.output("RetryDeadLetterQueueUrl")
    letters = hold_all(target.sqs, dead)
    release(target.sqs, dead, letters)
    oldest = min((int(d.body.get("dead_lettered_at", 0)) for d in letters), default=None)
    return {
        "retry": _depth(target.sqs, retry) | {"oldest_age_seconds": _oldest_age(target, retry)},
        "dead_letter": {
            "messages": len(letters),
            "oldest_age_seconds": int(time.time()) - oldest if oldest else None,
            "by_reason": dict(Counter(d.reason for d in letters).most_common()),
        },
    }


def _depth(sqs: Any, url: str) -> dict[str, int]:
    names = {"visible": "ApproximateNumberOfMessages", "in_flight": "ApproximateNumberOfMessagesNotVisible"}
    names["delayed"] = "ApproximateNumberOfMessagesDelayed"
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names.values()))["Attributes"]
    return {k: int(attrs.get(v, 0)) for k, v in names.items()}


def _oldest_age(target: Target, url: str) -> int | None:
    """The retry queue's oldest message, from CloudWatch (SQS itself does not say; receiving would count as
    a receive and bring messages nearer the dead-letter queue). None where there is no CloudWatch data."""
    if target.local:
        return None
    now = time.time()
    stats = target.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": url.rsplit("/", 1)[-1]}],
        StartTime=now - 900,
        EndTime=now,
        Period=300,
        Statistics=["Maximum"],
    )
    points = sorted(stats.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return int(points[-1]["Maximum"]) if points else None


def budget(target: Target, table: str) -> dict[str, Any]:
    per_minute = int(target.parameters.get("ZendeskCallsPerMinute") or 0)
    backlog = CallBudget(table, per_minute, client=target.dynamodb).backlog() if per_minute else 0.0
    return {"per_minute": per_minute or None, "reserved_seconds_ahead": round(backlog, 1)}


def last_jobs(store: JobStore) -> list[dict[str, Any]]:
    jobs = [store.load(mode, apply) for mode in ("full", "incremental") for apply in (True, False)]
    found = [job for job in jobs if job is not None]
    found.sort(key=lambda job: job.started_at, reverse=True)
    return [result(job) | {"started_at": job.started_at, "finished_at": job.finished_at} for job in found]


# --------------------------------------------------------------------------- one issue or ticket


def links(target: Target, what: str) -> dict[str, Any]:
    """The links of one issue (by key) or one ticket (by id): the ledger's and Zendesk's."""
    ledger = Ledger(target.output("LinksTableName"), client=target.dynamodb)
    zendesk, jira = target.vendors()
    try:
        if what.isdigit():
            records = ledger.links_for_ticket(what)
            held = list(zendesk.iter_links(ticket_id=what))
            subject = {"ticket_id": what}
        elif ISSUE_KEY_RE.match(what.upper()):
            issue = jira.get_issue(what.upper())
            records = ledger.links_for_issue(issue.id)
            held = [lk for lk in zendesk.iter_links_deprecated(issue_id=issue.id) if lk.issue_id == issue.id]
            subject = {"issue_key": issue.key, "issue_id": issue.id}
        else:
            raise CliError(f"{what!r} is neither a Jira issue key (PROJ-1) nor a Zendesk ticket id (123)")
    except errors.NotFoundError as e:
        raise CliError(f"{what} was not found ({e.service})") from None
    except errors.ApiError as e:
        raise CliError(f"could not read {what}: {e}") from None
    return subject | {"links": _rows(records, held)}


def _rows(records: list[LinkRecord], held: list[Any]) -> list[dict[str, Any]]:
    by_pair = {(r.issue_id, r.ticket_id): r for r in records}
    zendesk: dict[tuple[str, str], list[int]] = {}
    keys: dict[str, str] = {}
    for link in held:
        zendesk.setdefault((link.issue_id, link.ticket_id), []).append(link.id)
        keys[link.issue_id] = link.issue_key
    rows = []
    for pair in sorted(set(by_pair) | set(zendesk)):
        rec = by_pair.get(pair)
        wanted_by = [
            name
            for owner, name in ((JIRA_OWNER, "Jira field"), (ZENDESK_OWNER, "Zendesk field"))
            if rec is not None and owner in rec.owners
        ]
        in_zendesk = sorted(zendesk.get(pair, []))
        if in_zendesk and not wanted_by:
            wanted_by = (
                ["by hand"] if rec is None or rec.link_id not in in_zendesk else ["nobody (to be deleted)"]
            )
        rows.append(
            {
                "issue_id": pair[0],
                "issue_key": (rec.issue_key if rec else "") or keys.get(pair[0], ""),
                "ticket_id": pair[1],
                "wanted_by": wanted_by,
                "ledger_state": rec.state if rec else None,
                "ledger_link_id": rec.link_id if rec else None,
                "zendesk_link_ids": in_zendesk,
                "agrees": _agrees(rec, in_zendesk),
            }
        )
    return rows


def _agrees(rec: LinkRecord | None, in_zendesk: list[int]) -> bool:
    """The ledger and Zendesk tell the same story about the pair."""
    if rec is None:
        return True  # only Zendesk knows it: made by hand
    if rec.link_id is not None:
        return rec.link_id in in_zendesk
    return not rec.owners  # wanted, yet the ledger has no link for it
