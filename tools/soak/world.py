"""What is true in Jira and Zendesk during a soak, and the webhook deliveries each change makes."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from local import payloads
from local.payloads import ZENDESK_ISSUE_FIELD
from local.vendors import VendorSandbox


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
    clock: int = field(default_factory=lambda: int(time.time() * 1000) - 3_600_000)
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
        value = self._key_value(keys)
        self.sandbox.set_ticket_field(ticket_id, ZENDESK_ISSUE_FIELD, value)
        # The event carries the new value, as Zendesk's does, stamped with the time of the change.
        event = payloads.zendesk_event(
            "ticket.custom_field_changed", ticket_id, event_id=f"zd-{self.counter}", current=value or None
        )
        return Delivery("zendesk", event)

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
