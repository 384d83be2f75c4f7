"""What the bench measures and how much of it: the functions, the goals, the workload sizes per mode."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template import ROOT

FUNCTIONS = ("JiraWebhookFunction", "ZendeskWebhookFunction", "RetryWorkerFunction")
COLD_EVENTS = {
    "JiraWebhookFunction": "jira_issue_created.json",
    "ZendeskWebhookFunction": "zendesk_ticket_created.json",
    "RetryWorkerFunction": "sqs_retry_batch.json",
}
SECTIONS = ("cold", "warm", "economy", "budget", "backfill", "scale", "size")
MIN_RUNS = 5
DEFAULT_OUT = ROOT / ".aws-sam" / "bench-results.json"
BUILD_DIR = ROOT / ".aws-sam" / "build"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
GOALS = {
    "cold_start_ratio": 1.5,
    "cold_import_ratio": 1.1,
    "warm_ratio": 1.15,
    "zendesk_calls_per_link": 1.0,
    "zendesk_calls_per_replay": 0,
    "jira_calls_per_zendesk_link": 1,
    "jira_calls_for_seen_key": 0,
    # DynamoDB requests the functions make (the harness's own are not counted: HARNESS_OPS)
    "dynamodb_per_jira_link": 4,
    "dynamodb_per_replay": 1,
    "dynamodb_per_no_change": 2,
    # Zendesk calls per link change under the soak's faults, at this fault rate
    "faults_calls_per_change": 1.8,
    "faults_goal_rate": 0.3,
    # the call budget: a burst of link changes under ZendeskCallsPerMinute
    "budget_time_ratio": 1.25,
    "budget_utilisation": 0.8,
    "budget_max_deferrals": 3,
    # backfill: Zendesk calls per link changed beyond page reads, Jira search pages per 100 issues,
    # links-list calls per 1,000 links
    "backfill_zendesk_per_link": 1.05,
    "backfill_jira_per_100_issues": 1,
    "backfill_list_per_1000_links": 1,
}
# The Zendesk budget stays on (its DynamoDB counter is part of what each call costs) but never runs out,
# so every event does its work inline.
UNLIMITED_BUDGET = "1000000"
LINKS_PATH = "/api/services/jira/links"
# AWS calls the local harness makes (stack creation, the SQS event source, inspection), not the functions.
HARNESS_OPS = frozenset(
    {
        "dynamodb.CreateTable",
        "dynamodb.UpdateTimeToLive",
        "dynamodb.DescribeTable",
        "dynamodb.Scan",
        "dynamodb.BatchWriteItem",
        "sqs.CreateQueue",
        "sqs.GetQueueAttributes",
        "sqs.ReceiveMessage",
        "sqs.DeleteMessage",
        "sqs.ChangeMessageVisibility",
        "secrets-manager.CreateSecret",
    }
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def ratio(subject: float, baseline: float) -> float:
    return round(subject / baseline, 3) if baseline else float("nan")


@dataclass
class BenchConfig:
    """On a shared 2-core machine, where moto (one process, every DynamoDB call parsed in Python) is the
    bottleneck. The default runs the literal call-budget burst (300 changes at 100 a minute: 3 minutes of
    wall time by design) and the literal 10,000 + 10,000 backfill, the soak sweep on 100 events per fault
    rate, and the rest on workloads sized to a few minutes. ``full`` adds the literal burst of 1,000
    webhooks, the 1,000-link deletion timed over every run and 300 events per fault rate. ``quick`` is a
    smoke run: everything scaled down, the budget burst to 60 changes (it says so)."""

    runs: int = 5
    quick: bool = False
    full: bool = False
    warm_events: int = 50
    burst_events: int = 200
    burst_threads: int = 4
    delete_sizes: tuple[int, ...] = (1, 10, 100)  # timed, every run
    delete_counted: tuple[int, ...] = (1000,)  # counted in one run (its time is indicative only)
    fault_rates: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    sweep_events: int = 100
    budget_changes: int = 300
    budget_per_minute: int = 100
    backfill_size: int = 10_000
    sam_build: bool = True
    sections: tuple[str, ...] = SECTIONS
    out: Path = DEFAULT_OUT

    @classmethod
    def quick_mode(cls, **overrides: Any) -> BenchConfig:
        """A smoke run in under a minute: the same figures on small workloads."""
        values: dict[str, Any] = {
            "runs": MIN_RUNS,
            "quick": True,
            "warm_events": 5,
            "burst_events": 20,
            "delete_sizes": (1, 5, 15),
            "delete_counted": (),
            "fault_rates": (0.0, 0.3, 0.5),
            "sweep_events": 20,
            "budget_changes": 60,
            "backfill_size": 1000,
            "sam_build": False,
        }
        values.update(overrides)
        return cls(**values)

    @classmethod
    def full_mode(cls, **overrides: Any) -> BenchConfig:
        values: dict[str, Any] = {
            "full": True,
            "burst_events": 1000,
            "delete_sizes": (1, 10, 100, 1000),
            "delete_counted": (),
            "sweep_events": 300,
        }
        values.update(overrides)
        return cls(**values)
