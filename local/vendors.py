"""A local sandbox of Zendesk's Jira links API, Zendesk's Tickets API and Jira's issue API.

It follows the documented shapes (Zendesk's "Jira links" API reference at
https://developer.zendesk.com/api-reference/ticketing/jira/links/, Jira Cloud REST v3):
state in memory, cursor pagination on the v2 list, since_id/limit on the deprecated list, 201/204/404
as documented, auth checked. Faults can be switched on for the next N calls or at a random rate, so
tests and local runs can drive every error path: 500, 503, 429 with Retry-After, slow answers,
dropped connections and "lost" answers (the change is applied, then the answer fails).

Runs in-process for tests (``with VendorSandbox() as sb: ...``) or as a process
(``python -m local.vendors --port 8081``); the ``/_sandbox/*`` routes seed and inspect it over HTTP.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.httpd import BackgroundServer

FAULT_KINDS = ("500", "503", "429", "slow", "drop", "lost_500", "lost_drop")
# Answers that are not transient: only on request (fail_next), never in a random fault mix.
PERMANENT_FAULT_KINDS = ("403",)

LINK_RE = re.compile(r"^/api/services/jira/links/(\d+)$")
TICKET_RE = re.compile(r"^/api/v2/tickets/(\d+)(?:\.json)?$")
ISSUE_RE = re.compile(r"^/rest/api/3/issue/([^/]+)$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Fault:
    kind: str
    path_prefix: str = ""
    method: str | None = None
    retry_after: int = 1

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and (self.method is None or self.method == method)


@dataclass
class RecordedCall:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    status: int | None = None
    fault: str | None = None


@dataclass
class SandboxState:
    links: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_link_id: int = 10001
    next_issue_id: int = 20001


class VendorSandbox:
    """Zendesk + Jira on 127.0.0.1. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        zendesk_email: str = "agent@example.com",
        zendesk_token: str = "zendesk-test-token",
        oauth_tokens: Iterable[str] = ("zendesk-oauth-token",),
        jira_email: str = "jira@example.com",
        jira_token: str = "jira-test-token",
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 2.0,
        allow_duplicates: bool = False,
    ) -> None:
        self.zendesk_email = zendesk_email
        self.zendesk_token = zendesk_token
        self.oauth_tokens = set(oauth_tokens)
        self.jira_email = jira_email
        self.jira_token = jira_token
        self.slow_seconds = slow_seconds
        self.allow_duplicates = allow_duplicates
        self.state = SandboxState()
        self.calls: list[RecordedCall] = []
        self.faults_injected: dict[str, int] = {}
        self._queued_faults: list[Fault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = FAULT_KINDS
        self._fault_prefix = "/api/"
        self._rng = random.Random(0)
        self._lock = threading.RLock()
        self._httpd = BackgroundServer(host, port, _make_handler(self), name="vendor-sandbox")
        self._server = self._httpd.server

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return self._httpd.url

    def start(self) -> VendorSandbox:
        self._httpd.start()
        return self

    def stop(self) -> None:
        self._httpd.stop()

    def __enter__(self) -> VendorSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ seeding and inspection

    def add_ticket(
        self, ticket_id: int | str, custom_fields: dict[str, Any] | None = None, status: str = "open"
    ) -> dict[str, Any]:
        with self._lock:
            ticket = {
                "id": int(ticket_id),
                "status": status,
                "subject": f"Ticket {ticket_id}",
                "custom_fields": [{"id": int(k), "value": v} for k, v in (custom_fields or {}).items()],
            }
            self.state.tickets[str(ticket_id)] = ticket
            return ticket

    def set_ticket_field(self, ticket_id: int | str, field_id: int | str, value: Any) -> None:
        with self._lock:
            ticket = self.state.tickets[str(ticket_id)]
            for item in ticket["custom_fields"]:
                if str(item["id"]) == str(field_id):
                    item["value"] = value
                    return
            ticket["custom_fields"].append({"id": int(field_id), "value": value})

    def delete_ticket(self, ticket_id: int | str) -> None:
        with self._lock:
            self.state.tickets.pop(str(ticket_id), None)

    def add_issue(self, key: str, issue_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            if issue_id is None:
                issue_id = str(self.state.next_issue_id)
                self.state.next_issue_id += 1
            issue = {"id": str(issue_id), "key": key, "fields": {}}
            self.state.issues[key] = issue
            return issue

    def delete_issue(self, key: str) -> None:
        with self._lock:
            self.state.issues.pop(key, None)

    def add_link(self, *, issue_id: str, issue_key: str, ticket_id: str) -> dict[str, Any]:
        """A link made outside the system under test (e.g. by an agent in Zendesk's Jira app)."""
        with self._lock:
            return self._insert_link(str(issue_id), issue_key, str(ticket_id))

    def links(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(link) for _, link in sorted(self.state.links.items())]

    def link_pairs(self) -> list[tuple[str, str]]:
        """(issue_id, ticket_id) for every link, sorted; duplicates show up twice."""
        return sorted((link["issue_id"], link["ticket_id"]) for link in self.links())

    def calls_to(self, method: str | None = None, path_prefix: str = "") -> list[RecordedCall]:
        with self._lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method) and c.path.startswith(path_prefix)
            ]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        kind: str,
        times: int = 1,
        *,
        path_prefix: str = "",
        method: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """The next ``times`` matching calls fail with ``kind`` (one of FAULT_KINDS)."""
        if kind not in FAULT_KINDS + PERMANENT_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._queued_faults.extend(Fault(kind, path_prefix, method, retry_after) for _ in range(times))

    def set_fault_rate(
        self, rate: float, *, kinds: Iterable[str] = FAULT_KINDS, seed: int = 0, path_prefix: str = "/api/"
    ) -> None:
        """Fail a random ``rate`` of the calls under ``path_prefix`` with one of ``kinds``."""
        with self._lock:
            self._fault_rate = rate
            self._fault_kinds = tuple(kinds)
            self._fault_prefix = path_prefix
            self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._queued_faults.clear()
            self._fault_rate = 0.0

    def _pick_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._queued_faults):
                if fault.matches(method, path):
                    return self._queued_faults.pop(i)
            if (
                self._fault_rate
                and path.startswith(self._fault_prefix)
                and self._rng.random() < self._fault_rate
            ):
                return Fault(self._rng.choice(self._fault_kinds), retry_after=1)
        return None

    # ------------------------------------------------------------------ the API itself

    def _insert_link(self, issue_id: str, issue_key: str, ticket_id: str) -> dict[str, Any]:
        link_id = self.state.next_link_id
        self.state.next_link_id += 1
        now = _now()
        link = {
            "id": link_id,
            "issue_id": issue_id,
            "issue_key": issue_key,
            "ticket_id": ticket_id,
            "created_at": now,
            "updated_at": now,
        }
        self.state.links[link_id] = link
        return link

    def _link_out(self, link: dict[str, Any], base: str) -> dict[str, Any]:
        return {**link, "url": f"{base}/api/services/jira/links/{link['id']}"}

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
        base: str,
    ) -> tuple[int, Any, dict[str, str]]:
        """Route one API request; returns (status, JSON body or None, extra headers)."""
        q = {k: v[-1] for k, v in query.items()}
        if path.startswith("/rest/api/"):
            if not self._jira_authorized(headers):
                return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
            m = ISSUE_RE.match(path)
            if m and method == "GET":
                with self._lock:
                    issue = self.state.issues.get(m.group(1))
                if issue is None:
                    return (
                        404,
                        {
                            "errorMessages": [
                                "Issue does not exist or you do not have permission to see it."
                            ],
                            "errors": {},
                        },
                        {},
                    )
                return (
                    200,
                    {
                        "id": issue["id"],
                        "key": issue["key"],
                        "self": f"{base}/rest/api/3/issue/{issue['id']}",
                        "fields": {},
                    },
                    {},
                )
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}

        if not self._zendesk_authorized(headers):
            return 401, {"error": "Couldn't authenticate you"}, {}
        with self._lock:
            if path == "/api/v2/jira/links" and method == "GET":
                return self._list_v2(q, base)
            if path == "/api/services/jira/links" and method == "GET":
                return self._list_deprecated(q, base)
            if path == "/api/services/jira/links" and method == "POST":
                return self._create(body, base)
            m = LINK_RE.match(path)
            if m and method == "GET":
                link = self.state.links.get(int(m.group(1)))
                if link is None:
                    return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
                return 200, {"link": self._link_out(link, base)}, {}
            if m and method == "DELETE":
                if self.state.links.pop(int(m.group(1)), None) is None:
                    return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
                return 204, None, {}
            m = TICKET_RE.match(path)
            if m and method == "GET":
                ticket = self.state.tickets.get(m.group(1))
                if ticket is None:
                    return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
                return 200, {"ticket": json.loads(json.dumps(ticket))}, {}
        return 404, {"error": "InvalidEndpoint", "description": "Not found"}, {}

    def _zendesk_authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:] in self.oauth_tokens
        return auth == _basic(f"{self.zendesk_email}/token", self.zendesk_token)

    def _jira_authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "") == _basic(self.jira_email, self.jira_token)

    def _create(self, body: Any, base: str) -> tuple[int, Any, dict[str, str]]:
        link = body.get("link") if isinstance(body, dict) else None
        missing = [
            k for k in ("issue_id", "issue_key", "ticket_id") if not isinstance(link, dict) or not link.get(k)
        ]
        if missing:
            return (
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {k: [{"description": f"{k} can't be blank"}] for k in missing},
                },
                {},
            )
        assert isinstance(link, dict)
        issue_id, ticket_id = str(link["issue_id"]), str(link["ticket_id"])
        if not self.allow_duplicates and any(
            x["issue_id"] == issue_id and x["ticket_id"] == ticket_id for x in self.state.links.values()
        ):
            return (
                422,
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"issue_id": [{"description": "Issue is already linked to this ticket"}]},
                },
                {},
            )
        created = self._insert_link(issue_id, str(link["issue_key"]), ticket_id)
        return 201, {"link": self._link_out(created, base)}, {}

    def _page_size(self, value: str | None) -> int:
        try:
            return max(1, min(1000, int(value))) if value else 1000
        except ValueError:
            return 1000

    def _list_v2(self, q: dict[str, str], base: str) -> tuple[int, Any, dict[str, str]]:
        size = self._page_size(q.get("page[size]"))
        after = int(q["page[after]"]) if q.get("page[after]", "").isdigit() else None
        ticket = q.get("filter[ticket_id]")
        rows = [
            link
            for _, link in sorted(self.state.links.items())
            if (ticket is None or link["ticket_id"] == ticket) and (after is None or link["id"] > after)
        ]
        page, has_more = rows[:size], len(rows) > size
        cursor = f"{base}/api/v2/jira/links?page[after]={page[-1]['id']}" if page else None
        return (
            200,
            {
                "links": [self._link_out(x, base) for x in page],
                "meta": {"after_cursor": cursor, "has_more": has_more},
            },
            {},
        )

    def _list_deprecated(self, q: dict[str, str], base: str) -> tuple[int, Any, dict[str, str]]:
        size = self._page_size(q.get("limit"))
        since = int(q["since_id"]) if q.get("since_id", "").isdigit() else None
        rows = [
            link
            for _, link in sorted(self.state.links.items())
            if (q.get("ticket_id") is None or link["ticket_id"] == q["ticket_id"])
            and (q.get("issue_id") is None or link["issue_id"] == q["issue_id"])
            and (since is None or link["id"] > since)
        ]
        return 200, {"links": [self._link_out(x, base) for x in rows[:size]]}, {}


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def _make_handler(sandbox: VendorSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Without it every answer waits ~40 ms for a delayed ACK (Nagle), which dwarfs the work.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def handle(self) -> None:
            # A client that timed out has gone away: that is the point of the "slow" fault, not an error.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Request-Id", f"sandbox-{len(sandbox.calls)}")
            self.end_headers()
            self.wfile.write(data)

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = parse_qs(parts.query, keep_blank_values=True)
            if parts.path.startswith("/_sandbox/"):
                self._control(parts.path, body)
                return
            call = RecordedCall(self.command, parts.path, query, body, headers)
            with sandbox._lock:
                sandbox.calls.append(call)
            fault = sandbox._pick_fault(self.command, parts.path)
            if fault:
                call.fault = fault.kind
                with sandbox._lock:
                    sandbox.faults_injected[fault.kind] = sandbox.faults_injected.get(fault.kind, 0) + 1
            base = f"http://{self.headers.get('Host') or sandbox.url.split('://', 1)[1]}"
            if fault and fault.kind in ("500", "503"):
                call.status = int(fault.kind)
                self._reply(call.status, {"error": "ServiceUnavailable", "description": "injected fault"})
                return
            if fault and fault.kind == "403":
                call.status = 403
                self._reply(
                    403, {"error": "Forbidden", "description": "You do not have access to this page."}
                )
                return
            if fault and fault.kind == "429":
                call.status = 429
                self._reply(429, {"error": "TooManyRequests"}, {"Retry-After": str(fault.retry_after)})
                return
            if fault and fault.kind == "drop":
                self._drop()
                return
            if fault and fault.kind == "slow":
                time.sleep(sandbox.slow_seconds)
            status, payload, extra = sandbox.handle(self.command, parts.path, query, body, headers, base)
            call.status = status
            if fault and fault.kind == "lost_500":
                call.status = 500
                self._reply(500, {"error": "InternalError", "description": "injected fault after apply"})
                return
            if fault and fault.kind == "lost_drop":
                self._drop()
                return
            self._reply(status, payload, extra)

        def _control(self, path: str, body: Any) -> None:
            body = body if isinstance(body, dict) else {}
            if path == "/_sandbox/state":
                with sandbox._lock:
                    self._reply(
                        200,
                        {
                            "links": sandbox.links(),
                            "tickets": list(sandbox.state.tickets.values()),
                            "issues": list(sandbox.state.issues.values()),
                            "calls": len(sandbox.calls),
                            "faults_injected": sandbox.faults_injected,
                        },
                    )
            elif path == "/_sandbox/tickets":
                self._reply(
                    201, sandbox.add_ticket(body["id"], body.get("custom_fields"), body.get("status", "open"))
                )
            elif path == "/_sandbox/issues":
                self._reply(201, sandbox.add_issue(body["key"], body.get("id")))
            elif path == "/_sandbox/faults":
                sandbox.fail_next(
                    body["kind"],
                    int(body.get("times", 1)),
                    path_prefix=body.get("path_prefix", ""),
                    method=body.get("method"),
                )
                self._reply(204, None)
            elif path == "/_sandbox/reset":
                with sandbox._lock:
                    sandbox.state = SandboxState()
                    sandbox.calls.clear()
                    sandbox.clear_faults()
                self._reply(204, None)
            else:
                self._reply(404, {"error": "unknown sandbox route"})

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    sandbox = VendorSandbox(port=args.port)
    print(f"vendor sandbox on {sandbox.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sandbox._server.serve_forever()


if __name__ == "__main__":
    main()
