"""The operator's CLI against a local stack: AWS on a moto server, Zendesk and Jira on the sandbox, real
dead letters made by a 403."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.payloads import jira_issue
from tests.integration.conftest import Pipeline
from tools.cli import main as cli
from tools.cli.target import Target

pytestmark = pytest.mark.integration

LINKS = "/api/services/jira/links"


@pytest.fixture
def target(pipeline: Pipeline, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Target:
    stack = pipeline.stack
    made = Target(
        name="local",
        region="us-east-1",
        outputs={
            "LinksTableName": stack.physical["LinksTable"],
            "RetryQueueUrl": stack.physical["RetryQueue"],
            "RetryDeadLetterQueueUrl": stack.physical["RetryDeadLetterQueue"],
        },
        parameters={
            **stack.parameters,
            "SecretName": stack.physical["SecretName"],
            "ZendeskCallsPerMinute": "100",
        },
        local=True,
        aws_endpoint=moto_url,
    )
    monkeypatch.setattr(cli, "choose", lambda *_: made)
    return made


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def world(pipeline: Pipeline) -> Pipeline:
    """PROJ-1 linked to ticket 101; PROJ-2's link to 102 refused with 403: a dead letter."""
    pipeline.sandbox.add_issue("PROJ-1", "10001")
    pipeline.sandbox.add_issue("PROJ-2", "10002")
    assert pipeline.jira(jira_issue("jira:issue_created", "10001", "PROJ-1", tickets="101")).status == 200
    pipeline.sandbox.fail_next("403", path_prefix=LINKS, method="POST")
    assert pipeline.jira(jira_issue("jira:issue_created", "10002", "PROJ-2", tickets="102")).status == 200
    return pipeline


def test_status(world: Pipeline, target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    found = as_json(capsys, "status")

    assert found["ledger"]["pairs"] == 2
    assert found["ledger"]["states"] == {"linked": 1, "failed": 1}
    assert found["queues"]["dead_letter"]["messages"] == 1
    assert found["queues"]["dead_letter"]["by_reason"] == {"ZendeskAuthError 403": 1}
    assert found["budget"]["per_minute"] == 100
    code, out, _ = run(capsys, "status")
    assert code == 0 and "ZendeskAuthError 403" in out and "2 pair(s)" in out
    assert world.dead_letters()  # looking did not take it away


def test_links_by_issue_and_by_ticket(
    world: Pipeline, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    world.sandbox.add_link(issue_id="10002", issue_key="PROJ-2", ticket_id="101")  # an agent's, by hand

    by_ticket = as_json(capsys, "links", "101")
    rows = {row["issue_key"]: row for row in by_ticket["links"]}
    assert rows["PROJ-1"]["wanted_by"] == ["Jira field"] and rows["PROJ-1"]["agrees"]
    assert rows["PROJ-2"]["wanted_by"] == ["by hand"] and rows["PROJ-2"]["ledger_state"] is None
    by_issue = as_json(capsys, "links", "proj-2")
    assert by_issue["issue_id"] == "10002"
    assert {(r["ticket_id"], r["ledger_state"], tuple(r["wanted_by"])) for r in by_issue["links"]} == {
        ("101", None, ("by hand",)),
        ("102", "failed", ("Jira field",)),
    }
    code, _, err = run(capsys, "links", "NOPE-404")
    assert code == 2 and err.count("\n") == 1 and "NOPE-404 was not found" in err


def test_dlq_list_redrive_and_purge(
    world: Pipeline, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    (letter,) = as_json(capsys, "dlq", "list")
    assert letter["reason"] == "ZendeskAuthError 403"
    assert letter["operation"] == "reconcile issue_id 10002 ticket_id 102"

    code, out, _ = run(capsys, "dlq", "redrive", "--reason", "429", "--dry-run")
    assert (code, out.strip()) == (0, "would move 0 of 1 dead letter(s) back to the retry queue")
    code, out, _ = run(capsys, "dlq", "redrive", "--reason", "403")  # "Manage links" is back on
    assert (code, out.strip()) == (0, "moved 1 dead letter(s) back to the retry queue")
    assert world.dead_letters() == []
    world.drain()
    assert ("10002", "102") in world.links()  # a fresh attempt budget: it did not fall straight back

    world.sandbox.fail_next("403", times=100, path_prefix=LINKS, method="POST")
    assert world.jira(jira_issue("jira:issue_created", "10002", "PROJ-2", tickets="103")).status == 200
    assert len(world.dead_letters()) == 1
    code, _, err = run(capsys, "dlq", "purge")  # not a terminal: nobody to confirm
    assert code == 2 and "--yes" in err
    assert run(capsys, "dlq", "purge", "--yes")[0] == 0
    assert world.dead_letters() == []
