"""`make secret`: create or update the Secrets Manager secrets the functions read.

Three secrets, each read only by the functions that need it (the template's ``SecretName``,
``JiraWebhookSecretName`` and ``ZendeskWebhookSecretName``): the API credentials (``<name>``), the Jira
webhook's signing secret (``<name>-jira-webhook``) and the Zendesk webhook's (``<name>-zendesk-webhook``),
``<name>`` being ``--name`` / ``SECRET_NAME`` (default ``zendesk-jira-linksync``).

Each value comes from the environment (``ZENDESK_EMAIL``, ``ZENDESK_API_TOKEN``, ``ZENDESK_WEBHOOK_SECRET``,
``JIRA_EMAIL``, ``JIRA_API_TOKEN``, ``JIRA_WEBHOOK_SECRET``) or, on a terminal, from a prompt that does not
echo tokens and secrets (Enter keeps what is stored). Values given are merged into what the secrets hold,
so a later run needs only what changes, e.g. the webhook signing secrets once the webhooks exist; keys
that are not ours are kept. A secret written by version 0.1.0, which held all six values in one, is split:
its signing secrets move to their own secrets. The secrets may be created with some values missing: it
says which, and the functions refuse work until they are set. Values are never printed. Uses your usual
AWS credentials and region (boto3), and says which account and region it wrote to; without a region or
credentials it says so in one line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import botocore.exceptions

from linksync.config import SECRET_KEYS, SECRET_LAYOUT
from tools import aws

VISIBLE = ("zendesk_email", "jira_email")
WHAT = {
    "SecretName": "API credentials",
    "JiraWebhookSecretName": "Jira webhook signing secret",
    "ZendeskWebhookSecretName": "Zendesk webhook signing secret",
}
# What the webhooks answer while a value is missing (linksync.webhook, a ConfigError): senders retry it.
MISSING_ANSWER = 'HTTP 503 "the function is misconfigured"'

Ask = Callable[[str, bool, bool], str]


class SecretError(Exception):
    """Why nothing was written, in one line."""


def gather(env: dict[str, str], ask: Ask | None, stored: dict[str, str] | None = None) -> dict[str, str]:
    """The values given this time: from the environment, else from ``ask(key, hidden, has_value)`` on a
    terminal; a blank answer gives nothing (the stored value stays)."""
    stored = stored or {}
    given: dict[str, str] = {}
    for key in SECRET_KEYS:
        value = env.get(key.upper(), "")
        if not value and ask is not None:
            value = ask(key, key not in VISIBLE, bool(stored.get(key)))
        if value:
            given[key] = value
    return given


def prompt(key: str, hidden: bool, has_value: bool) -> str:
    keep = "Enter keeps the stored value" if has_value else "Enter leaves it unset for now"
    label = f"{key.replace('_', ' ')} ({keep}): "
    return getpass.getpass(label) if hidden else input(label)


def missing_keys(values: dict[str, Any]) -> list[str]:
    return [k for k in SECRET_KEYS if not (isinstance(values.get(k), str) and values.get(k))]


def _aws_error(action: str, e: Exception, region: str = "") -> SecretError:
    return SecretError(aws.explain(action, e, region))


def aws_session() -> tuple[Any, str, str]:
    """(session, account, region) for the caller's credentials and region, or a SecretError saying what is
    missing or wrong."""
    try:
        session, region = aws.session()
    except aws.AwsSetupError as e:
        raise SecretError(f"{e} (e.g. AWS_REGION=eu-west-1 make secret)") from None
    try:
        sts = session.client("sts", config=aws.CLIENT_CONFIG)
        account = str(sts.get_caller_identity()["Account"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise _aws_error("the AWS credentials do not work (STS GetCallerIdentity)", e, region) from None
    return session, account, region


def read_secret(client: Any, name: str) -> dict[str, Any] | None:
    """The secret's current JSON object, or None when there is no such secret."""
    try:
        current = client.get_secret_value(SecretId=name)
    except client.exceptions.ResourceNotFoundException:
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise _aws_error(f"cannot read secret {name}", e) from None
    try:
        data = json.loads(current.get("SecretString") or "")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SecretError(
            f"secret {name} does not hold a JSON object; fix or delete it in the console, or use another "
            "name (SECRET_NAME=...)"
        )
    return data


