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
SECTIONS = ("cold", "warm", "economy", "scale", "size")
MIN_RUNS = 5
DEFAULT_OUT = ROOT / ".aws-sam" / "bench-results.json"
BUILD_DIR = ROOT / ".aws-sam" / "build"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
GOALS = {
    "cold_start_ratio": 1.3,
    "warm_ratio": 1.15,
    "zendesk_calls_per_link": 1.0,
    "zendesk_calls_per_replay": 0,
    "jira_calls_per_zendesk_link": 1,
    "jira_calls_for_seen_key": 0,
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
    """The default fits ~5 minutes on a shared 2-core machine, where moto (one process, every DynamoDB call
    parsed in Python) is the bottleneck. ``full`` runs the literal workloads: a burst of 1,000 webhooks and
    the 1,000-link deletion timed over every run (expect 15-20 minutes)."""

    runs: int = 5
    quick: bool = False
    full: bool = False
    warm_events: int = 50
    burst_events: int = 200
    burst_threads: int = 4
    delete_sizes: tuple[int, ...] = (1, 10, 100)  # timed, every run
    delete_counted: tuple[int, ...] = (1000,)  # counted in one run (its time is indicative only)
    soak_events: int = 60
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
            "soak_events": 15,
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
        }
        values.update(overrides)
        return cls(**values)
