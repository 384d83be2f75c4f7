"""Alarms, the dashboard and the published metadata, read straight from template.yaml.

Every alarm notifies a topic, whatever the parameters; every metric an alarm or the dashboard names in the
project's namespace is one the code emits (``linksync.observability.METRICS``, with the ``service``
dimension Powertools adds), every emitted metric is on the dashboard, and every AWS metric names one of this
template's resources.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from typing import Any

import pytest

from linksync.observability import METRICS, NAMESPACE
from local.template import ROOT, globals_for, load_template, resources

ALARM_TOPIC = {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AlarmTopic"}]}
# Lambda has no timeout metric: the template's metric filters count "Task timed out" log lines here.
TIMEOUTS_NAMESPACE = f"{NAMESPACE}/Timeouts"
# The AWS metrics the template may use, and the dimension that must name one of its resources (of these types)
AWS_METRICS: dict[str, tuple[set[str], str, set[str]]] = {
    "AWS/Lambda": (
        {"Errors", "Throttles", "Duration", "Invocations"},
        "FunctionName",
        {"AWS::Serverless::Function"},
    ),
    "AWS/SQS": (
        {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
        "QueueName",
        {"AWS::SQS::Queue"},
    ),
    # HTTP APIs publish 4xx / 5xx (REST APIs' 4XXError / 5XXError do not exist here).
    "AWS/ApiGateway": ({"Count", "4xx", "5xx"}, "ApiId", {"AWS::Serverless::HttpApi"}),
    "AWS/States": (
        {"ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"},
        "StateMachineArn",
        {"AWS::Serverless::StateMachine"},
    ),
}
SUB = re.compile(r"\$\{([^}]+)\}")


def service() -> str:
    return str(globals_for("Function")["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])


def alarms() -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in resources("AWS::CloudWatch::Alarm").items()}


def alarm_metrics(props: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or each MetricStat of its metric math."""
    if "Metrics" in props:
        return [dict(m["MetricStat"]["Metric"]) for m in props["Metrics"] if "MetricStat" in m]
    return [{k: props[k] for k in ("Namespace", "MetricName", "Dimensions") if k in props}]


def _dimension_ref(value: Any) -> tuple[str, str | None]:
    """A CloudFormation dimension value -> (logical id, attribute or None)."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"]), None
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        return str(name), str(attribute)
    raise AssertionError(f"dimension value {value!r} names no resource")


# ---- the dashboard


def dashboard_source() -> str:
    (dashboard,) = resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str), "DashboardBody is one !Sub string"
    return body


def number_parameters() -> dict[str, int]:
    """Number parameters, each given a distinct stand-in value for parsing the dashboard."""
    params = load_template()["Parameters"]
    numbers = [name for name, p in params.items() if p.get("Type") == "Number"]
    return {name: 1000 + i for i, name in enumerate(numbers)}


def dashboard() -> dict[str, Any]:
    """The body as CloudWatch would get it: numbers for Number parameters, ``SUB:<name>`` for the rest."""
    numbers = number_parameters()

    def stand_in(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(numbers[name]) if name in numbers else f"SUB:{name}"

    parsed: dict[str, Any] = json.loads(SUB.sub(stand_in, dashboard_source()))
    return parsed


def widgets(kind: str = "metric") -> list[dict[str, Any]]:
    return [w for w in dashboard()["widgets"] if w["type"] == kind]


def dashboard_metrics() -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, name, dimensions) of every metric line of every graph."""
    found = []
    for widget in widgets():
        for line in widget["properties"]["metrics"]:
            fields = [f for f in line if not isinstance(f, dict)]
            assert fields and "." not in fields and "..." not in fields, f"write metrics out in full: {line}"
            namespace, name, *dims = fields
            assert len(dims) % 2 == 0, line
            found.append((namespace, name, dict(zip(dims[::2], dims[1::2], strict=True))))
    return found


def test_every_placeholder_names_a_parameter_resource_or_pseudo_parameter() -> None:
    template = load_template()
    for name in SUB.findall(dashboard_source()):
        logical_id = name.split(".", 1)[0]
        assert (
            name.startswith("AWS::")
            or logical_id in template["Parameters"]
            or logical_id in template["Resources"]
        ), f"${{{name}}} in DashboardBody names nothing in the template"


