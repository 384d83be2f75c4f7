"""The baseline for timings: the calls a window recorded, made again directly with boto3 and requests."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from local.stack import REGION
from local.vendors import RecordedCall, VendorSandbox
from tools.bench.config import HARNESS_OPS
from tools.bench.probe import AwsCall, Tally, route

Step = tuple[str, Any]  # ("aws", (service, method, params)) or ("http", (vendor, method, path, query, body))


def subst(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string in it, dictionary keys included."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {(fn(k) if isinstance(k, str) else k): subst(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [subst(v, fn) for v in value]
    return value


class Replayer:
    """The baseline: the same DynamoDB, SQS, Zendesk and Jira calls, made directly with boto3 and requests
    (clients from the same default session, so the same hooks run on both sides)."""

    def __init__(self, moto_url: str, sandbox: VendorSandbox) -> None:
        import boto3
        import requests

        self.base = sandbox.url
        self.clients = {
            service: boto3.client(
                service,
                endpoint_url=moto_url,
                region_name=REGION,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            for service in ("dynamodb", "sqs")
        }
        self.sessions = {"zendesk": requests.Session(), "jira": requests.Session()}
        self.auth = {
            "zendesk": (f"{sandbox.zendesk_email}/token", sandbox.zendesk_token),
            "jira": (sandbox.jira_email, sandbox.jira_token),
        }
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        for client in self.clients.values():
            client.close()

    def replays(self, call: AwsCall) -> bool:
        """Whether ``call`` is one of the functions' calls (not the harness's) on a service replayed."""
        return call.op not in HARNESS_OPS and call.service in self.clients

    def plan(self, tally: Tally, fn: Callable[[str], str]) -> list[Step]:
        """The window's calls in the order they were made, with ``fn`` applied to every string."""
        from botocore import xform_name

        steps: list[Step] = []
        v = 0
        vendor = tally.vendor
        for call in tally.aws_log:
            if not self.replays(call):
                continue
            while v < len(vendor) and tally.vendor_start + v < call.vendor_before:
                steps.append(_http_step(vendor[v], fn))
                v += 1
            steps.append(("aws", (call.service, xform_name(call.operation), subst(call.params, fn))))
        steps += [_http_step(c, fn) for c in vendor[v:]]
        return steps

    def run(self, steps: list[Step]) -> None:
        for kind, step in steps:
            if kind == "aws":
                self._aws(*step)
            else:
                self._http(*step)

    def _aws(self, service: str, method: str, params: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            getattr(self.clients[service], method)(**params)
        except ClientError as e:
            with self._lock:
                self.errors[f"{service}.{method} {e.response.get('Error', {}).get('Code')}"] += 1

    def _http(self, vendor_name: str, method: str, path: str, query: Any, body: Any) -> None:
        answer = self.sessions[vendor_name].request(
            method,
            self.base + path,
            params=query or None,
            json=body,
            auth=self.auth[vendor_name],
            timeout=(3.05, 5.0),
        )
        answer.content  # noqa: B018  # read the body, as the clients do
        if answer.status_code >= 300:
            with self._lock:
                self.errors[f"{method} {route(path)} {answer.status_code}"] += 1


def _http_step(call: RecordedCall, fn: Callable[[str], str]) -> Step:
    vendor_name = "jira" if call.path.startswith("/rest/") else "zendesk"
    return ("http", (vendor_name, call.method, fn(call.path), subst(call.query, fn), subst(call.body, fn)))
