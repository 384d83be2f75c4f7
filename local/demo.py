"""`make demo`: the whole system, locally, on an embedded default: no AWS account, no Docker.

Starts moto and the Zendesk/Jira sandbox, creates the template's table, queues and secret, runs each
function in its own warm process behind a local HTTP API gateway, then sends signed webhooks over HTTP:
a Jira issue created, a Zendesk ticket created, a field change, a transient Zendesk outage (the retry
worker then drains the queue as the SQS event source would), "Manage links" switched off (dead-letter
queue), a replayed delivery, and deletes on both sides. It prints what happens, then Zendesk's links
beside the ledger, and exits non-zero if they diverge from what should exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from local import payloads
from local.demo_adoption import adopt
from local.payloads import ZENDESK_ISSUE_FIELD, jira_issue, zendesk_event
from local.run import LocalRun, new_log_dir
from local.vendors import VendorSandbox

ISSUES = {"PROJ-1": "10001", "PROJ-2": "10002", "PROJ-3": "10003"}
TICKETS = {35436: "", 35437: "", 35438: "PROJ-1 PROJ-2", 35439: "PROJ-3", 35440: "", 35442: ""}
LINKS_PATH = "/api/services/jira/links"

# What must exist at the end, worked out by hand from the story below (issue_id, ticket_id).
EXPECTED_LINKS = [("10002", "35438"), ("10003", "35436"), ("10003", "35440")]
EXPECTED_DEAD_LETTERS = [403]


@dataclass
class Row:
    issue_key: str
    issue_id: str
    ticket_id: str
    zendesk_link: int | None
    ledger_state: str
    owners: str


@dataclass
class DemoResult:
    rows: list[Row] = field(default_factory=list)
    zendesk_links: list[tuple[str, str]] = field(default_factory=list)
    ledger_linked: list[tuple[str, str]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    retry_depth: int = 0
    requests: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Story:
    def __init__(self, run: LocalRun, out: Callable[[str], None]) -> None:
        self.run = run
        self.out = out
        assert run.sandbox is not None, "the demo runs on the sandbox"
        self.sandbox: VendorSandbox = run.sandbox
        self.http = requests.Session()
        self.sent = 0

    def _post(self, path: str, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
        before = len(self.sandbox.calls)
        answer = self.http.post(self.run.gateway.url + path, data=raw, headers=headers, timeout=30)
        self.sent += 1
        body = answer.json()
        calls = self.sandbox.calls[before:]
        summary = ", ".join(
            f"{k} {v}"
            for k, v in body.items()
            if k in ("created", "deleted", "adopted", "queued", "dead_lettered") and v
        )
        detail = summary or body.get("ignored") or body.get("error") or "no change"
        self.out(f"    -> HTTP {answer.status_code}: {detail}  [{len(calls)} Zendesk/Jira call(s)]")
        return dict(body, status=answer.status_code)

    def jira(self, title: str, body: dict[str, Any], delivery_id: str | None = None) -> dict[str, Any]:
        self.out(f"  Jira    {title}")
        raw, headers = payloads.signed_jira(body, delivery_id=delivery_id)
        return self._post("/webhooks/jira", raw, headers)

    def zendesk(self, title: str, body: dict[str, Any]) -> dict[str, Any]:
        self.out(f"  Zendesk {title}")
        raw, headers = payloads.signed_zendesk(body)
        return self._post("/webhooks/zendesk", raw, headers)

    def drain(self) -> None:
        source = self.run.event_source
        assert source is not None
        depth = self.run.stack.queue_depth("RetryQueue")
        self.out(f"  SQS     retry worker drains RetryQueue ({depth} message(s)) as the event source would")
        report = source.drain()
        self.out(
            f"    -> {report.batches} batch(es), {report.records} record(s), "
            f"{report.failures} partial failure(s), {report.errors} function error(s)"
        )

    def field(self, key: str, tickets: str) -> None:
        """What an agent does in Jira before Jira sends its webhook: the sandbox holds the field too, so a
        reconcile job later reads the same truth the webhooks told."""
        self.sandbox.set_issue_field(key, payloads.JIRA_TICKET_FIELD, tickets)

    def play(self) -> None:
        sb = self.sandbox
        for key, issue_id in ISSUES.items():
            sb.add_issue(key, issue_id)
        for ticket_id, keys in TICKETS.items():
            sb.add_ticket(ticket_id, {ZENDESK_ISSUE_FIELD: keys} if keys else {})
        self.out("1. A Jira issue lists two Zendesk tickets")
        self.field("PROJ-1", "35436, 35437")
        first = jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="35436, 35437")
        self.jira("jira:issue_created PROJ-1, field '35436, 35437'", first, delivery_id="demo-delivery-1")
        self.out("2. Jira delivers the same webhook again (same X-Atlassian-Webhook-Identifier)")
        self.jira(
            "jira:issue_created PROJ-1, replayed: answered from the idempotency record",
            first,
            delivery_id="demo-delivery-1",
        )
        self.out("3. A Zendesk ticket is created with two Jira keys in its field")
        self.zendesk("ticket.created 35438, field 'PROJ-1 PROJ-2'", zendesk_event("ticket.created", "35438"))
        self.out("4. An agent edits the ticket's field")
        sb.set_ticket_field(35438, ZENDESK_ISSUE_FIELD, "PROJ-2")
        self.zendesk(
            "ticket.custom_field_changed 35438, field now 'PROJ-2'",
            zendesk_event("ticket.custom_field_changed", "35438", current="PROJ-2", previous="PROJ-1 PROJ-2"),
        )
        self.out("5. Zendesk has an outage (503, 503, then 429 Retry-After) while a Jira field changes")
        sb.fail_next("503", times=2, path_prefix=LINKS_PATH, method="POST")
        sb.fail_next("429", path_prefix=LINKS_PATH, method="POST")
        self.field("PROJ-3", "35436 35439 35440")
        self.jira(
            "jira:issue_updated PROJ-3, field '35436 35439 35440'",
            jira_issue("jira:issue_updated", "10003", "PROJ-3", tickets="35436 35439 35440"),
        )
        self.drain()
        self.out("6. An agent links PROJ-1 to ticket 35441 by hand in Zendesk's Jira app")
        sb.add_link(issue_id="10001", issue_key="PROJ-1", ticket_id="35441")
        self.out("7. 'Manage links' is off in Zendesk Admin Center (403) when another issue is created")
        sb.fail_next("403", path_prefix=LINKS_PATH, method="POST")
        self.field("PROJ-2", "35442")
        self.jira(
            "jira:issue_created PROJ-2, field '35442'",
            jira_issue("jira:issue_created", "10002", "PROJ-2", tickets="35442"),
        )
        self.out("8. Deletes on both sides")
        sb.delete_issue("PROJ-1")
        sb.delete_ticket(35439)
        self.jira("jira:issue_deleted PROJ-1", jira_issue("jira:issue_deleted", "10001", "PROJ-1"))
        self.zendesk("ticket.soft_deleted 35439", zendesk_event("ticket.soft_deleted", "35439"))
        self.drain()


def collect(run: LocalRun, story: Story) -> DemoResult:
    assert run.sandbox is not None
    result = DemoResult(requests=story.sent)
    zendesk = {(link["issue_id"], link["ticket_id"]): link for link in run.sandbox.links()}
    ledger = {(i["issue_id"], i["ticket_id"]): i for i in run.stack.ledger_links()}
    keys = {v: k for k, v in ISSUES.items()}
    for pair in sorted(set(zendesk) | {p for p, i in ledger.items() if i.get("state") != "unlinked"}):
        item = ledger.get(pair, {})
        link = zendesk.get(pair)
        result.rows.append(
            Row(
                issue_key=(link or item).get("issue_key") or keys.get(pair[0], "?"),
                issue_id=pair[0],
                ticket_id=pair[1],
                zendesk_link=link["id"] if link else None,
                ledger_state=str(item.get("state", "-")),
                owners=",".join(sorted(item.get("owners") or [])) or "-",
            )
        )
    result.zendesk_links = sorted(p for p in run.sandbox.link_pairs())
    result.ledger_linked = sorted(p for p, i in ledger.items() if i.get("state") == "linked")
    result.dead_letters = run.stack.queue_messages("RetryDeadLetterQueue")
    result.retry_depth = run.stack.queue_depth("RetryQueue")
    if result.zendesk_links != EXPECTED_LINKS:
        result.problems.append(f"Zendesk has {result.zendesk_links}, expected {EXPECTED_LINKS}")
    if result.ledger_linked != result.zendesk_links:
        result.problems.append(f"ledger says {result.ledger_linked}, Zendesk has {result.zendesk_links}")
    statuses = sorted(d.get("reason", {}).get("status") for d in result.dead_letters)
    if statuses != EXPECTED_DEAD_LETTERS:
        result.problems.append(f"dead letters {statuses}, expected {EXPECTED_DEAD_LETTERS}")
    if result.retry_depth:
        result.problems.append(f"{result.retry_depth} message(s) still waiting in RetryQueue")
    return result


def render(result: DemoResult) -> list[str]:
    lines = ["", "Links as Zendesk has them, beside the ledger:", ""]
    header = f"  {'issue':<8} {'issue_id':<9} {'ticket':<7} {'zendesk link':<13} {'ledger state':<13} owners"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for r in result.rows:
        link = str(r.zendesk_link) if r.zendesk_link is not None else "(none)"
        lines.append(
            f"  {r.issue_key:<8} {r.issue_id:<9} {r.ticket_id:<7} {link:<13} {r.ledger_state:<13} {r.owners}"
        )
    lines.append("")
    lines.append(
        f"  webhooks sent: {result.requests}   retry queue: {result.retry_depth} waiting   "
        f"dead-letter queue: {len(result.dead_letters)}"
    )
    for dead in result.dead_letters:
        reason = dead.get("reason", {})
        lines.append(
            f"    DLQ: {dead.get('op')} issue {dead.get('issue_id')} ticket {dead.get('ticket_id')}: "
            f"{reason.get('error')} {reason.get('status')} {json.dumps(reason.get('body'))}"
        )
    lines.append("")
    if result.ok:
        lines.append("OK: Zendesk's links, the ledger and the queues agree with what should exist.")
    else:
        lines += [f"DIVERGED: {p}" for p in result.problems]
    return lines


def run_demo(out: Callable[[str], None] = print, *, log_dir: Path | None = None) -> DemoResult:
    started = time.monotonic()
    log_dir = log_dir or new_log_dir("demo")  # kept after the demo, for reading what the functions did
    out(f"Function logs in {log_dir}")
    out("Starting moto (AWS), the Zendesk/Jira sandbox, the template's resources and the functions...")
    with LocalRun(log_dir=log_dir) as run:
        sandbox = run.sandbox.url if run.sandbox else "-"
        out(f"  gateway {run.gateway.url}  moto {run.moto_url}  sandbox {sandbox}")
        story = Story(run, out)
        story.play()
        result = collect(run, story)
        for line in render(result):
            out(line)
        out("")
        adoption = adopt(run, out)
        result.problems += adoption
        out("OK: the adoption went as it should." if not adoption else "")
        for problem in adoption:
            out(f"DIVERGED: {problem}")
    out(f"({time.monotonic() - started:.1f}s, all processes stopped; function logs kept in {log_dir})")
    return result


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None).parse_args(argv)
    return 0 if run_demo().ok else 1


if __name__ == "__main__":
    sys.exit(main())