def put_secret(name: str, values: dict[str, Any], client: Any, *, exists: bool, what: str) -> str:
    """Create the secret, or add a new version to it. Returns 'created' or 'updated'."""
    body = json.dumps(values)
    try:
        if not exists:
            try:
                client.create_secret(
                    Name=name, SecretString=body, Description=f"zendesk-jira-linksync: {what}"
                )
                return "created"
            except client.exceptions.ResourceExistsException:
                raise SecretError(
                    f"secret {name} was created meanwhile by someone else; run make secret again"
                ) from None
        client.put_secret_value(SecretId=name, SecretString=body)
        return "updated"
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise _aws_error(f"cannot write secret {name}", e) from None


def secret_names(base: str) -> dict[str, str]:
    """Each secret's name, by the template parameter that names it, as the template's defaults do."""
    return {parameter: base + suffix for parameter, (suffix, _) in SECRET_LAYOUT.items()}


def _stored_values(stored: dict[str, dict[str, Any] | None]) -> dict[str, str]:
    """Every value as stored now: in its own secret, else (0.1.0's layout) in the credentials secret."""
    legacy = stored["SecretName"] or {}
    values: dict[str, str] = {}
    for parameter, (_, keys) in SECRET_LAYOUT.items():
        own = stored[parameter] or {}
        for key in keys:
            value = own.get(key) or legacy.get(key)
            if isinstance(value, str) and value:
                values[key] = value
    return values


def run(name: str, env: dict[str, str], ask: Ask | None, out: Callable[[str], None]) -> int:
    session, account, region = aws_session()
    client = session.client("secretsmanager", config=aws.CLIENT_CONFIG)
    names = secret_names(name)
    stored = {parameter: read_secret(client, secret) for parameter, secret in names.items()}
    known = _stored_values(stored)
    given = gather(env, ask, known)
    where = f"account {account}, region {region}"
    if os.environ.get("AWS_ENDPOINT_URL"):
        where += f", endpoint {os.environ['AWS_ENDPOINT_URL']}"
    if not given and all(current is None for current in stored.values()):
        raise SecretError(
            f"nothing to write: secret {name} does not exist in {where} and no value was given; set "
            f"{', '.join(k.upper() for k in SECRET_KEYS)} in the environment (any of them)"
        )
    out(f"secrets in {where}:")
    merged = {**known, **given}
    for parameter in SECRET_LAYOUT:
        out("  " + _write_one(client, parameter, names[parameter], stored[parameter], merged, given))
    missing = missing_keys(merged)
    if missing:
        out(
            f"  still missing: {', '.join(missing)}. Until they are set the functions that need them refuse "
            f"every event (the webhooks answer {MISSING_ANSWER}); run it again with just those, e.g. "
            f"{missing[0].upper()}=... make secret"
        )
    else:
        out("  all six values are set")
    return 0


def _write_one(
    client: Any,
    parameter: str,
    name: str,
    current: dict[str, Any] | None,
    merged: dict[str, str],
    given: dict[str, str],
) -> str:
    """Bring one secret to its share of ``merged`` (keys not ours kept); the line that says what it did."""
    keys = SECRET_LAYOUT[parameter][1]
    body = {**(current or {}), **{k: merged.get(k, "") for k in keys}}
    # 0.1.0 kept the signing secrets in the credentials secret: they now live in their own secrets.
    moved = [k for k in SECRET_KEYS if k not in keys and k in body] if parameter == "SecretName" else []
    for key in moved:
        del body[key]
    action = "unchanged"
    if body != current:
        action = put_secret(name, body, client, exists=current is not None, what=WHAT[parameter])
    set_now = [k for k in keys if k in given]
    detail = f"set now: {', '.join(set_now)}" if set_now else "nothing new"
    if moved:
        detail += f"; moved out: {', '.join(moved)}"
    return f"{action} {name} ({WHAT[parameter]}): {detail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="create or update the linksync secrets")
    parser.add_argument(
        "--name",
        default=os.environ.get("SECRET_NAME") or "zendesk-jira-linksync",
        help="the credentials secret; the webhook secrets are named after it (%(default)s-jira-webhook, ...)",
    )
    args = parser.parse_args(argv)
    ask = prompt if sys.stdin.isatty() else None
    try:
        return run(args.name, dict(os.environ), ask, print)
    except SecretError as e:
        print(f"make secret: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("\nmake secret: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
