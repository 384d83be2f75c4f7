"""Configuration validation and the retry schedule."""

from __future__ import annotations

import random

import pytest

from linksync.config import Secrets, Settings
from linksync.errors import ConfigError
from linksync.retry_queue import Backoff

ENV = {
    "LINKS_TABLE_NAME": "t",
    "RETRY_QUEUE_URL": "https://sqs/q",
    "DEAD_LETTER_QUEUE_URL": "https://sqs/d",
    "SECRET_ID": "s",
    "ZENDESK_BASE_URL": "https://acme.zendesk.com",
    "JIRA_BASE_URL": "https://acme.atlassian.net",
    "JIRA_TICKET_FIELD": "customfield_10100",
    "ZENDESK_ISSUE_FIELD": "360001",
}


def test_settings_from_env() -> None:
    settings = Settings.from_env(ENV)
    assert settings.jira_ticket_field == "customfield_10100"
    assert (settings.retry_max_attempts, settings.zendesk_signature_tolerance) == (50, 300.0)


def test_settings_name_every_missing_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({k: v for k, v in ENV.items() if k not in ("SECRET_ID", "JIRA_BASE_URL")})
    assert "SECRET_ID" in str(caught.value)
    assert "JIRA_BASE_URL" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JIRA_TICKET_FIELD", "Zendesk tickets"),
        ("ZENDESK_ISSUE_FIELD", "abc"),
        ("RETRY_MAX_ATTEMPTS", "x"),
        ("RETRY_BASE_DELAY_SECONDS", "-1"),
    ],
)
def test_settings_refuse_bad_values(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**ENV, name: value})


def test_secrets_need_every_value_and_hide_them() -> None:
    values = {
        k: f"value-of-{k}"
        for k in (
            "zendesk_email",
            "zendesk_api_token",
            "zendesk_webhook_secret",
            "jira_email",
            "jira_api_token",
            "jira_webhook_secret",
        )
    }
    secrets = Secrets.from_mapping(values, {"jira_webhook_secret": values["jira_webhook_secret"]})
    assert "value-of-zendesk_api_token" not in repr(secrets)
    assert "value-of-jira_webhook_secret" not in repr(secrets)
    assert secrets.jira_webhook_secret == "value-of-jira_webhook_secret"
    assert secrets.zendesk_webhook_secret == ""  # not this function's
    # The credentials alone (the retry worker, the reconcile job): no signing secret at all.
    assert Secrets.from_mapping(values).jira_webhook_secret == ""
    with pytest.raises(ConfigError, match="jira_api_token"):
        Secrets.from_mapping({**values, "jira_api_token": ""})
    with pytest.raises(ConfigError, match="webhook secret lacks"):
        Secrets.from_mapping(values, {"jira_webhook_secret": ""})
    with pytest.raises(ConfigError):
        Secrets.from_mapping(["not", "a", "mapping"])
    with pytest.raises(ConfigError, match="webhook secret must be a JSON object"):
        Secrets.from_mapping(values, "hunter2")


def test_backoff_grows_with_jitter_and_caps() -> None:
    backoff = Backoff(base_seconds=2, cap_seconds=900)
    rng = random.Random(7)
    delays = [[backoff.delay(attempt, rng=rng) for attempt in range(1, 12)] for _ in range(50)]
    for attempt in range(1, 12):
        ceiling = min(900, 2 * 2 ** (attempt - 1))
        seen = [row[attempt - 1] for row in delays]
        assert all(round(ceiling / 2) - 1 <= d <= ceiling for d in seen)
    assert len({row[6] for row in delays}) > 5  # jitter spreads retries out
    assert max(row[-1] for row in delays) <= 900
    assert min(row[-1] for row in delays) >= 450


def test_backoff_honours_retry_after_within_the_cap() -> None:
    assert Backoff(base_seconds=1).delay(1, retry_after=120) >= 120
    assert Backoff(base_seconds=1).delay(1, retry_after=5000) == 900
    assert Backoff(base_seconds=0, cap_seconds=0).delay(3, retry_after=30) == 0
