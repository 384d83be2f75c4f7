"""events/: current with their generator, and each does what its name says when invoked as Lambda would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local import make_events
from local.template import resources
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


def _route_table() -> dict[str, str]:
    """'POST /webhooks/jira' -> logical id, from the template's HttpApi events."""
    routes = {}
    for name, res in resources("AWS::Serverless::Function").items():
        for event in res["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes[f"{event['Properties']['Method']} {event['Properties']['Path']}"] = name
    return routes


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((make_events.EVENTS / f"{name}.json").read_text())
    return event


def test_committed_events_match_their_generator() -> None:
    expected = make_events.all_files()
    on_disk = {p.name for p in make_events.EVENTS.glob("*.json")}
    assert on_disk == set(expected)
    for name, data in expected.items():
        assert (make_events.EVENTS / name).read_text() == make_events.render(data), (
            f"regenerate events/{name}"
        )


def test_sample_events_replay_a_whole_story(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    # The samples are signed once, with fixed times: widen the windows a deployment keeps narrow.
    for name, value in make_events.SAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    make_events.seed_samples(pipeline.sandbox)
    routes = _route_table()

    def send(name: str) -> dict[str, Any]:
        event = _load(name)
        answer = pipeline.invoke(routes[event["routeKey"]], event)
        assert answer["statusCode"] == 200, (name, answer["body"])
        return json.loads(answer["body"])  # type: ignore[no-any-return]

    assert send("jira_issue_created")["created"] == 2
    assert pipeline.links() == [("10001", "35436"), ("10001", "35437")]
    assert send("jira_issue_updated")["deleted"] == 1
    assert send("zendesk_ticket_created")["created"] == 1
    assert pipeline.links() == [("10001", "35436"), ("10002", "35436")]
    assert send("zendesk_custom_field_changed")["created"] == 0
    assert send("zendesk_trigger")["created"] == 0

    worker = pipeline.invoke("RetryWorkerFunction", _load("sqs_retry_batch"))
    assert worker == {"batchItemFailures": []}

    assert send("zendesk_ticket_soft_deleted")["deleted"] == 2
    assert pipeline.links() == []
    for name in ("zendesk_ticket_permanently_deleted", "zendesk_ticket_merged", "jira_issue_deleted"):
        send(name)
    assert pipeline.links() == []
    assert pipeline.dead_letters() == []
