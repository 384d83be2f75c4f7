"""The soak's settings and its report: what was sent, what failed on purpose, and what came out."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ANSWER_GOAL_SECONDS = 5.0


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
    kill_rate: float = 0.05


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
    # Zendesk calls by what they were for ("create link", "read ticket", ...): (made, failed by a fault).
    call_kinds: dict[str, tuple[int, int]] = field(default_factory=dict)
    link_changes: int = 0
    expected: int = 0
    lost: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    orphans: list[tuple[str, str]] = field(default_factory=list)
    ledger_mismatches: list[str] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    retry_batches: int = 0
    crashed_batches: int = 0
    answer_seconds: list[float] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    cold_starts: int = 0
    seconds: float = 0.0
    diagnostics: list[str] = field(default_factory=list)

    @property
    def floor(self) -> float:
        """Calls per link change if every change took one call and only the faults cost more: each call
        fails with the fault rate's probability, so a change takes 1 / (1 - rate) calls on average."""
        return 1 / (1 - self.config.fault_rate) if self.config.fault_rate < 1 else float("inf")

    @property
    def transient_dead_letters(self) -> list[dict[str, Any]]:
        return [d for d in self.dead_letters if d.get("reason", {}).get("retryable")]

    def answer_percentile(self, share: float) -> float:
        """How long the webhooks took to answer: the ``share`` quantile (0.5, 0.99) of every delivery."""
        times = sorted(self.answer_seconds)
        return times[min(len(times) - 1, int(share * len(times)))] if times else 0.0

    @property
    def slow_answers(self) -> bool:
        """The p99 answer took longer than the sender's patience allows (5 s)."""
        return self.answer_percentile(0.99) > ANSWER_GOAL_SECONDS

    @property
    def failures(self) -> list[str]:
        """What went wrong, one short phrase each (none: the soak passed)."""
        checks = {
            "links lost": self.lost,
            "duplicate links": self.duplicates,
            "orphan links": self.orphans,
            "ledger mismatches": self.ledger_mismatches,
            "transient failures dead-lettered": self.transient_dead_letters,
            "senders gave up": self.sender_gave_up,
            f"answer p99 over {ANSWER_GOAL_SECONDS:g}s": self.slow_answers,
        }
        return [name for name, failed in checks.items() if failed]

    @property
    def ok(self) -> bool:
        return not self.failures

    def figure_line(self) -> str:
        cfg = self.config
        per_change = self.zendesk_calls / self.link_changes if self.link_changes else 0.0
        return (
            f"{self.events} events, {cfg.fault_rate:.0%} Zendesk/Jira faults, {cfg.aws_fault_rate:.0%} AWS "
            f"faults, {sum(self.kills.values())} processes killed: {len(self.lost)} lost, "
            f"{len(self.duplicates)} duplicates, {len(self.orphans)} orphans, "
            f"{len(self.transient_dead_letters)} transient failures dead-lettered "
            f"({self.deliveries} deliveries, answer p99 {self.answer_percentile(0.99):.2f}s, "
            f"{per_change:.2f} Zendesk calls per link change)"
        )

    def lines(self) -> list[str]:
        per_change = self.zendesk_calls / self.link_changes if self.link_changes else 0.0
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(self.answers.items()))
        return [
            f"events generated           {self.events}",
            f"deliveries sent            {self.deliveries} ({self.duplicates_sent} duplicates, "
            f"{self.redeliveries} redeliveries after 5xx/409)",
            f"webhook answers            {answers}",
            f"answer time                p50 {self.answer_percentile(0.5):.2f}s, "
            f"p99 {self.answer_percentile(0.99):.2f}s, max {max(self.answer_seconds, default=0):.2f}s "
            f"(goal: p99 at most {ANSWER_GOAL_SECONDS:g}s); senders that gave up: {self.sender_gave_up}",
            f"Zendesk/Jira faults        {sum(self.zendesk_faults.values())} "
            f"{json.dumps(dict(sorted(self.zendesk_faults.items())))}",
            f"AWS faults                 {sum(self.aws_faults.values())} "
            f"{json.dumps(dict(sorted(self.aws_faults.items())))}",
            f"processes killed           {sum(self.kills.values())} "
            f"{json.dumps(dict(sorted(self.kills.items())))}",
            f"cold starts                {self.cold_starts}",
            f"retry worker batches       {self.retry_batches} "
            f"({self.crashed_batches} came back after a kill)",
            f"Zendesk calls              {self.zendesk_calls} for {self.link_changes} link changes "
            f"({per_change:.2f} per change; the floor at this fault rate is {self.floor:.2f})",
            "  by kind (made/failed)    "
            + ", ".join(f"{kind} {n}/{failed}" for kind, (n, failed) in sorted(self.call_kinds.items())),
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
            "OK" if self.ok else f"FAILED: {', '.join(self.failures)}",
        ]
