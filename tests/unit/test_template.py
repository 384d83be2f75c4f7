"""The operator contract and least privilege, read straight from template.yaml."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from linksync.config import SECRET_LAYOUT
from local.template import globals_for, load_template, resources

FUNCTIONS = ("JiraWebhookFunction", "ZendeskWebhookFunction", "RetryWorkerFunction")
ENV = (
    "LINKS_TABLE_NAME",
    "RETRY_QUEUE_URL",
    "SECRET_ID",
    "ZENDESK_BASE_URL",
    "JIRA_BASE_URL",
    "JIRA_TICKET_FIELD",
    "ZENDESK_ISSUE_FIELD",
)


def test_logical_ids_and_types() -> None:
    types = {name: res["Type"] for name, res in resources().items()}
    assert types["WebhookApi"] == "AWS::Serverless::HttpApi"
    assert types["SharedLayer"] == "AWS::Serverless::LayerVersion"
    assert types["LinksTable"] == "AWS::DynamoDB::Table"
    assert types["RetryQueue"] == types["RetryDeadLetterQueue"] == "AWS::SQS::Queue"
    for fn in FUNCTIONS:
        assert types[fn] == "AWS::Serverless::Function"


def test_routes_are_payload_2_posts_on_the_api() -> None:
    routes = {}
    for fn in FUNCTIONS[:2]:
        (event,) = resources()[fn]["Properties"]["Events"].values()
        props = event["Properties"]
        assert event["Type"] == "HttpApi"
        assert props["ApiId"] == {"Ref": "WebhookApi"}
        assert props["PayloadFormatVersion"] == "2.0"
        routes[f"{props['Method']} {props['Path']}"] = fn
    assert routes == {
        "POST /webhooks/jira": "JiraWebhookFunction",
        "POST /webhooks/zendesk": "ZendeskWebhookFunction",
    }


def test_worker_reads_the_retry_queue_with_partial_batch_failures() -> None:
    (event,) = resources()["RetryWorkerFunction"]["Properties"]["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["RetryQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_redrive_is_bounded_and_visibility_covers_the_worker() -> None:
    queue = resources()["RetryQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["RetryDeadLetterQueue", "Arn"]}
    assert 1 <= int(redrive["maxReceiveCount"]) <= 10
    worker_timeout = resources()["RetryWorkerFunction"]["Properties"]["Timeout"]
    assert int(queue["VisibilityTimeout"]) >= 6 * int(worker_timeout)


def test_every_function_gets_the_contract_environment_and_arm64_python312() -> None:
    g = globals_for("Function")
    assert g["Runtime"] == "python3.12"
    assert g["Architectures"] == ["arm64"]
    assert g["Layers"] == [{"Ref": "SharedLayer"}]
    for name in ENV:
        assert name in g["Environment"]["Variables"]


def test_table_is_on_demand_recoverable_encrypted_with_a_ticket_index() -> None:
    table = resources()["LinksTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["ByTicket"]


def _statements(fn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in resources()[fn]["Properties"]["Policies"]:
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_least_privilege(fn: str) -> None:
    policies = resources()[fn]["Properties"]["Policies"]
    text = json.dumps(policies)
    assert "FullAccess" not in text
    allowed_templates = {"SQSSendMessagePolicy", "AWSSecretsManagerGetSecretValuePolicy", "Statement"}
    for policy in policies:
        assert isinstance(policy, dict)
        assert set(policy) <= allowed_templates
    for statement in _statements(fn):
        actions = statement["Action"]
        assert all(a.startswith("dynamodb:") and "*" not in a for a in actions)
        assert "dynamodb:Scan" not in actions
        assert all("LinksTable" in json.dumps(r) for r in statement["Resource"])
    queues = [
        p["SQSSendMessagePolicy"]["QueueName"]["Fn::GetAtt"][0]
        for p in policies
        if "SQSSendMessagePolicy" in p
    ]
    assert sorted(queues) == ["RetryDeadLetterQueue", "RetryQueue"]


# Which secrets each function may read: the signing secrets only by the webhook that checks them.
SECRETS_READ = {
    "JiraWebhookFunction": {"SecretName", "JiraWebhookSecretName"},
    "ZendeskWebhookFunction": {"SecretName", "ZendeskWebhookSecretName"},
    "RetryWorkerFunction": {"SecretName"},
    "ReconcileFunction": {"SecretName"},
}


@pytest.mark.parametrize("fn", sorted(SECRETS_READ))
def test_each_function_reads_only_the_secrets_it_needs(fn: str) -> None:
    props = resources()[fn]["Properties"]
    arns = [
        p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Fn::Sub"]
        for p in props["Policies"]
        if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p
    ]
    named = set()
    for arn in arns:
        match = re.fullmatch(r"arn:\$\{AWS::Partition\}:secretsmanager:.*:secret:\$\{(\w+)\}-\?{6}", arn)
        assert match, arn
        named.add(match.group(1))
    assert named == SECRETS_READ[fn]
    assert "secretsmanager" not in json.dumps(_statements(fn))  # no other way in
    own = props.get("Environment", {}).get("Variables", {})
    webhook = SECRETS_READ[fn] - {"SecretName"}
    assert own.get("WEBHOOK_SECRET_ID") == ({"Ref": webhook.pop()} if webhook else None)
    assert "WEBHOOK_SECRET_ID" not in globals_for("Function")["Environment"]["Variables"]


def test_the_secrets_layout_names_the_template_parameters_and_their_defaults() -> None:
    parameters = load_template()["Parameters"]
    base = parameters["SecretName"]["Default"]
    for parameter, (suffix, _) in SECRET_LAYOUT.items():
        assert parameters[parameter]["Default"] == base + suffix


@pytest.mark.parametrize("fn", sorted(SECRETS_READ))
def test_functions_that_transact_may_check_conditions(fn: str) -> None:
    """TransactWriteItems needs each item's own action: ConditionCheckItem for the tombstone checks."""
    actions = {a for st in _statements(fn) for a in st["Action"] if a.startswith("dynamodb:")}
    assert {"dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} <= actions


def test_log_groups_with_retention_for_every_function() -> None:
    groups = resources("AWS::Logs::LogGroup").values()
    named = {json.dumps(g["Properties"].get("LogGroupName")) for g in groups}
    for fn in FUNCTIONS:
        assert any(fn in n for n in named)
    assert all("RetentionInDays" in g["Properties"] for g in groups)


def test_dlq_alarm_and_outputs() -> None:
    alarm = resources("AWS::CloudWatch::Alarm")["DeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["RetryDeadLetterQueue", "QueueName"]}
    assert alarm["Threshold"] == 0
    outputs = load_template()["Outputs"]
    assert {
        "JiraWebhookUrl",
        "ZendeskWebhookUrl",
        "LinksTableName",
        "RetryQueueUrl",
        "RetryDeadLetterQueueUrl",
        "AlarmTopic",
        "DashboardUrl",
    } <= set(outputs)


def test_http_api_is_throttled() -> None:
    settings = resources()["WebhookApi"]["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0
    assert settings["ThrottlingBurstLimit"] > 0


def test_readme_deploy_section_matches_the_template() -> None:
    from local.template import ROOT

    readme = (ROOT / "README.md").read_text()
    deploy = readme.split("## Deploy to your account", 1)[1].split("\n## ", 1)[0]
    for name in load_template()["Parameters"]:
        assert f"`{name}`" in deploy, f"README's deploy steps do not mention parameter {name}"
    for name in ("JiraWebhookUrl", "ZendeskWebhookUrl"):
        assert name in load_template()["Outputs"]
        assert f"`{name}`" in deploy
    for target in ("make secret", "make deploy"):
        assert target in deploy
    for key in ("jira_webhook_secret", "zendesk_webhook_secret"):
        assert key in deploy
