"""The deployed stack, locally: AWS resources from template.yaml on a moto server, the template's functions
loaded as Lambda loads them, and the SQS event source's behaviour.

Everything is read from the template (table keys and indexes, queue attributes and redrive policy, function
handlers, code folders, environment), so the local stack cannot drift from what ``sam deploy`` creates.
Used by the integration tests, ``make demo`` and ``make serve``.
"""

from __future__ import annotations

import base64
import errno
import importlib.util
import json
import logging
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3

from linksync.config import SECRET_LAYOUT
from local.moto_atomic import make_dynamodb_atomic
from local.template import ROOT, globals_for, load_template, resources

LAYER_PATHS = [
    ROOT / res["Properties"]["ContentUri"] for res in resources("AWS::Serverless::LayerVersion").values()
]
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "",
}

# Local runs tighten the retry timing so a demo or test drains in seconds, not minutes. There is no Step
# Functions locally: whoever runs a reconcile job locally invokes it again until it is done.
LOCAL_FUNCTION_ENV = {
    "RECONCILE_STATE_MACHINE_ARN": "",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "ZendeskJiraLinkSync",
    "POWERTOOLS_SERVICE_NAME": "zendesk-jira-linksync",
    "RETRY_BASE_DELAY_SECONDS": "0",
    "RETRY_MAX_DELAY_SECONDS": "1",
    "ZENDESK_TIMEOUT_SECONDS": "1",
}


class PortUnavailable(Exception):  # noqa: N818 - named for what the user is told
    """A fixed port cannot be listened on (in use, or not allowed); ``role`` says what wanted it."""

    def __init__(self, port: int, reason: str, role: str = "") -> None:
        super().__init__(f"port {port}: {reason}")
        self.port = port
        self.reason = reason
        self.role = role


def port_unavailable(error: OSError, port: int) -> PortUnavailable | None:
    """The error of binding ``port`` as a PortUnavailable, or None when it is something else."""
    if error.errno == errno.EADDRINUSE:
        return PortUnavailable(port, "already in use")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EADDRNOTAVAIL):
        return PortUnavailable(port, error.strerror or "not allowed")
    return None


def listening_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A socket listening on ``host:port``, bound as the stdlib and werkzeug servers bind (SO_REUSEADDR,
    so a port only in TIME_WAIT is free); raises PortUnavailable when the port is taken or not allowed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError as e:
        sock.close()
        raise (port_unavailable(e, port) or e) from None
    except BaseException:
        sock.close()
        raise
    return sock


@contextmanager
def moto_server(port: int = 0) -> Iterator[str]:
    """A moto server over HTTP on 127.0.0.1 (a free port unless given); yields its URL.

    The socket is bound here, in the caller's thread, so a taken port raises PortUnavailable at once
    (moto's ThreadedMotoServer binds in its thread and then waits forever for a server that never came).
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    make_dynamodb_atomic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call otherwise
    sock = listening_socket(port)
    try:
        server = make_server(
            "127.0.0.1",
            int(sock.getsockname()[1]),
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=sock.fileno(),
        )
    finally:
        sock.close()  # the server holds a duplicate of it
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), name="moto-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def aws_env(endpoint_url: str) -> dict[str, str]:
    """What a process needs to reach the moto server through boto3's standard endpoint resolution."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **FAKE_CREDENTIALS,
    }


