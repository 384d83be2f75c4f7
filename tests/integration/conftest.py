"""Integration fixtures: AWS on a moto server over HTTP, Zendesk/Jira on the sandbox, the template's
functions invoked as Lambda invokes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local import payloads
from local.stack import (
    DrainReport,
    LocalStack,
    context_for,
    drain_queue,
    http_api_event,
    load_handler,
    moto_server,
)
from local.vendors import VendorSandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Pipeline:
    """The deployed system in miniature: send webhooks, drain the retry queue, look at the results."""

    def __init__(self, stack: LocalStack, sandbox: VendorSandbox, env: pytest.MonkeyPatch) -> None:
        self.stack = stack
        self.sandbox = sandbox
        self.env = env
        # What differs between the functions' environments is set for the function invoked; the rest stays
        # as the fixture and the test set it.
        self._own_env = stack.own_env()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        for key, value in self._own_env[logical_id].items():
            if value is None:
                self.env.delenv(key, raising=False)
            else:
                self.env.setenv(key, value)
        return load_handler(logical_id)(event, context_for(logical_id))

    def post(
        self, logical_id: str, path: str, raw: bytes, headers: dict[str, str], *, base64_encode: bool = False
    ) -> Reply:
        answer = self.invoke(
            logical_id, http_api_event("POST", path, raw, headers, base64_encode=base64_encode)
        )
        return Reply(answer["statusCode"], json.loads(answer["body"]), answer.get("headers", {}))

    def jira(self, body: dict[str, Any] | bytes, *, delivery_id: str | None = None, **kw: Any) -> Reply:
        raw, headers = payloads.signed_jira(body, delivery_id=delivery_id)
        return self.post("JiraWebhookFunction", "/webhooks/jira", raw, headers, **kw)

    def zendesk(self, body: dict[str, Any] | bytes, **kw: Any) -> Reply:
        raw, headers = payloads.signed_zendesk(body)
        return self.post("ZendeskWebhookFunction", "/webhooks/zendesk", raw, headers, **kw)

    def drain(self, **kw: Any) -> DrainReport:
        return drain_queue(self.stack, lambda event: self.invoke("RetryWorkerFunction", event), **kw)

    def links(self) -> list[tuple[str, str]]:
        return self.sandbox.link_pairs()

    def ledger_links(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(i["issue_id"], i["ticket_id"]): i for i in self.stack.ledger_links()}

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.stack.queue_messages("RetryDeadLetterQueue")

    def retry_depth(self) -> int:
        return self.stack.queue_depth("RetryQueue")

    def posts(self) -> int:
        return len(self.sandbox.calls_to("POST", "/api/services/jira/links"))


@pytest.fixture
def pipeline(moto_url: str, sandbox: VendorSandbox, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    parameters = {
        "ZendeskBaseUrl": sandbox.url,
        "JiraBaseUrl": sandbox.url,
        "JiraTicketField": payloads.JIRA_TICKET_FIELD,
        "ZendeskIssueField": payloads.ZENDESK_ISSUE_FIELD,
        "SecretName": "zendesk-jira-linksync",
    }
    stack = LocalStack(moto_url, parameters, dict(payloads.SECRET_VALUES)).create()
    for key, value in stack.function_env("JiraWebhookFunction").items():
        monkeypatch.setenv(key, value)
    # No Zendesk call budget unless a test sets one: deferred turns would make every test wait in real time.
    monkeypatch.setenv("ZENDESK_CALLS_PER_MINUTE", "0")
    return Pipeline(stack, sandbox, monkeypatch)
