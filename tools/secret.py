"""`make secret`: create or update the Secrets Manager secret the functions read (``SECRET_ID``).

Each value comes from the environment (``ZENDESK_EMAIL``, ``ZENDESK_API_TOKEN``, ``ZENDESK_WEBHOOK_SECRET``,
``JIRA_EMAIL``, ``JIRA_API_TOKEN``, ``JIRA_WEBHOOK_SECRET``) or, on a terminal, from a prompt that does not
echo tokens and secrets. Values are never printed. Uses your usual AWS credentials and region (boto3).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import boto3

from linksync.config import SECRET_KEYS

VISIBLE = ("zendesk_email", "jira_email")


def gather(env: dict[str, str], ask: Callable[[str, bool], str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    missing: list[str] = []
    for key in SECRET_KEYS:
        value = env.get(key.upper(), "")
        if not value and ask is not None:
            value = ask(key, key not in VISIBLE)
        if not value:
            missing.append(key.upper())
        values[key] = value
    if missing:
        raise SystemExit(f"missing values (set them in the environment): {', '.join(missing)}")
    return values


def prompt(key: str, hidden: bool) -> str:
    label = f"{key.replace('_', ' ')}: "
    return getpass.getpass(label) if hidden else input(label)


def put_secret(name: str, values: dict[str, str], client: Any) -> str:
    """Create the secret, or add a new version if it exists. Returns 'created' or 'updated'."""
    body = json.dumps(values)
    try:
        client.create_secret(
            Name=name,
            SecretString=body,
            Description="zendesk-jira-linksync: API tokens and webhook signing secrets",
        )
        return "created"
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=body)
        return "updated"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="create or update the linksync secret")
    parser.add_argument("--name", default=os.environ.get("SECRET_NAME", "zendesk-jira-linksync"))
    args = parser.parse_args(argv)
    ask = prompt if sys.stdin.isatty() else None
    values = gather(dict(os.environ), ask)
    action = put_secret(args.name, values, boto3.client("secretsmanager"))
    print(f"{action} secret {args.name} with keys: {', '.join(SECRET_KEYS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
