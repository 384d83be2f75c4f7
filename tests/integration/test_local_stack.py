"""The local stack's own glue: the HTTP API gateway, the SQS event source, function processes, the demo,
`make invoke`, `make send` and `make secret`."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
import requests

from local import demo, invoke, make_events, payloads, send
from local import run as local_run
from local.gateway import Gateway, template_routes
from local.runtime import FunctionError, FunctionProcess
from local.stack import LocalStack, drain_queue
from local.template import ROOT
from tests import headers as edge
from tools import secret

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------- gateway


@pytest.fixture
def gateway() -> Any:
    seen: list[dict[str, Any]] = []
    answers: list[Any] = []

    def invoker(event: dict[str, Any]) -> Any:
        seen.append(event)
        answer = answers.pop(0) if answers else {"statusCode": 200, "body": "{}"}
        if isinstance(answer, Exception):
            raise answer
        return answer

    gw = Gateway(dict.fromkeys(template_routes().values(), invoker), port=0).start()
    yield gw, seen, answers
    gw.stop()


def test_routes_come_from_the_template() -> None:
    assert template_routes() == {
        ("POST", "/webhooks/jira"): "JiraWebhookFunction",
        ("POST", "/webhooks/zendesk"): "ZendeskWebhookFunction",
    }


def test_request_becomes_a_v2_event(gateway: Any) -> None:
    gw, seen, _ = gateway
    body = '{"note": "caf\u00e9 \u2713"}'.encode()
    requests.post(
        gw.url + "/webhooks/jira?a=1&a=2&b=",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature": "sha256=ab",
            "X-Multi": "one",
            "Cookie": "c1=v1; c2=v2",
        },
        timeout=5,
    )

    (event,) = seen
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /webhooks/jira"
    assert event["rawPath"] == "/webhooks/jira"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["headers"]["x-hub-signature"] == "sha256=ab"
    assert all(k == k.lower() for k in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["isBase64Encoded"] is False
    assert event["body"].encode() == body
    assert event["requestContext"]["http"]["method"] == "POST"


def test_binary_bodies_are_base64(gateway: Any) -> None:
    gw, seen, _ = gateway
    raw = bytes(range(256))
    requests.post(
        gw.url + "/webhooks/zendesk",
        data=raw,
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    )
    assert seen[0]["isBase64Encoded"] is True
    assert base64.b64decode(seen[0]["body"]) == raw


def test_responses_map_back_to_http(gateway: Any) -> None:
    gw, _, answers = gateway
    answers += [
        {
            "statusCode": 401,
            "headers": {"Content-Type": "application/json", "X-A": "b"},
            "body": '{"error": "x"}',
        },
        {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x00\x01").decode()},
        {"just": "json"},
        RuntimeError("boom"),
    ]
    first = requests.post(gw.url + "/webhooks/jira", data=b"{}", timeout=5)
    second = requests.post(gw.url + "/webhooks/jira", data=b"{}", timeout=5)
    third = requests.post(gw.url + "/webhooks/jira", data=b"{}", timeout=5)
    fourth = requests.post(gw.url + "/webhooks/jira", data=b"{}", timeout=5)
    missing = requests.post(gw.url + "/webhooks/other", data=b"{}", timeout=5)
    wrong_method = requests.get(gw.url + "/webhooks/jira", timeout=5)

    assert (first.status_code, first.json(), first.headers["X-A"]) == (401, {"error": "x"}, "b")
    assert (second.status_code, second.content) == (200, b"\x00\x01")
    assert (third.status_code, third.json()) == (200, {"just": "json"})
    assert (fourth.status_code, fourth.json()) == (500, {"message": "Internal Server Error"})
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    assert wrong_method.status_code == 404


# ---------------------------------------------------------------------------- SQS event source


@pytest.fixture
def stack(moto_url: str) -> LocalStack:
    parameters = {
        "ZendeskBaseUrl": "http://127.0.0.1:9",
        "JiraBaseUrl": "http://127.0.0.1:9",
        "JiraTicketField": payloads.JIRA_TICKET_FIELD,
        "ZendeskIssueField": payloads.ZENDESK_ISSUE_FIELD,
        "SecretName": "linksync",
    }
    return LocalStack(moto_url, parameters, dict(payloads.SECRET_VALUES)).create()


def _send(stack: LocalStack, n: int) -> None:
    for i in range(n):
        stack.sqs.send_message(QueueUrl=stack.physical["RetryQueue"], MessageBody=json.dumps({"n": i}))


def test_batches_and_partial_failures(stack: LocalStack) -> None:
    _send(stack, 5)
    batches: list[list[int]] = []
    counts: dict[int, list[int]] = {}

    def worker(event: dict[str, Any]) -> dict[str, Any]:
        batch = [json.loads(r["body"])["n"] for r in event["Records"]]
        batches.append(batch)
        failures = []
        for record in event["Records"]:
            n = json.loads(record["body"])["n"]
            counts.setdefault(n, []).append(int(record["attributes"]["ApproximateReceiveCount"]))
            assert record["eventSource"] == "aws:sqs"
            if n == 3 and len(counts[n]) < 2:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    report = drain_queue(stack, worker, batch_size=2)

    assert all(len(b) <= 2 for b in batches)
    assert report.records == 6
    assert report.failures == 1
    assert counts[3] == [1, 2]
    assert all(counts[n] == [1] for n in (0, 1, 2, 4))
    assert stack.queue_depth("RetryQueue") == 0


def test_redrive_after_max_receive_count_and_function_errors(stack: LocalStack) -> None:
    _send(stack, 2)

    def broken(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("function error: the whole batch fails")

    report = drain_queue(stack, broken, max_batches=50)

    assert report.errors >= 5
    assert stack.queue_depth("RetryQueue") == 0
    parked = sorted(m["n"] for m in stack.queue_messages("RetryDeadLetterQueue"))
    assert parked == [0, 1]


# ---------------------------------------------------------------------------- function processes


def test_function_process_is_warm_and_reports_errors(stack: LocalStack, tmp_path: Any) -> None:
    env = stack.function_env("RetryWorkerFunction")
    proc = FunctionProcess("RetryWorkerFunction", env, log_path=tmp_path / "worker.log").start()
    batch = json.loads((make_events.EVENTS / "sqs_retry_batch.json").read_text())
    try:
        proc.wait_ready()
        assert proc.invoke(batch) == {"batchItemFailures": []}
        with pytest.raises(FunctionError) as caught:
            proc.invoke({"Records": "not a list"})
        assert caught.value.payload["errorType"]
        assert proc.invoke(batch) == {"batchItemFailures": []}  # the same warm process, still serving
    finally:
        proc.stop()
    assert proc._proc is not None and proc._proc.poll() is not None


# ---------------------------------------------------------------------------- the commands


def _secret_forms() -> list[str]:
    """Every form a credential could leak in: raw values and the Basic auth headers built from them."""
    values = payloads.SECRET_VALUES
    forms = [v for k, v in values.items() if not k.endswith("_email")]
    forms.append(
        base64.b64encode(f"{values['zendesk_email']}/token:{values['zendesk_api_token']}".encode()).decode()
    )
    forms.append(base64.b64encode(f"{values['jira_email']}:{values['jira_api_token']}".encode()).decode())
    return forms


def test_demo_final_table(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_run, "LOGS_ROOT", tmp_path)
    lines: list[str] = []
    result = demo.run_demo(out=lines.append)

    assert result.ok, result.problems
    table = [
        (r.issue_key, r.issue_id, r.ticket_id, r.zendesk_link is not None, r.ledger_state, r.owners)
        for r in result.rows
    ]
    assert table == [
        ("PROJ-2", "10002", "35438", True, "linked", "zendesk_field"),
        ("PROJ-2", "10002", "35442", False, "failed", "jira_field"),
        ("PROJ-3", "10003", "35436", True, "linked", "jira_field"),
        ("PROJ-3", "10003", "35440", True, "linked", "jira_field"),
    ]
    assert result.zendesk_links == demo.EXPECTED_LINKS
    assert [d["reason"]["status"] for d in result.dead_letters] == [403]
    assert any(line.startswith("OK:") for line in lines)
    assert any("PROJ-3   10003     35440" in line for line in lines)
    # chapter 9, the adoption, through the CLI and the local Lambda Invoke API: dry run, apply, nothing left
    runs = [line for line in lines if "-> desired" in line]
    assert len(runs) == 3
    assert "missing 6, dead 2" in runs[0] and "created 0, deleted 0" in runs[0]
    assert "created 6, deleted 2" in runs[1]
    assert "missing 0, dead 0, unwanted 0" in runs[2] and "created 0, deleted 0" in runs[2]

    # The function logs are kept in a folder of their own, named at the start and at the end.
    (log_dir,) = tmp_path.iterdir()
    assert lines[0] == f"Function logs in {log_dir}"
    assert lines[-1].endswith(f"all processes stopped; function logs kept in {log_dir})")
    # Secrets never logged: every function's whole log (retries, a 403, dead letters) and the DLQ bodies.
    logs = {p.name: p.read_text() for p in log_dir.glob("*.log")}
    assert set(logs) == {
        "JiraWebhookFunction.log",
        "ZendeskWebhookFunction.log",
        "RetryWorkerFunction.log",
        "ReconcileFunction.log",
    }
    assert all(text.strip() for text in logs.values())
    assert "created link" in logs["JiraWebhookFunction.log"]
    assert "reconcile job finished" in logs["ReconcileFunction.log"]
    everything = "\n".join([*logs.values(), *lines, json.dumps(result.dead_letters)])
    for secret_form in _secret_forms():
        assert secret_form not in everything


def test_demo_reports_divergence() -> None:
    result = demo.DemoResult(zendesk_links=[("1", "2")], ledger_linked=[])
    result.problems.append("Zendesk has more")
    assert not result.ok
    assert "DIVERGED: Zendesk has more" in demo.render(result)


def test_invoke_without_docker(capsys: pytest.CaptureFixture[str]) -> None:
    status = invoke.main(
        ["ZendeskWebhookFunction", str(ROOT / "events/zendesk_ticket_created.json"), "--no-docker"]
    )

    out = capsys.readouterr().out
    assert status == 0
    response = json.loads(out.split("--- response", 1)[1].split("\n", 1)[1])
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["created"] == 2
    assert '"message":"created link"' in out


def test_send_signs_afresh() -> None:
    event = json.loads((make_events.EVENTS / "zendesk_trigger.json").read_text())
    method, path, raw, headers = send.request_from_event(event)
    assert (method, path) == ("POST", "/webhooks/zendesk")
    edge.verify_zendesk(headers, raw, payloads.SECRET_VALUES["zendesk_webhook_secret"])

    jira_event = json.loads((make_events.EVENTS / "jira_issue_created.json").read_text())
    _, _, raw, fresh = send.request_from_event(jira_event)
    _, _, kept_raw, kept = send.request_from_event(jira_event, replay=True)
    edge.verify_jira(fresh, raw, payloads.SECRET_VALUES["jira_webhook_secret"])
    original = jira_event["headers"]["x-atlassian-webhook-identifier"]
    assert fresh["X-Atlassian-Webhook-Identifier"] != original
    assert kept["X-Atlassian-Webhook-Identifier"] == original
    assert kept_raw == jira_event["body"].encode()  # a replay is the same body, signed afresh


def test_secret_is_created_then_updated_and_never_printed(
    moto_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    values = {k: f"value-{k}-{os.getpid()}" for k in payloads.SECRET_VALUES}
    for key, value in values.items():
        monkeypatch.setenv(key.upper(), value)
    for key, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_REGION", raising=False)
    name = f"linksync-test-{os.getpid()}"

    assert secret.main(["--name", name]) == 0
    monkeypatch.setenv("JIRA_API_TOKEN", "rotated-token")
    assert secret.main(["--name", name]) == 0

    out = capsys.readouterr().out
    assert [line.split(" (")[0] for line in out.splitlines() if line.startswith("  ") and "(" in line][
        :6
    ] == [
        f"  created {name}",
        f"  created {name}-jira-webhook",
        f"  created {name}-zendesk-webhook",
        f"  updated {name}",
        f"  unchanged {name}-jira-webhook",
        f"  unchanged {name}-zendesk-webhook",
    ]
    assert not any(v in out for v in [*values.values(), "rotated-token"])
    import boto3

    client = boto3.client("secretsmanager")
    stored: dict[str, str] = {}
    for suffix in ("", "-jira-webhook", "-zendesk-webhook"):
        stored |= json.loads(client.get_secret_value(SecretId=name + suffix)["SecretString"])
    assert stored == {**values, "jira_api_token": "rotated-token"}
