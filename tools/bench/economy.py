"""3. API economy, counted: calls per link created or deleted, per replayed delivery, per
Zendesk-originated link, and per link change under the soak's faults."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from local import payloads
from local.stack import http_api_event
from tools.bench.config import GOALS, log
from tools.bench.figures import beyond_floor, fault_floor
from tools.bench.probe import Tally
from tools.bench.world import Bench, answer_body, jira_http_event, quiet, zendesk_http_event

JIRA, ZENDESK = "JiraWebhookFunction", "ZendeskWebhookFunction"
PER_CREATED = {"zendesk_calls_per_link_created": GOALS["zendesk_calls_per_link"]}
PER_DELETED = {"zendesk_calls_per_link_deleted": GOALS["zendesk_calls_per_link"]}
REPLAY_GOAL = {
    "zendesk_calls": GOALS["zendesk_calls_per_replay"],
    "dynamodb_requests": GOALS["dynamodb_per_replay"],
}
NO_CHANGE_GOAL = {"zendesk_calls": 0, "dynamodb_requests": GOALS["dynamodb_per_no_change"]}
DB_PER_JIRA_LINK = {"dynamodb_requests_per_link_created": GOALS["dynamodb_per_jira_link"]}
# A carried value is ordered against the ledger's version by its time; within this of the ticket's last
# read (versioned a second ahead of the clock) it cannot be, and the ticket is read (linksync.desired).
READ_MARGIN_SECONDS = 1.1


@dataclass
class Scenario:
    name: str
    what: str
    tally: Tally
    answer: dict[str, Any]
    per: str  # "created", "deleted", "replay" or "none" (a webhook that changes nothing)
    goals: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        t = self.tally
        changes = t.created + t.deleted
        data: dict[str, Any] = {"what": self.what, **t.counts(), "answer": self.answer}
        if self.per in ("created", "deleted"):
            links = t.created if self.per == "created" else t.deleted
            data[f"zendesk_calls_per_link_{self.per}"] = round(t.zendesk / links, 3) if links else None
            data[f"dynamodb_requests_per_link_{self.per}"] = round(t.dynamodb / links, 2) if links else None
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
        {**PER_CREATED, **DB_PER_JIRA_LINK},
    )
    s.run("jira_replayed_delivery", "the same Jira delivery again", JIRA, first, "replay", REPLAY_GOAL)
    s.run(
        "jira_created_3_links",
        "Jira issue_created listing 3 tickets",
        JIRA,
        jira_http_event("jira:issue_created", issue_b, key_b, tickets=", ".join(t[1:4])),
        "created",
        {**PER_CREATED, **DB_PER_JIRA_LINK},
    )
    s.run(
        "jira_updated_same_value",
        "Jira issue_updated whose changelog names the field, its value unchanged",
        JIRA,
        jira_http_event("jira:issue_updated", issue_b, key_b, tickets=", ".join(t[1:4])),
        "none",
        NO_CHANGE_GOAL,
    )
    body = payloads.jira_issue("jira:issue_updated", issue_b, key_b, tickets=", ".join(t[1:4]), changed=False)
    raw, headers = payloads.signed_jira(body)
    s.run(
        "jira_updated_other_field",
        "Jira issue_updated whose changelog names another field only",
        JIRA,
        http_api_event("POST", "/webhooks/jira", raw, headers),
        "none",
        NO_CHANGE_GOAL,
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
        "Jira issue_deleted for an issue with 2 links left (lists the issue's links, then deletes)",
        JIRA,
        jira_http_event("jira:issue_deleted", issue_b, key_b),
        "deleted",
        {},
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
        "Zendesk ticket.created whose field lists a key not seen before (reads the ticket)",
        ZENDESK,
        created_zd,
        "created",
        jira_goal,
    )
    s.run(
        "zendesk_created_seen_key",
        "Zendesk ticket.created whose field lists a key already resolved (reads the ticket)",
        ZENDESK,
        zendesk_http_event(payloads.zendesk_event("ticket.created", t[5])),
        "created",
        {"jira_calls": GOALS["jira_calls_for_seen_key"]},
    )
    s.run(
        "zendesk_replayed_delivery",
        "the same Zendesk ticket.created event again",
        ZENDESK,
        created_zd,
        "replay",
        REPLAY_GOAL,
    )
    b.sandbox.set_ticket_field(t[6], payloads.ZENDESK_ISSUE_FIELD, key_c)
    carried = zendesk_http_event(
        payloads.zendesk_event("ticket.custom_field_changed", t[6], current=key_c, previous=None)
    )
    s.run(
        "zendesk_field_carried_1_link",
        "Zendesk custom_field_changed carrying the value: 1 key already resolved (no ticket read)",
        ZENDESK,
        carried,
        "created",
        {**PER_CREATED, "jira_calls": GOALS["jira_calls_for_seen_key"]},
    )
    s.run(
        "zendesk_field_carried_replayed",
        "the same carried-value Zendesk event again",
        ZENDESK,
        carried,
        "replay",
        REPLAY_GOAL,
    )
    s.run(
        "zendesk_field_same_value",
        "Zendesk custom_field_changed carrying the value the ticket already has (a new event)",
        ZENDESK,
        zendesk_http_event(
            payloads.zendesk_event("ticket.custom_field_changed", t[6], current=key_c, previous=key_c)
        ),
        "none",
        NO_CHANGE_GOAL,
    )
    # More than a second after the ticket.created above read t[4]: the carried time can be ordered.
    time.sleep(READ_MARGIN_SECONDS)
    b.sandbox.set_ticket_field(t[4], payloads.ZENDESK_ISSUE_FIELD, "")
    s.run(
        "zendesk_field_removes_1",
        "Zendesk custom_field_changed carrying an empty value: the field no longer lists the key",
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
        "Zendesk trigger body naming 1 key (reads the ticket, whose field says the same)",
        ZENDESK,
        zendesk_http_event(payloads.zendesk_trigger(t[4], key_a)),
        "created",
        {},
    )
    s.run(
        "zendesk_ticket_soft_deleted",
        "Zendesk ticket.soft_deleted for a ticket with 1 link (lists the ticket's links, then deletes)",
        ZENDESK,
        zendesk_http_event(payloads.zendesk_event("ticket.soft_deleted", t[4])),
        "deleted",
        {},
    )


def economy_scenarios(b: Bench) -> list[Scenario]:
    """Each on fresh ids, one after another, everything answered from the same warm handlers."""
    s = _Scenarios(b)
    n = b.next_id()
    tickets = [str(4_000_000 + 10 * n + i) for i in range(7)]
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


def _soak_once(b: Bench, rate: float, events: int) -> dict[str, Any]:
    from tools.soak import SoakConfig, run_soak

    cfg = SoakConfig(events=events, fault_rate=rate, seed=7)
    lines: list[str] = []
    started = time.perf_counter()
    with b.probe.measure() as tally, quiet():
        report = run_soak(cfg, out=lines.append)
    changes = report.link_changes
    kinds = {k: list(v) for k, v in report.call_kinds.items()}
    return {
        "fault_rate": rate,
        "events": cfg.events,
        "link_changes": changes,
        "zendesk_calls": report.zendesk_calls,
        "zendesk_calls_per_link_change": round(report.zendesk_calls / changes, 3) if changes else None,
        "floor": round(fault_floor(rate), 3),
        "call_kinds": kinds,
        "beyond_floor": beyond_floor(report.call_kinds, changes, rate) if changes else {},
        "dynamodb_requests": tally.dynamodb,
        "dynamodb_requests_per_link_change": round(tally.dynamodb / changes, 2) if changes else None,
        "sqs_requests": tally.sqs,
        "ok": report.ok,
        "lost": len(report.lost),
        "duplicates": len(report.duplicates),
        "orphans": len(report.orphans),
        "kills": sum(report.kills.values()),
        "seconds": round(time.perf_counter() - started, 1),
        "figure_line": report.figure_line(),
    }


def soak_economy(b: Bench) -> dict[str, Any]:
    """The soak at each fault rate of the sweep, on the same seeded workload: Zendesk calls per link change
    beside the floor 1 / (1 - rate); the goal is checked at ``GOALS["faults_goal_rate"]``."""
    from tools.soak import SoakConfig

    defaults = SoakConfig()
    rates = b.cfg.fault_rates
    sweep = []
    for rate in rates:
        log(f"  economy: soak, {b.cfg.sweep_events} events at {rate:.0%} Zendesk/Jira faults")
        sweep.append(_soak_once(b, rate, b.cfg.sweep_events))
    goal_rate, goal = GOALS["faults_goal_rate"], GOALS["faults_calls_per_change"]
    at_goal = next((row for row in sweep if abs(row["fault_rate"] - goal_rate) < 1e-9), None)
    value = at_goal["zendesk_calls_per_link_change"] if at_goal else None
    return {
        "what": f"tools/soak run_soak at each fault rate, {b.cfg.sweep_events} events each, seed 7: "
        f"Zendesk/Jira faults at the rate, plus the soak's own {defaults.aws_fault_rate:.0%} AWS faults, "
        f"{defaults.kill_rate:.0%} processes killed, {defaults.duplicate_rate:.0%} deliveries doubled, "
        f"{defaults.threads} threads; then the retry queue drained",
        "sweep": sweep,
        "goal": {
            "fault_rate": goal_rate,
            "value": value,
            "goal": goal,
            "ok": value is not None and value <= goal,
            "by": round(value - goal, 3) if value is not None else None,
        },
    }