def test_widgets_fit_the_grid_without_overlapping() -> None:
    cells: set[tuple[int, int]] = set()
    for widget in dashboard()["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        area = set(
            itertools.product(
                range(widget["x"], widget["x"] + widget["width"]),
                range(widget["y"], widget["y"] + widget["height"]),
            )
        )
        assert not cells & area, f"{widget['properties'].get('title')} overlaps another widget"
        cells |= area
    for widget in widgets():
        assert widget["properties"]["region"] == "SUB:AWS::Region"


def test_the_dashboard_shows_every_metric_the_code_emits() -> None:
    shown = {name for namespace, name, _ in dashboard_metrics() if namespace == NAMESPACE}
    assert sorted(METRICS - shown) == []


def test_the_zendesk_calls_graph_is_per_minute_with_the_budget_drawn() -> None:
    (graph,) = [
        w
        for w in widgets()
        if any(line[1] == "ZendeskCalls" for line in w["properties"]["metrics"] if line[0] == NAMESPACE)
    ]
    props = graph["properties"]
    assert props["period"] == 60 and props["stat"] == "Sum"
    budget = number_parameters()["ZendeskCallsPerMinute"]
    assert budget in [a["value"] for a in props["annotations"]["horizontal"]]


def test_the_alarm_widget_lists_every_alarm() -> None:
    (widget,) = widgets("alarm")
    assert sorted(widget["properties"]["alarms"]) == sorted(f"SUB:{name}.Arn" for name in alarms())


# ---- custom metrics: only what the code emits, with the dimension Powertools adds


