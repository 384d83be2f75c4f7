"""3. API economy, counted: calls per link created or deleted, per replayed delivery, per
Zendesk-originated link, and per link change under the soak's faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local import payloads
from tools.bench.config import GOALS, log
from tools.bench.probe import Tally
from tools.bench.world import Bench, answer_body, jira_http_event, quiet, zendesk_http_event

JIRA, ZENDESK = "JiraWebhookFunction", "ZendeskWebhookFunction"
PER_CREATED = {"zendesk_calls_per_link_created": GOALS["zendesk_calls_per_link"]}
PER_DELETED = {"zendesk_calls_per_link_deleted": GOALS["zendesk_calls_per_link"]}
REPLAY_GOAL = {"zendesk_calls": GOALS["zendesk_calls_per_replay"]}


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


class _Scenarios:
    """Runs scenarios one after another on the bench's warm handlers, counting each."""

    def __init__(self, b: Bench) -> None:
        self.b = b
        self.done: list[Scenario] = []

    def run(
        self, name: str, what: str, fn_name: str, event: dict[str, Any], per: str, goals: dict[str, float]
    ) -> dict[str, Any]:
        with self.b.probe.measure() as tally:
            answer = self.b.invoke(fn_name, event)
        body = answer_body(answer)
        self.done.append(
            Scenario(name, what, tally, {"status": answer.get("statusCode"), **body}, per, goals)
        )
        return event


def _jira_scenarios(s: _Scenarios, n: int, t: list[str]) -> str:
    """Jira-originated; returns the key of the issue linked to ``t[0]``."""
    b = s.b
    issue_a, key_a = str(3_000_000 + n), f"ECO-{n}"
    issue_b, key_b = str(3_100_000 + n), f"ECOB-{n}"
    b.sandbox.add_issue(key_a, issue_a)
    b.sandbox.add_issue(key_b, issue_b)
    first = s.run(
        "jira_created_1_link",
        "Jira issue_created listing 1 ticket",
        JIRA,
        jira_http_event("jira:issue_created", issue_a, key_a, tickets=t[0]),
        "created",
        PER_CREATED,
    )
    s.run("jira_replayed_delivery", "the same Jira delivery again", JIRA, first, "replay", REPLAY_GOAL)
    s.run(
        "jira_created_3_links",
        "Jira issue_created listing 3 tickets",
        JIRA,
        jira_http_event("jira:issue_created", issue_b, key_b, tickets=", ".join(t[1:4])),
        "created",
        PER_CREATED,
    )
    s.run(
        "jira_field_removes_1",
        "Jira issue_updated: the field drops 1 of its 3 tickets",
        JIRA,
        jira_http_event("jira:issue_updated", issue_b, key_b, tickets=", ".join(t[1:3])),
        "deleted",
        PER_DELETED,
    )
    s.run(
        "jira_issue_deleted_2_links",
        "Jira issue_deleted for an issue with 2 links left",
        JIRA,
        jira_http_event("jira:issue_deleted", issue_b, key_b),
        "deleted",
        PER_DELETED,
    )
    return key_a


def _zendesk_scenarios(s: _Scenarios, n: int, t: list[str], key_a: str) -> None:
    """Zendesk-originated: a key this container never resolved, then the same key again."""
    b = s.b
    key_c, issue_c = f"ECOC-{n}", str(3_200_000 + n)
    b.sandbox.add_issue(key_c, issue_c)
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, key_c)
    b.sandbox.set_ticket_field(t[5], payloads.ZENDESK_ISSUE_FIELD, key_c)
    jira_goal = {"jira_calls": GOALS["jira_calls_per_zendesk_link"]}
    created_zd = zendesk_http_event(payloads.zendesk_event("ticket.created", t[4]))
    s.run(
        "zendesk_created_new_key",
        "Zendesk ticket.created whose field lists a key not seen before",
        ZENDESK,
        created_zd,
        "created",
        {**PER_CREATED, **jira_goal},
    )
    s.run(
        "zendesk_created_seen_key",
        "Zendesk ticket.created whose field lists a key already resolved",
        ZENDESK,
        zendesk_http_event(payloads.zendesk_event("ticket.created", t[5])),
        "created",
        {**PER_CREATED, "jira_calls": GOALS["jira_calls_for_seen_key"]},
    )
    s.run(
        "zendesk_replayed_delivery",
        "the same Zendesk event again",
        ZENDESK,
        created_zd,
        "replay",
        REPLAY_GOAL,
    )
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, "")
    s.run(
        "zendesk_field_removes_1",
        "Zendesk custom_field_changed: the field no longer lists the key",
        ZENDESK,
        zendesk_http_event(
            payloads.zendesk_event("ticket.custom_field_changed", t[4], current="", previous=key_c)
        ),
        "deleted",
        PER_DELETED,
    )
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, key_a)
    s.run(
        "zendesk_trigger_1_link",
        "Zendesk trigger body naming 1 key (the ticket's field says the same)",
        ZENDESK,
        zendesk_http_event(payloads.zendesk_trigger(t[4], key_a)),
        "created",
        PER_CREATED,
    )
    s.run(
        "zendesk_ticket_soft_deleted",
        "Zendesk ticket.soft_deleted for a ticket with 1 link",
        ZENDESK,
        zendesk_http_event(payloads.zendesk_event("ticket.soft_deleted", t[4])),
        "deleted",
        PER_DELETED,
    )


def economy_scenarios(b: Bench) -> list[Scenario]:
    """Each on fresh ids, one after another, everything answered from the same warm handlers."""
    s = _Scenarios(b)
    n = b.next_id()
    tickets = [str(4_000_000 + 10 * n + i) for i in range(6)]
    for ticket in tickets:
        b.sandbox.add_ticket(ticket, {})
    key_a = _jira_scenarios(s, n, tickets)
    _zendesk_scenarios(s, n, tickets, key_a)
    return s.done


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
