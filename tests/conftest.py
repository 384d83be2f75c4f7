"""Shared fixtures: the Zendesk/Jira sandbox on 127.0.0.1, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from linksync import jira, zendesk
from local.vendors import VendorSandbox

# Tight enough that the sandbox's "slow" fault is a timeout, loose enough for a loaded CI machine.
TEST_TIMEOUT = (2.0, 1.0)


@pytest.fixture
def sandbox() -> Iterator[VendorSandbox]:
    with VendorSandbox(slow_seconds=1.5) as sb:
        yield sb


@pytest.fixture
def zendesk_client(sandbox: VendorSandbox) -> zendesk.ZendeskClient:
    auth = zendesk.api_token_auth(sandbox.zendesk_email, sandbox.zendesk_token)
    return zendesk.ZendeskClient(sandbox.url, auth, timeout=TEST_TIMEOUT)


@pytest.fixture
def jira_client(sandbox: VendorSandbox) -> jira.JiraClient:
    auth = jira.api_token_auth(sandbox.jira_email, sandbox.jira_token)
    return jira.JiraClient(sandbox.url, auth, timeout=TEST_TIMEOUT)