def test_the_namespace_is_the_one_the_functions_write_to() -> None:
    assert globals_for("Function")["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def test_alarms_name_only_metrics_the_code_emits() -> None:
    for name, props in alarms().items():
        for metric in alarm_metrics(props):
            if metric["Namespace"] != NAMESPACE:
                continue
            assert metric["MetricName"] in METRICS, f"{name}: {metric['MetricName']} is not in METRICS"
            assert metric["Dimensions"] == [{"Name": "service", "Value": service()}], name


def test_the_dashboard_names_only_metrics_the_code_emits() -> None:
    for namespace, name, dims in dashboard_metrics():
        if namespace == NAMESPACE:
            assert name in METRICS, f"the dashboard graphs {name}, which nothing emits"
            assert dims == {"service": service()}, name


def timeout_filters() -> dict[str, dict[str, Any]]:
    """Metric name -> transformation, for the metric filters that count timeouts."""
    found = {}
    for res in resources("AWS::Logs::MetricFilter").values():
        for transform in res["Properties"]["MetricTransformations"]:
            if transform["MetricNamespace"] == TIMEOUTS_NAMESPACE:
                found[transform["MetricName"]] = res["Properties"]
    return found


def test_timeout_metrics_come_from_this_templates_metric_filters() -> None:
    used = [
        m["MetricName"]
        for p in alarms().values()
        for m in alarm_metrics(p)
        if m["Namespace"] == TIMEOUTS_NAMESPACE
    ]
    used += [name for namespace, name, _ in dashboard_metrics() if namespace == TIMEOUTS_NAMESPACE]
    assert used
    assert set(used) <= set(timeout_filters())


def test_no_other_custom_namespace() -> None:
    namespaces = {m["Namespace"] for p in alarms().values() for m in alarm_metrics(p)}
    namespaces |= {namespace for namespace, _, _ in dashboard_metrics()}
    assert namespaces <= {NAMESPACE, TIMEOUTS_NAMESPACE, *AWS_METRICS}


# ---- AWS metrics name this template's resources


def _check_aws_metric(where: str, namespace: str, name: str, logical_id: str, attribute: str | None) -> None:
    names, _, types = AWS_METRICS[namespace]
    assert name in names, f"{where}: {namespace} {name} is not a metric this template expects"
    kind = load_template()["Resources"].get(logical_id, {}).get("Type")
    assert kind in types, f"{where}: {namespace} {name} names {logical_id}, not a resource of type {types}"
    if namespace == "AWS/SQS":
        assert attribute == "QueueName", where
    else:
        assert attribute is None, where


def test_alarms_on_aws_metrics_name_resources_of_this_template() -> None:
    for alarm, props in alarms().items():
        for metric in alarm_metrics(props):
            if metric["Namespace"] not in AWS_METRICS:
                continue
            dimension = AWS_METRICS[metric["Namespace"]][1]
            (dim,) = metric["Dimensions"]
            assert dim["Name"] == dimension, alarm
            _check_aws_metric(alarm, metric["Namespace"], metric["MetricName"], *_dimension_ref(dim["Value"]))


def test_the_dashboard_graphs_aws_metrics_of_this_templates_resources() -> None:
    for namespace, name, dims in dashboard_metrics():
        if namespace not in AWS_METRICS:
            continue
        dimension = AWS_METRICS[namespace][1]
        assert list(dims) == [dimension], (namespace, name, dims)
        value = dims[dimension]
        assert value.startswith("SUB:"), (
            f"{namespace} {name}: {value} is hard-coded, not the stack's resource"
        )
        logical_id, _, attribute = value.removeprefix("SUB:").partition(".")
        _check_aws_metric("dashboard", namespace, name, logical_id, attribute or None)


# ---- every alarm reaches someone


def evaluate(condition: Any, parameters: dict[str, str]) -> Any:
    """Enough of CloudFormation's condition functions for the alarm topic's conditions."""
    conditions = load_template()["Conditions"]
    if isinstance(condition, dict):
        ((fn, arg),) = condition.items()
        if fn == "Ref":
            return parameters[arg]
        if fn == "Condition":
            return evaluate(conditions[arg], parameters)
        if fn == "Fn::Equals":
            return evaluate(arg[0], parameters) == evaluate(arg[1], parameters)
        if fn == "Fn::Not":
            return not evaluate(arg[0], parameters)
        if fn == "Fn::And":
            return all(evaluate(a, parameters) for a in arg)
        if fn == "Fn::Or":
            return any(evaluate(a, parameters) for a in arg)
        raise AssertionError(f"unexpected {fn} in a condition")
    return condition


@pytest.mark.parametrize(
    ("topic_arn", "email"),
    [
        ("", ""),
        ("", "ops@example.com"),
        ("arn:aws:sns:us-east-1:123456789012:ops", ""),
        ("arn:aws:sns:x:1:y", "a@b.c"),
    ],
)
def test_alarms_always_notify_a_topic_that_exists(topic_arn: str, email: str) -> None:
    template = load_template()
    params = {"AlarmTopicArn": topic_arn, "AlarmEmail": email}
    conditions = {name: evaluate(c, params) for name, c in template["Conditions"].items() if "Alarm" in name}
    topic = template["Resources"]["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    topic_created = conditions[topic["Condition"]]
    action = template["Resources"]["DeadLetterAlarm"]["Properties"]["AlarmActions"][0]
    chosen = action["Fn::If"][1] if conditions[action["Fn::If"][0]] else action["Fn::If"][2]
    if chosen == {"Ref": "AlarmTopic"}:
        assert topic_created, "alarms would notify a topic that was not created"
    else:
        assert chosen == {"Ref": "AlarmTopicArn"} and topic_arn
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert conditions[subscription["Condition"]] == bool(email)
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Properties"]["TopicArn"] == ALARM_TOPIC


def test_both_alarm_parameters_are_optional() -> None:
    params = load_template()["Parameters"]
    assert params["AlarmTopicArn"]["Default"] == "" and params["AlarmEmail"]["Default"] == ""


@pytest.mark.parametrize("name", sorted(alarms()))
def test_every_alarm_has_an_action_a_description_and_a_missing_data_rule(name: str) -> None:
    props = alarms()[name]
    assert props["AlarmActions"] == [ALARM_TOPIC]
    assert props.get("OKActions", [ALARM_TOPIC]) == [ALARM_TOPIC]
    assert props.get("ActionsEnabled", True) is True
    assert "AlarmName" not in props  # generated: <stack>-<logical id>-<suffix>, unique per stack
    assert 80 <= len(props["AlarmDescription"]) <= 1024
    expected = "breaching" if name == "ReconcileOverdueAlarm" else "notBreaching"
    assert props["TreatMissingData"] == expected
    if "Metrics" in props:
        returned = [m for m in props["Metrics"] if m.get("ReturnData", True)]
        assert len(returned) == 1 and "Expression" in returned[0], name


def test_the_alarms_the_issue_asks_for() -> None:
    found = alarms()

    def reads(alarm: str) -> set[str]:
        return {m["MetricName"] for m in alarm_metrics(found[alarm])}

    assert reads("DeadLetterAlarm") == {"ApproximateNumberOfMessagesVisible"}
    assert reads("RetryQueueAgeAlarm") == {"ApproximateAgeOfOldestMessage"}
    assert found["RetryQueueAgeAlarm"]["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["RetryQueue", "QueueName"]
    }
    assert found["RetryQueueAgeAlarm"]["Threshold"] == {"Ref": "RetryAgeAlarmSeconds"}
    assert reads("SignatureFailuresAlarm") == {"SignatureFailures"}
    assert reads("WebhookMisconfiguredAlarm") == {"JiraWebhookMisconfigured", "ZendeskWebhookMisconfigured"}
    assert reads("ApiServerErrorsAlarm") == {"5xx"}
    assert reads("ZendeskRateLimitAlarm") == {"ZendeskRateLimited", "BudgetDeferred"}
    assert reads("ReconcileDriftAlarm") == {"DriftMissing", "DriftDead", "DriftUnwanted"}
    assert found["ReconcileDriftAlarm"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert found["ReconcileDriftAlarm"]["Threshold"] == 0
    assert reads("ReconcileFailedAlarm") == {"ReconcileJobsFailed", "ExecutionsFailed", "ExecutionsTimedOut"}
    overdue = found["ReconcileOverdueAlarm"]
    assert reads("ReconcileOverdueAlarm") == {"ReconcileJobsFinished"}
    assert overdue["ComparisonOperator"] == "LessThanThreshold" and overdue["Threshold"] == 1
    assert overdue["EvaluationPeriods"] == overdue["DatapointsToAlarm"] == {"Ref": "ReconcileOverdueHours"}
    # CloudWatch evaluates at most one day of periods shorter than an hour, seven days of longer ones.
    hours = load_template()["Parameters"]["ReconcileOverdueHours"]
    assert overdue["Period"] * hours["MaxValue"] <= 86400


@pytest.mark.parametrize("fn", sorted(resources("AWS::Serverless::Function")))
def test_every_function_has_errors_throttles_and_timeouts_alarms(fn: str) -> None:
    watched: dict[str, set[str]] = {}
    for props in alarms().values():
        for metric in alarm_metrics(props):
            if metric["Namespace"] == "AWS/Lambda":
                (dim,) = metric["Dimensions"]
                watched.setdefault(metric["MetricName"], set()).add(_dimension_ref(dim["Value"])[0])
            elif metric["Namespace"] == TIMEOUTS_NAMESPACE:
                watched.setdefault("Timeouts", set()).add(metric["MetricName"])
    for kind in ("Errors", "Throttles", "Timeouts"):
        assert fn in watched.get(kind, set()), f"no {kind} alarm for {fn}"
    # The timeouts metric counts the runtime's "Task timed out" line in this function's own log group.
    log_filter = timeout_filters()[fn]
    assert "Task timed out" in log_filter["FilterPattern"]
    group = resources("AWS::Logs::LogGroup")[log_filter["LogGroupName"]["Ref"]]
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{fn}}}"}


# ---- the README and the published metadata


def test_the_readme_says_what_every_alarm_means() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Alarms\n", 1)[1].split("\n## ", 1)[0]
    for name in alarms():
        assert f"`{name}`" in section, f"README's Alarms section does not explain {name}"


def test_serverless_repo_metadata_is_publishable() -> None:
    app = load_template()["Metadata"]["AWS::ServerlessRepo::Application"]
    # The limits the Serverless Application Repository's CreateApplication enforces.
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", app["Name"])
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"]) and len(app["Author"]) <= 127
    assert 1 <= len(app["Description"]) <= 256
    assert 1 <= len(app["Labels"]) <= 10
    assert all(re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label) for label in app["Labels"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", app["SemanticVersion"])
    assert app["HomePageUrl"].startswith("https://") and app["SourceCodeUrl"].startswith("https://")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert app["SpdxLicenseId"] == pyproject["project"]["license"] == "Apache-2.0"
    license_text = (ROOT / app["LicenseUrl"]).read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert (ROOT / app["ReadmeUrl"]).read_text().startswith("# zendesk-jira-linksync")