def client(service: str, endpoint_url: str | None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]  # any service name; the stubs type each literal apart
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class LocalStack:
    """The template's table, queues and secrets, created on a moto server under a unique prefix."""

    endpoint_url: str | None
    parameters: dict[str, str]
    secret_values: dict[str, str]
    prefix: str = field(default_factory=lambda: f"ls{uuid.uuid4().hex[:8]}")
    physical: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dynamodb = client("dynamodb", self.endpoint_url)
        self.sqs = client("sqs", self.endpoint_url)
        self.secretsmanager = client("secretsmanager", self.endpoint_url)

    # ------------------------------------------------------------------ create from the template

    def create(self) -> LocalStack:
        queues = resources("AWS::SQS::Queue")
        # Dead-letter targets first, so a redrive policy can name them.
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {})):
            self._create_queue(name, queues[name].get("Properties", {}))
        for name, res in resources("AWS::DynamoDB::Table").items():
            self._create_table(name, res["Properties"])
        self._create_secrets()
        return self

    def _create_secrets(self) -> None:
        """The credentials secret and each webhook's signing secret, named as ``make secret`` names them
        unless a parameter names them, each holding its share of ``secret_values``."""
        base = self.parameters.get("SecretName", "zendesk-jira-linksync")
        for parameter, (suffix, keys) in SECRET_LAYOUT.items():
            name = f"{self.prefix}-{self.parameters.get(parameter, base + suffix)}"
            values = {k: self.secret_values[k] for k in keys if k in self.secret_values}
            self.secretsmanager.create_secret(Name=name, SecretString=json.dumps(values))
            self.physical[parameter] = name

    def _create_table(self, name: str, props: dict[str, Any]) -> None:
        table_name = f"{self.prefix}-{name}"
        args: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": [dict(a) for a in props["AttributeDefinitions"]],
            "KeySchema": [dict(k) for k in props["KeySchema"]],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = json.loads(json.dumps(props["GlobalSecondaryIndexes"]))
        if props.get("SSESpecification"):
            args["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        self.dynamodb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            self.dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"],
                    "Enabled": bool(ttl["Enabled"]),
                },
            )
        self.physical[name] = table_name

    def _create_queue(self, name: str, props: dict[str, Any]) -> None:
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
        ):
            if key in props:
                attributes[key] = str(props[key])
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": self.queue_arn(target),
                    "maxReceiveCount": int(redrive["maxReceiveCount"]),
                }
            )
        url = self.sqs.create_queue(QueueName=f"{self.prefix}-{name}", Attributes=attributes)["QueueUrl"]
        self.physical[name] = url

    def queue_arn(self, logical_id: str) -> str:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.physical[logical_id], AttributeNames=["QueueArn"])
        return str(attrs["Attributes"]["QueueArn"])

    # ------------------------------------------------------------------ functions as Lambda runs them

    def resolve(self, value: Any) -> str:
        """Resolve the intrinsic functions the template's environment uses (Ref, GetAtt, Sub)."""
        if isinstance(value, dict):
            if "Ref" in value:
                ref = value["Ref"]
                if ref in PSEUDO_PARAMETERS:
                    return self.prefix if ref == "AWS::StackName" else PSEUDO_PARAMETERS[ref]
                if ref in self.physical:
                    return self.physical[ref]
                if ref in self.parameters:
                    return self.parameters[ref]
                declared = load_template().get("Parameters", {}).get(ref, {})
                if "Default" in declared:
                    return str(declared["Default"])
                raise KeyError(f"cannot resolve Ref {ref}")
            if "Fn::GetAtt" in value:
                logical, attr = value["Fn::GetAtt"]
                if attr == "Arn":
                    return self.queue_arn(logical)
                return self.physical[logical]
            if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.resolve({"Ref": m.group(1)}), value["Fn::Sub"])
            if "Fn::If" in value:
                condition, when_true, when_false = value["Fn::If"]
                return self.resolve(when_true if self.condition(condition) else when_false)
            raise KeyError(f"unsupported intrinsic {sorted(value)}")
        return str(value)

    def condition(self, name: str) -> bool:
        """Evaluate one of the template's Conditions (Equals, Not, And, Or, Condition) with our parameters."""

        def evaluate(node: Any) -> Any:
            if isinstance(node, dict):
                if "Fn::Equals" in node:
                    a, b = node["Fn::Equals"]
                    return str(evaluate(a)) == str(evaluate(b))
                if "Fn::Not" in node:
                    return not evaluate(node["Fn::Not"][0])
                if "Fn::And" in node:
                    return all(evaluate(n) for n in node["Fn::And"])
                if "Fn::Or" in node:
                    return any(evaluate(n) for n in node["Fn::Or"])
                if "Condition" in node:
                    return self.condition(node["Condition"])
                return self.resolve(node)
            return node

        return bool(evaluate(load_template()["Conditions"][name]))

    def function_env(self, logical_id: str) -> dict[str, str]:
        props = {
            **globals_for("Function"),
            **resources("AWS::Serverless::Function")[logical_id]["Properties"],
        }
        variables = {**globals_for("Function").get("Environment", {}).get("Variables", {})}
        variables.update(props.get("Environment", {}).get("Variables", {}))
        env = {k: self.resolve(v) for k, v in variables.items()}
        env["AWS_LAMBDA_FUNCTION_NAME"] = logical_id
        env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(props.get("MemorySize", 128))
        env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = str(props.get("Timeout", 3))
        aws = aws_env(self.endpoint_url) if self.endpoint_url else {"AWS_DEFAULT_REGION": REGION}
        return {**env, **LOCAL_FUNCTION_ENV, **aws}

    def own_env(self) -> dict[str, dict[str, str | None]]:
        """For hosting several functions in one process: by function, the variables whose values differ
        between the functions (WEBHOOK_SECRET_ID, the function's name...), None where it has none. Set
        them for each invocation over any one function's environment."""
        envs = {fn: self.function_env(fn) for fn in resources("AWS::Serverless::Function")}
        keys = {k for env in envs.values() for k in env}
        varying = {k for k in keys if len({env.get(k) for env in envs.values()}) > 1}
        return {fn: {k: env.get(k) for k in varying} for fn, env in envs.items()}

    # ------------------------------------------------------------------ inspection

    def ledger_items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        de = TypeDeserializer()
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.physical["LinksTable"]}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items += [{k: de.deserialize(v) for k, v in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def ledger_links(self) -> list[dict[str, Any]]:
        return [
            i
            for i in self.ledger_items()
            if str(i["pk"]).startswith("ISSUE#") and str(i["sk"]).startswith("TICKET#")
        ]

    def queue_messages(self, logical_id: str) -> list[dict[str, Any]]:
        """The messages now visible in a queue, bodies decoded. Receiving counts as a receive, so use it on
        the dead-letter queue (no redrive) rather than on the retry queue."""
        url = self.physical[logical_id]
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(20):
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            fresh = [m for m in got.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                break
            for msg in fresh:
                seen[msg["MessageId"]] = json.loads(msg["Body"])
        return list(seen.values())

    def queue_depth(self, logical_id: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.physical[logical_id],
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())


# ---------------------------------------------------------------------- loading handlers


_load_lock = threading.Lock()


def _layers_on_path() -> None:
    for path in LAYER_PATHS:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def _exec_handler_module(logical_id: str, name: str) -> ModuleType:
    props = function_template_props(logical_id)
    module_name = str(props["Handler"]).rsplit(".", 1)[0]
    spec = importlib.util.spec_from_file_location(
        name, ROOT / props["CodeUri"] / f"{module_name.replace('.', '/')}.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_handler(logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import a function's handler the way Lambda does: its CodeUri folder and the layers on sys.path."""
    props = function_template_props(logical_id)
    module_name, func_name = str(props["Handler"]).rsplit(".", 1)
    unique = f"_lambda_{logical_id}_{module_name}"
    with _load_lock:  # threads may ask at once; each must see a module that has finished executing
        _layers_on_path()
        module = sys.modules.get(unique)
        if module is None:
            module = _exec_handler_module(logical_id, unique)
            sys.modules[unique] = module
    return getattr(module, func_name)  # type: ignore[no-any-return]


def fresh_handler_module(logical_id: str) -> ModuleType:
    """A cold start: the function's handler module executed anew, as a new Lambda process would (its own
    globals: logger, cached services, idempotency store). Not registered in ``sys.modules``."""
    global _fresh_count
    with _load_lock:
        _layers_on_path()
        _fresh_count += 1
        name = f"_lambda_{logical_id}_cold{_fresh_count}"
    return _exec_handler_module(logical_id, name)


_fresh_count = 0


def handler_module(logical_id: str) -> ModuleType:
    load_handler(logical_id)
    props = {**globals_for("Function"), **resources("AWS::Serverless::Function")[logical_id]["Properties"]}
    return sys.modules[f"_lambda_{logical_id}_{str(props['Handler']).rsplit('.', 1)[0]}"]


@dataclass
class LambdaContext:
    """The context object Lambda passes to a handler."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def function_template_props(logical_id: str) -> dict[str, Any]:
    return {**globals_for("Function"), **resources("AWS::Serverless::Function")[logical_id]["Properties"]}


def context_for(logical_id: str) -> LambdaContext:
    props = function_template_props(logical_id)
    return LambdaContext(
        function_name=logical_id,
        memory_limit_in_mb=int(props.get("MemorySize", 128)),
        timeout_seconds=float(props.get("Timeout", 3)),
    )


# ---------------------------------------------------------------------- events as API Gateway and SQS send


def http_api_event(
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    query: str = "",
    base64_encode: bool = False,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload-2.0 event: lower-cased headers, raw body, base64 when binary."""
    lowered: dict[str, str] = {}
    for key, value in headers.items():
        k = key.lower()
        lowered[k] = f"{lowered[k]},{value}" if k in lowered else value
    text: str
    text = base64.b64encode(body).decode("ascii") if base64_encode else body.decode("utf-8")
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "queryStringParameters": _query_params(query) or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text,
        "isBase64Encoded": base64_encode,
    }


def _query_params(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    out: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event the SQS event source hands a function for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes", {})),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class DrainReport:
    batches: int = 0
    records: int = 0
    failures: int = 0
    errors: int = 0


def drain_queue(
    stack: LocalStack,
    invoke: Callable[[dict[str, Any]], Any],
    *,
    logical_id: str = "RetryQueue",
    batch_size: int = 10,
    max_batches: int = 200,
    idle_rounds: int = 2,
    failure_visibility: int = 0,
) -> DrainReport:
    """Poll a queue the way the SQS event source does and hand each batch to ``invoke``.

    Deletes the records the function did not report in ``batchItemFailures``; failed ones become visible
    again (after ``failure_visibility`` seconds) and SQS's redrive policy moves them to the DLQ once their
    receive count passes ``maxReceiveCount``. Stops when the queue stays empty for ``idle_rounds`` polls.
    """
    url = stack.physical[logical_id]
    arn = stack.queue_arn(logical_id)
    report = DrainReport()
    idle = 0
    while report.batches < max_batches and idle < idle_rounds:
        got = stack.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=batch_size,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
            VisibilityTimeout=30,
        )
        messages = got.get("Messages", [])
        if not messages:
            idle += 1
            if stack.queue_depth(logical_id):
                idle = 0
                time.sleep(0.2)
            continue
        idle = 0
        report.batches += 1
        report.records += len(messages)
        try:
            result = invoke(sqs_event(messages, arn)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # a function error: the event source retries the whole batch
            report.errors += 1
            failed = {m["MessageId"] for m in messages}
        report.failures += len(failed)
        for m in messages:
            if m["MessageId"] in failed:
                stack.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=failure_visibility
                )
            else:
                stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return report


def template_outputs() -> dict[str, Any]:
    return dict(load_template().get("Outputs", {}))


def apply_env(env: dict[str, str]) -> dict[str, str | None]:
    """Set variables in os.environ; returns the previous values for restore_env."""
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    return previous


def restore_env(previous: dict[str, str | None]) -> None:
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
