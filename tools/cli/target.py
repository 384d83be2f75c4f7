"""Which stack the CLI talks to: a deployed one (by CloudFormation stack name, its outputs read once) or the
local one `make serve` runs (it writes where it listens to ``.aws-sam/local-stack.json``).

Every way this can go wrong (no such stack, no credentials, an unknown region, a local stack that is not
running) ends as a :class:`CliError` with one line saying what to do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from local.state_file import STATE_FILE
from tools import aws
from tools.aws import CLIENT_CONFIG

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class CliError(Exception):
    """Something the operator must fix; the message is the one line they see."""


@dataclass
class Target:
    """A stack's outputs and the clients to reach it."""

    name: str
    region: str
    outputs: dict[str, str]
    parameters: dict[str, str] = field(default_factory=dict)
    local: bool = False
    aws_endpoint: str | None = None
    lambda_endpoint: str | None = None
    _session: Any = field(default=None, repr=False)

    def client(self, service: str) -> Any:
        endpoint = self.lambda_endpoint if service == "lambda" else self.aws_endpoint
        kwargs: dict[str, Any] = {"region_name": self.region, "config": CLIENT_CONFIG}
        if self.local:
            kwargs |= {"endpoint_url": endpoint, **LOCAL_CREDENTIALS}
        session = self._session or boto3.session.Session()
        return session.client(service, **kwargs)  # type: ignore[call-overload]  # any service by name

    def parameter(self, name: str) -> str:
        value = self.parameters.get(name)
        if not value:
            raise CliError(f"the stack {self.name!r} has no parameter {name}")
        return value

    def vendors(self) -> tuple[Any, Any]:
        """Zendesk and Jira clients with the stack's own secret (the operator must be allowed to read it)."""
        from linksync import jira, zendesk
        from linksync.config import Secrets
        from linksync.errors import ConfigError

        name = self.parameter("SecretName")
        try:
            raw = self.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
            secrets = Secrets.from_mapping(json.loads(raw))
        except ClientError as e:
            raise CliError(f"could not read the secret {name!r}: {e.response['Error'].get('Code')}") from None
        except (ValueError, ConfigError) as e:
            raise CliError(f"the secret {name!r} is not usable: {e}") from None
        return (
            zendesk.ZendeskClient(
                self.parameter("ZendeskBaseUrl"),
                zendesk.api_token_auth(secrets.zendesk_email, secrets.zendesk_api_token),
            ),
            jira.JiraClient(
                self.parameter("JiraBaseUrl"), jira.api_token_auth(secrets.jira_email, secrets.jira_api_token)
            ),
        )

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not value:
            raise CliError(
                f"the stack {self.name!r} has no output {name}: deploy this version first (make deploy)"
            )
        return value

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")


def local_target(state_file: Path = STATE_FILE) -> Target:
    """The stack `make serve` runs, from the file it writes while it runs."""
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise CliError(
            "no local stack is running: start it with `make serve` (or name a deployed one with --stack)"
        ) from None
    except ValueError:
        raise CliError(f"{state_file} is not valid JSON: stop and restart `make serve`") from None
    if not _alive(int(state.get("pid", 0))):
        raise CliError(f"the local stack that wrote {state_file} is gone: start it again with `make serve`")
    return Target(
        name="local",
        region=state["region"],
        outputs=dict(state["outputs"]),
        parameters=dict(state.get("parameters", {})),
        local=True,
        aws_endpoint=state["aws_endpoint"],
        lambda_endpoint=state["lambda_endpoint"],
    )


def deployed_target(stack: str, region: str | None) -> Target:
    """A deployed stack by name; its outputs name the table, queues, function and state machine."""
    try:
        session, region = aws.session(region)
    except aws.AwsSetupError as e:
        raise CliError(str(e)) from None
    try:
        cloudformation = session.client("cloudformation", config=CLIENT_CONFIG)
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as e:
        message = e.response.get("Error", {}).get("Message", str(e))
        if "does not exist" in message:
            raise CliError(f"no stack named {stack!r} in {region}") from None
        raise CliError(aws.explain(f"could not read the stack {stack!r}", e, region)) from None
    except BotoCoreError as e:
        raise CliError(aws.explain("could not reach CloudFormation", e, region)) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    return Target(name=stack, region=region, outputs=outputs, parameters=parameters, _session=session)


def choose(stack: str | None, region: str | None, local: bool) -> Target:
    if stack and local:
        raise CliError("choose one: --stack NAME (deployed) or --local (make serve)")
    if stack:
        return deployed_target(stack, region)
    return local_target()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
