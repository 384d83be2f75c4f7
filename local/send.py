"""`make send EVENT=events/<file>`: sign a sample event afresh and POST it to the local gateway.

Reads an API Gateway v2 event file, takes its route, headers and body, and signs the body again with a
fresh Zendesk timestamp. Each send is a new delivery: a new Jira delivery id
(``X-Atlassian-Webhook-Identifier``) and Jira ``timestamp`` (now), a new Zendesk event ``id``, so the
function does the work again instead of answering from its idempotency record; ``--replay`` (make's
``REPLAY=1``) sends the file's body and ids as they are, to see exactly that. Prints the answer and exits
non-zero when it is a 4xx or 5xx. Secrets: the local defaults, or ``JIRA_WEBHOOK_SECRET`` /
``ZENDESK_WEBHOOK_SECRET`` from the environment.

Events that are not HTTP requests (the SQS batch of the retry worker, a scheduled reconcile) are refused
with the `make invoke` command that runs them.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from local import payloads
from local.template import resources

SIGNATURE_HEADERS = (
    "x-hub-signature",
    "x-zendesk-webhook-signature",
    "x-zendesk-webhook-signature-timestamp",
)


class NotAnHttpEvent(ValueError):  # noqa: N818 - what the user is told
    """The event file is not an API Gateway HTTP API event: what it is, and which function takes it."""

    def __init__(self, kind: str, function: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.function = function


def _function_for(event_type: str) -> str:
    """The template's function that takes events of ``event_type`` (an event source type, e.g. SQS)."""
    for name, res in resources("AWS::Serverless::Function").items():
        if any(e.get("Type") == event_type for e in res["Properties"].get("Events", {}).values()):
            return str(name)
    return "<LogicalId>"


def route_of(event: Any) -> tuple[str, str]:
    """(method, path) of an HTTP API event; NotAnHttpEvent for anything else."""
    if not isinstance(event, dict):
        raise NotAnHttpEvent("not an API Gateway event", "<LogicalId>")
    route = event.get("routeKey")
    if isinstance(route, str) and " " in route:
        method, path = route.split(" ", 1)
        return method, path
    records = event.get("Records")
    first = records[0] if isinstance(records, list) and records else None
    if isinstance(first, dict) and first.get("eventSource") == "aws:sqs":
        raise NotAnHttpEvent("an SQS event", _function_for("SQS"))
    if event.get("source") == "aws.events" or "mode" in event:
        raise NotAnHttpEvent("a scheduled (reconcile) event", _function_for("Schedule"))
    raise NotAnHttpEvent("not an API Gateway HTTP API event", "<LogicalId>")


def fresh_jira_timestamp(raw: bytes) -> bytes:
    """The body with Jira's ``timestamp`` moved to now: a delivery of the event as if it happened now (the
    samples' fixed timestamps would be refused as old replays)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    if not (isinstance(body, dict) and isinstance(body.get("timestamp"), int)):
        return raw
    return json.dumps({**body, "timestamp": int(time.time() * 1000)}).encode()


def fresh_zendesk_id(raw: bytes) -> bytes:
    """The body with a new Zendesk event ``id`` when it is an event-subscription body (a trigger body has
    none: it is sent as it is)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    if not (isinstance(body, dict) and "type" in body and "id" in body):
        return raw
    return json.dumps({**body, "id": str(uuid.uuid4())}).encode()


def request_from_event(
    event: dict[str, Any], *, replay: bool = False
) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) for an event file, signed afresh; new delivery ids unless ``replay``."""
    method, path = route_of(event)
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in SIGNATURE_HEADERS}
    if path.endswith("/jira"):
        secret = os.environ.get("JIRA_WEBHOOK_SECRET", payloads.SECRET_VALUES["jira_webhook_secret"])
        if not replay:
            raw = fresh_jira_timestamp(raw)
        delivery = headers.get("x-atlassian-webhook-identifier") if replay else None
        headers.pop("x-atlassian-webhook-identifier", None)
        _, signed = payloads.signed_jira(raw, secret=secret, delivery_id=delivery)
    else:
        secret = os.environ.get("ZENDESK_WEBHOOK_SECRET", payloads.SECRET_VALUES["zendesk_webhook_secret"])
        if not replay:
            raw = fresh_zendesk_id(raw)
        _, signed = payloads.signed_zendesk(raw, secret=secret)
    return method, path, raw, {**headers, **signed}


def _render(answer: requests.Response) -> str:
    try:
        return json.dumps(answer.json(), indent=2)
    except ValueError:
        return answer.text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sign and send an events/ file to the local gateway")
    parser.add_argument("event", type=Path)
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:3000"))
    parser.add_argument(
        "--replay",
        "--keep-id",
        action="store_true",
        help="resend the file's Jira delivery id / Zendesk event id (answered from the idempotency record)",
    )
    args = parser.parse_args(argv)
    if not args.event.is_file():
        print(f"send: no such event file: {args.event} (see events/)", file=sys.stderr)
        return 2
    try:
        event = json.loads(args.event.read_text())
        method, path, raw, headers = request_from_event(event, replay=args.replay)
    except ValueError as e:
        if isinstance(e, NotAnHttpEvent):
            print(
                f"send: {args.event} is {e.kind}, not an HTTP request, so it cannot be sent to the gateway: "
                f"run it with make invoke FUNCTION={e.function} EVENT={args.event}",
                file=sys.stderr,
            )
        else:
            print(f"send: {args.event} is not a JSON event file: {e}", file=sys.stderr)
        return 2
    try:
        answer = requests.request(method, args.url.rstrip("/") + path, data=raw, headers=headers, timeout=30)
    except requests.ConnectionError:
        print(
            f"send: nothing answers at {args.url}: start it with `make serve` (PORT=... if moved)",
            file=sys.stderr,
        )
        return 2
    except requests.Timeout:
        print(f"send: {args.url} did not answer within 30 s", file=sys.stderr)
        return 2
    print(f"{method} {path} -> {answer.status_code}")
    print(_render(answer) if answer.content else "")
    if answer.status_code >= 400:
        print(f"send: the answer is HTTP {answer.status_code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
