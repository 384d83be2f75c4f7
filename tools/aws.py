"""The AWS session of our command-line tools (`linksync`, `make secret`): one place that picks the region
the way the AWS CLI does and says in one line what is missing or wrong."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

# No call of our tools may hang: short connect timeouts, few retries.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


class AwsSetupError(Exception):
    """Something about the caller's AWS set-up they must fix; the message is the one line they see."""


def session(region: str | None = None) -> tuple[Any, str]:
    """(session, region): ``region``, else ``AWS_REGION`` (which boto3 alone ignores: it reads
    ``AWS_DEFAULT_REGION`` and the profile), else the profile's; with credentials found."""
    try:
        chosen = boto3.session.Session(region_name=region or os.environ.get("AWS_REGION") or None)
        credentials = chosen.get_credentials()
    except BotoCoreError as e:
        raise AwsSetupError(f"AWS configuration: {e}") from None
    if not chosen.region_name:
        raise AwsSetupError(
            "no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1), pass --region where the tool has "
            "it, or set a region in your AWS profile"
        )
    if credentials is None:
        raise AwsSetupError(
            "no AWS credentials: configure them as for the AWS CLI (aws configure, aws sso login, "
            "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        )
    return chosen, str(chosen.region_name)


def explain(action: str, error: Exception, region: str) -> str:
    """One line for a failed AWS call: a region that cannot be reached is named as such."""
    if isinstance(error, EndpointConnectionError):
        return f"{action}: cannot reach AWS in region {region!r}: check AWS_REGION / --region"
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{action}: {detail.get('Code', 'error')}: {detail.get('Message', '')}".rstrip(": ")
    return f"{action}: {error}"
