"""A local sandbox of Zendesk's Jira links API, Zendesk's Tickets API and Jira's issue and search APIs.

It follows the documented shapes (Zendesk's "Jira links" API reference at
https://developer.zendesk.com/api-reference/ticketing/jira/links/, Zendesk's incremental exports, Jira
Cloud REST v2 and v3): state in memory, cursor pagination on the v2 list, since_id/limit on the deprecated
list (``limit`` capped at ``deprecated_limit_cap``, 1000 by default), 201/204/404 as documented, auth
checked (schemes in any case, as HTTP defines them). It answers real clients as well as ours: ``.json``
suffixes on every Zendesk route (zenpy sends them), ``filter[...]`` parameters other than
``filter[ticket_id]`` and out-of-range ``page[size]``/``page[after]`` refused with 400 (never ignored: an
ignored filter lists every link), 405 with ``Allow`` for a method a known path does not serve, and Jira's
``serverInfo`` and ``field`` (pycontribs ``jira`` reads them). Jira's enhanced search
(``/rest/api/{2,3}/search/jql``, a small JQL subset) is in ``local.vendors_jira``; the cursor-based
incremental ticket export (with its one-minute lag and 10 requests a minute) in ``local.vendors_zendesk``.
Faults can be switched on for the next N calls or at a random rate, so tests and local runs can drive every
error path: 500, 503, 429 with Retry-After, slow answers, dropped connections and "lost" answers (the
change is applied, then the answer fails).

Time comes from ``clock`` (``time.time`` by default) plus whatever ``advance(seconds)`` added, so tests
move time forward without sleeping: it stamps tickets' ``updated_at``, issues' ``updated``, links'
``created_at``, the export's one-minute lag and its rate window.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local import vendors_jira as jira
from local import vendors_zendesk as zd
from local.httpd import BackgroundServer

FAULT_KINDS = ("500", "503", "429", "slow", "drop", "lost_500", "lost_drop")
# Answers that are not transient: only on request (fail_next), never in a random fault mix.
PERMANENT_FAULT_KINDS = ("403",)

Reply = tuple[int, Any, dict[str, str]]
NOT_FOUND: Reply = (404, {"error": "RecordNotFound", "description": "Not found"}, {})
JIRA_NOT_FOUND: Reply = (
    404,
    {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}},
    {},
)
ZENDESK_NO_ROUTE: Reply = (404, {"error": "InvalidEndpoint", "description": "Not found"}, {})
ZENDESK_NOT_ALLOWED: Reply = (405, {"error": "MethodNotAllowed", "description": "Method not allowed"}, {})
JIRA_NO_ROUTE: Reply = (404, {"errorMessages": ["Not found"], "errors": {}}, {})
JIRA_NOT_ALLOWED: Reply = (405, {"errorMessages": ["Method not allowed"], "errors": {}}, {})


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
    # Deleted tickets stay here with status "deleted" (the export still lists them; GET answers 404).
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # By key: {"id", "key", "fields": {...}, "updated": epoch ms}.
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_link_id: int = 10001
    next_issue_id: int = 20001


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    base: str
    match: re.Match[str] | None = None

    @property
    def q(self) -> dict[str, str]:
        """Each query parameter's last value."""
        return {k: v[-1] for k, v in self.query.items()}

    def group(self, n: int = 1) -> str:
        assert self.match is not None
        return self.match.group(n)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[Request], Reply]


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
        clock: Callable[[], float] = time.time,
        export_requests_per_minute: int = zd.EXPORT_REQUESTS_PER_MINUTE,
        deprecated_limit_cap: int = zd.LINKS_MAX_PAGE_SIZE,
    ) -> None:
        self.zendesk_email = zendesk_email
        self.zendesk_token = zendesk_token
        self.oauth_tokens = set(oauth_tokens)
        self.jira_email = jira_email
        self.jira_token = jira_token
        self.slow_seconds = slow_seconds
        self.allow_duplicates = allow_duplicates
        # The most links one page of GET /api/services/jira/links holds, whatever `limit` asks for.
        self.deprecated_limit_cap = deprecated_limit_cap
        self.state = SandboxState()
        self.calls: list[RecordedCall] = []
        self.faults_injected: dict[str, int] = {}
        self._clock = clock
        self._offset = 0.0
        self.export_window = zd.RateWindow(export_requests_per_minute)
        self._queued_faults: list[Fault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = FAULT_KINDS
        self._fault_prefix = "/api/"
        self._rng = random.Random(0)
        self._lock = threading.RLock()
        self._zendesk_routes = self._make_zendesk_routes()
        self._jira_routes = self._make_jira_routes()
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

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        """The sandbox's time in epoch seconds: the clock plus what advance() added."""
        with self._lock:
            return self._clock() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        """Move the sandbox's time forward (timestamps, the export's lag and rate window)."""
        with self._lock:
            self._offset += seconds

    # ------------------------------------------------------------------ seeding and inspection

    def add_ticket(
        self, ticket_id: int | str, custom_fields: dict[str, Any] | None = None, status: str = "open"
    ) -> dict[str, Any]:
        with self._lock:
            ticket = zd.new_ticket(ticket_id, custom_fields, status, self.now())
            self.state.tickets[str(ticket_id)] = ticket
            return ticket

    def set_ticket_field(self, ticket_id: int | str, field_id: int | str, value: Any) -> None:
        """Set one custom field of a live ticket (KeyError for a missing or deleted one)."""
        with self._lock:
            ticket = self.state.tickets[str(ticket_id)]
            if zd.is_deleted(ticket):
                raise KeyError(str(ticket_id))
            zd.touch(ticket, self.now())
            for item in ticket["custom_fields"]:
                if str(item["id"]) == str(field_id):
                    item["value"] = value
                    return
            ticket["custom_fields"].append({"id": int(field_id), "value": value})

    def delete_ticket(self, ticket_id: int | str, *, permanent: bool = False) -> None:
        """Soft delete (or, ``permanent``, scrub): GET answers 404, the export lists it as "deleted"."""
        with self._lock:
            ticket = self.state.tickets.get(str(ticket_id))
            if ticket is not None and not (zd.is_deleted(ticket) and not permanent):
                zd.mark_deleted(ticket, self.now(), permanent=permanent)

    def live_tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [zd.public_ticket(t) for t in self.state.tickets.values() if not zd.is_deleted(t)]

    def add_issue(
        self, key: str, issue_id: str | None = None, fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        with self._lock:
            if issue_id is None:
                issue_id = str(self.state.next_issue_id)
                self.state.next_issue_id += 1
            issue = jira.new_issue(key, str(issue_id), fields, self.now_ms())
            self.state.issues[key] = issue
            return issue

    def set_issue_field(self, key: str, field_id: str, value: Any) -> None:
        """Set one field of an issue (e.g. ``customfield_10100``); ``updated`` moves to now."""
        with self._lock:
            issue = self.state.issues[key]
            issue["fields"][field_id] = value
            issue["updated"] = self.now_ms()

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

    def reset(self) -> None:
        """Empty state, calls, faults and the export's rate window."""
        with self._lock:
            self.state = SandboxState()
            self.calls.clear()
            self.clear_faults()
            self.export_window.reset()

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

    # ------------------------------------------------------------------ routing

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        headers: dict[str, str],
        base: str,
    ) -> Reply:
        """Route one API request; returns (status, JSON body or None, extra headers)."""
        request = Request(method, path, query, body, base)
        if path.startswith("/rest/api/"):
            # serverInfo "can be accessed anonymously"; wrong credentials are refused there too.
            anonymous = "authorization" not in headers and jira.SERVER_INFO_RE.match(path) is not None
            if not (anonymous or self._jira_authorized(headers)):
                return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
            return self._route(self._jira_routes, request, JIRA_NO_ROUTE, JIRA_NOT_ALLOWED)
        if not self._zendesk_authorized(headers):
            return 401, {"error": "Couldn't authenticate you"}, {}
        return self._route(self._zendesk_routes, request, ZENDESK_NO_ROUTE, ZENDESK_NOT_ALLOWED)

    def _route(self, routes: list[Route], request: Request, no_route: Reply, not_allowed: Reply) -> Reply:
        """The route for the path and method; 405 (with ``Allow``) when only the method is unknown."""
        allowed: set[str] = set()
        with self._lock:
            for route in routes:
                m = route.pattern.match(request.path)
                if m is None:
                    continue
                if route.method == request.method:
                    return route.handler(replace(request, match=m))
                allowed.add(route.method)
        if not allowed:
            return no_route
        status, body, _ = not_allowed
        return status, body, {"Allow": ", ".join(sorted(allowed))}

    def _make_zendesk_routes(self) -> list[Route]:
        # Every route also answers with a .json suffix, as Zendesk does (zenpy always sends one).
        links = re.compile(r"^/api/services/jira/links(?:\.json)?$")
        link = re.compile(r"^/api/services/jira/links/(\d+)(?:\.json)?$")
        return [
            Route("GET", re.compile(r"^/api/v2/jira/links(?:\.json)?$"), self._list_v2),
            Route("GET", links, self._list_deprecated),
            Route("POST", links, self._create),
            Route("GET", link, self._show_link),
            Route("DELETE", link, self._delete_link),
            Route("GET", re.compile(r"^/api/v2/tickets/(\d+)(?:\.json)?$"), self._show_ticket),
            Route("GET", zd.EXPORT_PATH_RE, self._export_tickets),
        ]

    def _make_jira_routes(self) -> list[Route]:
        return [
            Route("GET", jira.SEARCH_RE, self._search_get),
            Route("POST", jira.SEARCH_RE, self._search_post),
            Route("GET", jira.ISSUE_RE, self._get_issue),
            Route("GET", jira.SERVER_INFO_RE, self._server_info),
            Route("GET", jira.FIELD_RE, self._fields),
        ]

    def _zendesk_authorized(self, headers: dict[str, str]) -> bool:
        bearer = _credentials(headers, "bearer")
        if bearer is not None:
            return bearer in self.oauth_tokens
        return _credentials(headers, "basic") == _basic(f"{self.zendesk_email}/token", self.zendesk_token)

    def _jira_authorized(self, headers: dict[str, str]) -> bool:
        return _credentials(headers, "basic") == _basic(self.jira_email, self.jira_token)

    # ------------------------------------------------------------------ Jira

    def _get_issue(self, req: Request) -> Reply:
        """``GET /rest/api/{2,3}/issue/{idOrKey}`` (by key or by id): every field unless ``fields`` says
        otherwise."""
        wanted = req.group(2)
        issue = self.state.issues.get(wanted) or next(
            (x for x in self.state.issues.values() if x["id"] == wanted), None
        )
        if issue is None:
            return JIRA_NOT_FOUND
        requested = (
            ["*all"] if "fields" not in req.query else [f for v in req.query["fields"] for f in v.split(",")]
        )
        fields = jira.render_fields(issue, requested) or {}
        return 200, {**jira.render_issue(issue, fields, req.base, req.group(1)), "fields": fields}, {}

    def _server_info(self, req: Request) -> Reply:
        return 200, jira.server_info(req.base, self.now_ms()), {}

    def _fields(self, req: Request) -> Reply:
        return 200, jira.field_list(self.state.issues.values()), {}

    def _search_get(self, req: Request) -> Reply:
        return self._search(lambda: jira.request_from_query(req.query), req)

    def _search_post(self, req: Request) -> Reply:
        return self._search(lambda: jira.request_from_body(req.body), req)

    def _search(self, parse: Callable[[], jira.SearchRequest], req: Request) -> Reply:
        try:
            request = parse()
        except jira.BadRequestError as e:
            return jira.bad_request(e)
        return jira.search(self.state.issues.values(), request, self.now_ms(), req.base, req.group(1))

    # ------------------------------------------------------------------ Zendesk tickets

    def _show_ticket(self, req: Request) -> Reply:
        ticket = self.state.tickets.get(req.group())
        if ticket is None or zd.is_deleted(ticket):
            return NOT_FOUND
        return 200, {"ticket": zd.public_ticket(ticket)}, {}

    def _export_tickets(self, req: Request) -> Reply:
        now = self.now()
        wait = self.export_window.admit(now)
        if wait is not None:
            return zd.rate_limited(wait)
        return zd.export(self.state.tickets.values(), req.q, now, req.base)

    # ------------------------------------------------------------------ Zendesk links

    def _insert_link(self, issue_id: str, issue_key: str, ticket_id: str) -> dict[str, Any]:
        link_id = self.state.next_link_id
        self.state.next_link_id += 1
        now = zd.iso(self.now())
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

    def _show_link(self, req: Request) -> Reply:
        link = self.state.links.get(int(req.group()))
        if link is None:
            return NOT_FOUND
        return 200, {"link": self._link_out(link, req.base)}, {}

    def _delete_link(self, req: Request) -> Reply:
        if self.state.links.pop(int(req.group()), None) is None:
            return NOT_FOUND
        return 204, None, {}

    def _create(self, req: Request) -> Reply:
        link = req.body.get("link") if isinstance(req.body, dict) else None
        link = link if isinstance(link, dict) else {}
        missing = [k for k in ("issue_id", "issue_key", "ticket_id") if not link.get(k)]
        if missing:
            return _invalid({k: [{"description": f"{k} can't be blank"}] for k in missing})
        issue_id, ticket_id = str(link["issue_id"]), str(link["ticket_id"])
        if not self.allow_duplicates and (issue_id, ticket_id) in self._pairs():
            return _invalid({"issue_id": [{"description": "Issue is already linked to this ticket"}]})
        created = self._insert_link(issue_id, str(link["issue_key"]), ticket_id)
        return 201, {"link": self._link_out(created, req.base)}, {}

    def _pairs(self) -> set[tuple[str, str]]:
        return {(x["issue_id"], x["ticket_id"]) for x in self.state.links.values()}

    def _list_v2(self, req: Request) -> Reply:
        try:
            asked = zd.links_v2_request(req.query)
        except zd.InvalidParameterError as e:
            return e.reply()
        size = asked.size
        rows = self._links_after(asked.ticket_id, asked.after)
        page, has_more = rows[:size], len(rows) > size
        cursor = f"{req.base}/api/v2/jira/links?page[after]={page[-1]['id']}" if page else None
        return (
            200,
            {
                "links": [self._link_out(x, req.base) for x in page],
                "meta": {"after_cursor": cursor, "has_more": has_more},
            },
            {},
        )

    def _links_after(self, ticket_id: str | None, after: int | None) -> list[dict[str, Any]]:
        """Links in id order, of one ticket if given, after a link id if given."""
        rows = [link for _, link in sorted(self.state.links.items()) if after is None or link["id"] > after]
        return [link for link in rows if ticket_id is None or link["ticket_id"] == ticket_id]

    def _list_deprecated(self, req: Request) -> Reply:
        """``since_id`` exclusive (as zenpy reads it), ``limit`` capped at ``deprecated_limit_cap``.

        ``total`` is the number of links on the page: zenpy pages on while it is at least 1 (what Zendesk
        puts in it was not confirmed)."""
        q = req.q
        size = zd.deprecated_limit(q.get("limit"), self.deprecated_limit_cap)
        since = int(q["since_id"]) if q.get("since_id", "").isdigit() else None
        rows = [
            link
            for _, link in sorted(self.state.links.items())
            if (q.get("ticket_id") is None or link["ticket_id"] == q["ticket_id"])
            and (q.get("issue_id") is None or link["issue_id"] == q["issue_id"])
            and (since is None or link["id"] > since)
        ]
        page = [self._link_out(x, req.base) for x in rows[:size]]
        return 200, {"links": page, "total": len(page)}, {}


def _invalid(details: dict[str, Any]) -> Reply:
    return 422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details}, {}


