"""`make send EVENT=events/<file>`: sign a sample event afresh and POST it to the local gateway.

Reads an API Gateway v2 event file, takes its route, headers and body, signs the body again (a fresh
Zendesk timestamp; a new Jira delivery id unless ``--keep-id``), and prints the answer. Secrets: the
local defaults, or ``JIRA_WEBHOOK_SECRET`` / ``ZENDESK_WEBHOOK_SECRET`` from the environment.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import requests

from local import payloads

SIGNATURE_HEADERS = (
    "x-hub-signature",
    "x-zendesk-webhook-signature",
    "x-zendesk-webhook-signature-timestamp",
)


def request_from_event(
    event: dict[str, Any], *, keep_id: bool = False
) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) for an event file, signed afresh."""
    method, path = str(event["routeKey"]).split(" ", 1)
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() not in SIGNATURE_HEADERS}
    if path.endswith("/jira"):
        secret = os.environ.get("JIRA_WEBHOOK_SECRET", payloads.SECRET_VALUES["jira_webhook_secret"])
        delivery = headers.get("x-atlassian-webhook-identifier") if keep_id else None
        headers.pop("x-atlassian-webhook-identifier", None)
        _, signed = payloads.signed_jira(raw, secret=secret, delivery_id=delivery)
    else:
        secret = os.environ.get("ZENDESK_WEBHOOK_SECRET", payloads.SECRET_VALUES["zendesk_webhook_secret"])
        _, signed = payloads.signed_zendesk(raw, secret=secret)
    return method, path, raw, {**headers, **signed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sign and send an events/ file to the local gateway")
    parser.add_argument("event", type=Path)
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--keep-id", action="store_true", help="reuse the Jira delivery id (a replay)")
    args = parser.parse_args(argv)
    if not args.event.is_file():
        print(f"no such event file: {args.event} (see events/)", file=sys.stderr)
        return 2
    method, path, raw, headers = request_from_event(json.loads(args.event.read_text()), keep_id=args.keep_id)
    try:
        answer = requests.request(method, args.url.rstrip("/") + path, data=raw, headers=headers, timeout=30)
    except requests.ConnectionError:
        print(f"nothing answers at {args.url}: start it with `make serve`", file=sys.stderr)
        return 2
    print(f"{method} {path} -> {answer.status_code}")
    print(json.dumps(answer.json(), indent=2) if answer.content else "")
    return 0 if answer.status_code < 500 else 1


if __name__ == "__main__":
    sys.exit(main())
