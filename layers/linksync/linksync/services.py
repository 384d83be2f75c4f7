"""Wiring: the collaborators one container needs, built once from validated configuration.

Handlers hold a ``Cached(build_services)``; tests call :func:`build_services` with their own boto3 clients
and sessions, or ``Cached.override``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import jira, zendesk
from .budget import CallBudget
from .config import Secrets, Settings
from .desired import LinkSync
from .entities import Entities
from .handoff import Handoff
from .ledger import Ledger
from .pair_sync import PairSync
from .ports import MetricsSink
from .retry_queue import Backoff, RetryQueue

if TYPE_CHECKING:
    import requests
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


@dataclass
class Services:
    settings: Settings
    secrets: Secrets
    sync: LinkSync
    dynamodb: Any
    handoff: Handoff
    metrics: MetricsSink
    zendesk: zendesk.ZendeskClient
    jira: jira.JiraClient

    def __repr__(self) -> str:
        return f"Services(table={self.settings.links_table_name!r})"


def build_services(
    settings: Settings,
    secrets: Secrets,
    *,
    dynamodb: DynamoDBClient | None = None,
    sqs: SQSClient | None = None,
    session: requests.Session | None = None,
    metrics: MetricsSink | None = None,
    logger: Any = None,
) -> Services:
    import boto3
    from botocore.config import Config

    # A webhook answers within seconds: the SDK may not spend them retrying (a failure is handled as one).
    aws = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
    dynamodb = dynamodb or boto3.client("dynamodb", config=aws)
    sqs = sqs or boto3.client("sqs", config=aws)
    timeouts = settings.timeouts
    zendesk_client = zendesk.ZendeskClient(
        settings.zendesk_base_url,
        zendesk.api_token_auth(secrets.zendesk_email, secrets.zendesk_api_token),
        session=session,
        timeout=timeouts.http,
    )
    jira_client = jira.JiraClient(
        settings.jira_base_url,
        jira.api_token_auth(secrets.jira_email, secrets.jira_api_token),
        session=session,
        timeout=timeouts.http,
    )
    queue = RetryQueue(
        settings.retry_queue_url,
        settings.dead_letter_queue_url,
        client=sqs,
        backoff=Backoff(
            base_seconds=settings.retry_base_delay,
            cap_seconds=settings.retry_max_delay,
            max_attempts=settings.retry_max_attempts,
        ),
    )
    handoff = Handoff(queue, metrics=metrics, logger=logger)
    ledger = Ledger(settings.links_table_name, client=dynamodb)
    budget = CallBudget(
        settings.links_table_name,
        settings.zendesk_calls_per_minute,
        client=dynamodb,
        on_call=lambda: handoff.count("ZendeskCalls"),
    )
    pairs = PairSync(zendesk=zendesk_client, ledger=ledger, handoff=handoff, timeouts=timeouts, budget=budget)
    sync = LinkSync(
        zendesk=zendesk_client,
        jira=jira_client,
        ledger=ledger,
        entities=Entities(settings.links_table_name, client=dynamodb),
        pairs=pairs,
        handoff=handoff,
        zendesk_issue_field=settings.zendesk_issue_field,
        timeouts=timeouts,
        budget=budget,
        jira_budget=CallBudget(
            settings.links_table_name,
            settings.jira_calls_per_minute,
            name="jira",
            client=dynamodb,
            on_call=lambda: handoff.count("JiraCalls"),
        ),
        projects=settings.allowed_projects,
    )
    return Services(
        settings=settings,
        secrets=secrets,
        sync=sync,
        dynamodb=dynamodb,
        handoff=handoff,
        metrics=handoff.metrics,
        zendesk=zendesk_client,
        jira=jira_client,
    )
