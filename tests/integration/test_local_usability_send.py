"""`make send` and `make invoke` as a new user meets them: each send a new delivery (or a replay on
request), events that are not HTTP requests, and exit codes that say when the answer is a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import invoke, make_events, payloads, send
from local.gateway import Gateway, template_routes
from tests import headers as edge

pytestmark = pytest.mark.integration

EVENTS = make_events.EVENTS


def _event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def test_each_zendesk_send_is_a_new_event_unless_replayed() -> None:
    event = _event("zendesk_ticket_created.json")
    original = json.loads(event["body"])["id"]
    ids = []
    for _ in range(2):
        _, _, raw, headers = send.request_from_event(event)
        edge.verify_zendesk(headers, raw, payloads.SECRET_VALUES["zendesk_webhook_secret"])
        body = json.loads(raw)
        assert {k: v for k, v in body.items() if k != "id"} == {
            k: v for k, v in json.loads(event["body"]).items() if k != "id"
        }
        ids.append(body["id"])
    assert len({original, *ids}) == 3

    _, _, raw, headers = send.request_from_event(event, replay=True)
    edge.verify_zendesk(headers, raw, payloads.SECRET_VALUES["zendesk_webhook_secret"])
    assert raw == event["body"].encode()


def test_a_jira_send_is_a_delivery_of_now() -> None:
    event = _event("jira_issue_updated.json")
    _, _, raw, _ = send.request_from_event(event)
    assert json.loads(raw)["timestamp"] > json.loads(event["body"])["timestamp"]
    _, _, replayed, _ = send.request_from_event(event, replay=True)
    assert replayed == event["body"].encode()


def test_a_trigger_body_is_sent_as_it_is() -> None:
    event = _event("zendesk_trigger.json")
    _, _, raw, _ = send.request_from_event(event)
    assert raw == event["body"].encode()


@pytest.mark.parametrize(
    ("name", "function"),
    [("sqs_retry_batch.json", "RetryWorkerFunction")],
)
def test_events_that_are_not_http_requests_are_refused_in_one_line(
    name: str, function: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert send.main([str(EVENTS / name), "--url", "http://127.0.0.1:9"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert f"make invoke FUNCTION={function} EVENT={EVENTS / name}" in err


def test_a_scheduled_event_points_at_the_reconcile_function() -> None:
    with pytest.raises(send.NotAnHttpEvent) as caught:
        send.route_of({"source": "aws.events", "detail-type": "Scheduled Event"})
    assert caught.value.function == "ReconcileFunction"


def test_files_that_are_not_events_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert send.main([str(broken)]) == 2
    assert send.main([str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[Any]]]:
    answers: list[Any] = []

    def invoker(event: dict[str, Any]) -> Any:
        return answers.pop(0)

    gw = Gateway(dict.fromkeys(template_routes().values(), invoker), port=0).start()
    yield gw.url, answers
    gw.stop()


@pytest.mark.parametrize(("status", "code"), [(200, 0), (202, 0), (401, 1), (409, 1), (503, 1)])
def test_send_exit_code_follows_the_answer(
    status: int, code: int, gateway: tuple[str, list[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, answers = gateway
    answers.append({"statusCode": status, "body": json.dumps({"error": "x"} if status >= 400 else {})})
    assert send.main([str(EVENTS / "jira_issue_created.json"), "--url", url]) == code
    out, err = capsys.readouterr()
    assert out.startswith(f"POST /webhooks/jira -> {status}")
    assert (f"HTTP {status}" in err) == (code == 1)


def test_send_with_nothing_listening_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert send.main([str(EVENTS / "jira_issue_created.json"), "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make serve" in err


def test_invoke_exits_non_zero_on_a_4xx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = _event("zendesk_ticket_created.json")
    event["headers"]["x-zendesk-webhook-signature"] = "bm90IHRoZSBzaWduYXR1cmU="
    path = tmp_path / "badly_signed.json"
    path.write_text(json.dumps(event))

    assert invoke.main(["ZendeskWebhookFunction", str(path), "--no-docker"]) == 1
    out, err = capsys.readouterr()
    assert '"statusCode": 401' in out
    assert err.startswith("invoke: the function answered HTTP 401") and err.count("\n") == 1


def test_invoke_of_a_missing_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke.main(["ZendeskWebhookFunction", "events/no_such_event.json", "--no-docker"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such event file" in err


def test_what_invoke_counts_as_a_failure() -> None:
    assert invoke.failure_of({"statusCode": 200, "body": "{}"}) is None
    assert invoke.failure_of({"statusCode": 503, "body": '{"error": "later"}'}) == (
        "the function answered HTTP 503: later"
    )
    assert invoke.failure_of({"batchItemFailures": []}) is None
    assert invoke.failure_of({"batchItemFailures": [{"itemIdentifier": "m1"}]}) == (
        "1 record(s) of the batch failed (batchItemFailures)"
    )
    assert invoke.failure_of({"error": "mode must be 'full' or 'incremental'"}) is not None
    assert invoke.failure_of({"done": True, "report": {}}) is None
