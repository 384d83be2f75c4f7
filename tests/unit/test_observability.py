"""Tracing stays out of the cold start unless it is on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from linksync import observability
from local.template import ROOT


def _handler(event: dict[str, str], context: object) -> str:
    return "ok"


def test_off_returns_the_handler_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert observability.capture_lambda_handler(_handler) is _handler


def test_on_wraps_it_with_the_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_TRACE_MIDDLEWARES", "")
    wrapped = observability.capture_lambda_handler(_handler)
    assert wrapped is not _handler
    assert wrapped.__wrapped__ is _handler  # type: ignore[attr-defined]


@pytest.mark.parametrize(("disabled", "imported"), [("true", False), ("false", True)])
def test_the_xray_sdk_is_imported_only_when_tracing(disabled: str, imported: bool) -> None:
    code = (
        "import sys; from local.stack import load_handler; load_handler('JiraWebhookFunction'); "
        "print('aws_xray_sdk.core' in sys.modules)"
    )
    env = {
        "POWERTOOLS_TRACE_DISABLED": disabled,
        "PYTHONPATH": str(ROOT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip().splitlines()[-1] == str(imported)


class _Sink:
    def __init__(self) -> None:
        self.names: list[str] = []

    def add_metric(self, name: str, unit: object, value: float) -> None:
        self.names.append(name)


@pytest.mark.parametrize("why", ["missing environment variables: SECRET_ID", "no jira_webhook_secret here"])
def test_a_misconfigured_webhook_is_counted_as_such_though_it_answers_503(why: str) -> None:
    """It answers 503 (the sender retries) like a busy function, but its alarm reads its own metric."""
    from linksync.errors import ConfigError
    from linksync.webhook import JIRA, WebhookHandler
    from local.stack import http_api_event

    def services() -> object:
        raise ConfigError(why)

    sink = _Sink()
    handler = WebhookHandler(JIRA, services, metrics=sink)  # type: ignore[arg-type]
    answer = handler(http_api_event("POST", "/webhooks/jira", b"{}", {}))

    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "10"
    assert sink.names == ["JiraWebhookMisconfigured"]
    handler(http_api_event("POST", "/webhooks/jira", b"x" * (300 * 1024), {}))  # the next one: too large
    assert sink.names[-1] == "JiraWebhookRefused"


def test_a_200_counts_as_ignored_only_when_it_did_nothing_else() -> None:
    """An event that changed links and also ignored something (a field over the limits, a key outside
    the allowed projects) was accepted; a note that mentions the word is not an ignore."""
    import json

    from linksync.operations import Outcome
    from linksync.webhook import JIRA, WebhookHandler

    sink = _Sink()
    handler = WebhookHandler(JIRA, lambda: None, metrics=sink)  # type: ignore[arg-type,return-value]
    for outcome in (
        Outcome(ignored="issue was deleted"),
        Outcome(created=1, ignored="the Jira field was left as it is"),
        Outcome(notes=["ignored 2 value(s) that are not ticket ids"]),
    ):
        handler._count({"statusCode": 200, "body": json.dumps(outcome.as_dict())})
    assert sink.names == ["JiraWebhookIgnored", "JiraWebhookAccepted", "JiraWebhookAccepted"]
