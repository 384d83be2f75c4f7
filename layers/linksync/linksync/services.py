"""Wiring: the collaborators one container needs, built once from validated configuration.

Handlers call :func:`get_services`; tests call :func:`build_services` with their own boto3 clients and
sessions, or ``services.override(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import jira, zendesk
from .budget import ZendeskBudget
from .config import Cached, Secrets, Settings
from .ledger import Ledger
from .retry_queue import Backoff, RetryQueue
from .sync import MetricsSink, SyncService

if TYPE_CHECKING:
    import requests
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


@dataclass
class Services:
    settings: Settings
    secrets: Secrets
    sync: SyncService
    dynamodb: Any

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

    dynamodb = dynamodb or boto3.client("dynamodb")
    sqs = sqs or boto3.client("sqs")
    timeout = (3.05, settings.zendesk_timeout)
    zendesk_client = zendesk.ZendeskClient(
        settings.zendesk_base_url,
        zendesk.api_token_auth(secrets.zendesk_email, secrets.zendesk_api_token),
        session=session,
        timeout=timeout,
    )
    jira_client = jira.JiraClient(
        settings.jira_base_url,
        jira.api_token_auth(secrets.jira_email, secrets.jira_api_token),
        session=session,
        timeout=timeout,
    )
    sync = SyncService(
        zendesk=zendesk_client,
        jira=jira_client,
        ledger=Ledger(settings.links_table_name, client=dynamodb),
        queue=RetryQueue(
            settings.retry_queue_url,
            settings.dead_letter_queue_url,
            client=sqs,
            backoff=Backoff(
                base_seconds=settings.retry_base_delay,
                cap_seconds=settings.retry_max_delay,
                max_attempts=settings.retry_max_attempts,
            ),
        ),
        zendesk_issue_field=settings.zendesk_issue_field,
        metrics=metrics,
        logger=logger,
        budget=ZendeskBudget(settings.links_table_name, settings.zendesk_calls_per_minute, client=dynamodb),
    )
    sync.defer_below = 2 * sum(timeout) + 1
    # A request whose answer never came normally lands within its read timeout; allow twice that, plus
    # slack for a busy server, before deciding it did not land (the soak found one margin too thin).
    sync.settle_seconds = 2 * timeout[1] + 2
    return Services(settings=settings, secrets=secrets, sync=sync, dynamodb=dynamodb)


services: Cached[Services] = Cached(build_services)


def get_services() -> Services:
    return services.get()