def _basic(user: str, secret: str) -> str:
    """The credentials of a Basic Authorization header (after the scheme)."""
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


def _credentials(headers: dict[str, str], scheme: str) -> str | None:
    """What follows the scheme in the Authorization header, if it is in ``scheme``: schemes are
    case-insensitive (RFC 9110), so ``basic``, ``Basic`` and ``BASIC`` are one; credentials are not."""
    parts = headers.get("authorization", "").split(None, 1)
    if len(parts) != 2 or parts[0].lower() != scheme:
        return None
    return parts[1].strip()


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
                self._reply(201, sandbox.add_issue(body["key"], body.get("id"), body.get("fields")))
            elif path == "/_sandbox/faults":
                sandbox.fail_next(
                    body["kind"],
                    int(body.get("times", 1)),
                    path_prefix=body.get("path_prefix", ""),
                    method=body.get("method"),
                )
                self._reply(204, None)
            elif path == "/_sandbox/advance":
                sandbox.advance(float(body.get("seconds", 0)))
                self._reply(204, None)
            elif path == "/_sandbox/reset":
                sandbox.reset()
                self._reply(204, None)
            else:
                self._reply(404, {"error": "unknown sandbox route"})

        # Any of these reaches the router, which answers 405 for a method a known path does not serve.
        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = _serve

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
