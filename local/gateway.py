"""A local stand-in for the template's API Gateway HTTP API (payload format 2.0).

Serves the routes the template gives ``WebhookApi`` (``POST /webhooks/jira`` → ``JiraWebhookFunction``, ...),
turns each HTTP request into the v2 event API Gateway would send (lower-cased headers, raw body, base64 for
non-text bodies, raw query string, cookies), invokes the function, and turns its answer back into HTTP
(a ``statusCode`` response, or any other JSON as a 200). Unknown routes get API Gateway's 404; a function
error gets its 500.

It also answers Lambda's Invoke API (``POST /2015-03-31/functions/<name>/invocations``) for every function
it runs, so a boto3 ``lambda`` client pointed at the gateway invokes the local functions as it would the
deployed ones (the operator's CLI does, for reconcile jobs).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from local.httpd import BackgroundServer
from local.stack import http_api_event, port_unavailable
from local.template import resources

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's own request limit
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "+json",
    "+xml",
)

Invoker = Callable[[dict[str, Any]], Any]
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


def template_routes(api_id: str = "WebhookApi") -> dict[tuple[str, str], str]:
    """(METHOD, path) -> function logical id for every HttpApi event on ``api_id``."""
    routes: dict[tuple[str, str], str] = {}
    for name, res in resources("AWS::Serverless::Function").items():
        for event in res["Properties"].get("Events", {}).values():
            props = event.get("Properties", {})
            if event.get("Type") == "HttpApi" and props.get("ApiId") == {"Ref": api_id}:
                routes[(str(props["Method"]).upper(), str(props["Path"]))] = name
    return routes


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    lowered = content_type.lower()
    return any(t in lowered for t in TEXT_TYPES)


def to_event(method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in headers:
        if key.lower() == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        k = key.lower()
        merged[k] = f"{merged[k]},{value}" if k in merged else value
    content_type = merged.get("content-type")
    event = http_api_event(
        method,
        parts.path,
        body,
        merged,
        query=parts.query,
        base64_encode=bool(body) and not is_text(content_type),
    )
    if cookies:
        event["cookies"] = cookies
    return event


def from_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    """A v2 function answer as HTTP: the structured form, or any JSON value as a 200."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return int(result["statusCode"]), headers, data
    return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()


# The counts a webhook's answer carries (linksync.operations.Outcome), in the order a reader wants them.
OUTCOME_COUNTS = ("created", "deleted", "adopted", "queued", "dead_lettered", "unchanged")


def summarize(status: int, data: bytes, error: str | None = None) -> str:
    """What a request came to, in a few words: ``created 2, queued 1``, ``ignored: <why>``, the error."""
    if error:
        return error
    try:
        body = json.loads(data) if data else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "" if status < 400 else f"HTTP {status}"
    if isinstance(body.get("report"), dict):  # a reconcile job's answer, through the Invoke API
        return _reconcile_summary(body)
    parts = [
        f"{k.replace('_', '-')} {body[k]}" for k in OUTCOME_COUNTS if isinstance(body.get(k), int) and body[k]
    ]
    if body.get("ignored"):
        parts.append(f"ignored: {body['ignored']}")
    for key in ("error", "message", "errorMessage"):
        if body.get(key):
            parts.append(f"error: {body[key]}")
            break
    if isinstance(body.get("batchItemFailures"), list):
        parts.append(f"{len(body['batchItemFailures'])} batch item failure(s)")
    if body.get("notes"):
        parts.append(f"{len(body['notes'])} note(s)")
    return ", ".join(parts) or ("no change" if "status" in body else "")


def _reconcile_summary(body: dict[str, Any]) -> str:
    report = body["report"]
    counts = ", ".join(f"{k} {v}" for k, v in report.items() if isinstance(v, int) and v)
    state = "done" if body.get("done") else f"not done ({body.get('phase', '?')})"
    head = f"reconcile {body.get('mode', '?')}{' applied' if body.get('apply') else ' dry run'}, {state}"
    extra = next((f", {k}: {body[k]}" for k in ("error", "waiting", "busy") if body.get(k)), "")
    return f"{head}{': ' + counts if counts else ''}{extra}"


def delivery_of(data: bytes) -> str | None:
    """The delivery id a webhook's answer names, if any."""
    try:
        body = json.loads(data) if data else None
    except ValueError:
        return None
    value = body.get("delivery_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


@dataclass
class GatewayLogLine:
    method: str
    path: str
    status: int
    function: str | None
    millis: float
    summary: str = ""
    delivery_id: str | None = None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    data: bytes
    function: str | None
    error: str | None = None  # why the function failed, for the log line (never sent to the client)


def _function_error(e: Exception) -> str:
    payload = getattr(e, "payload", None)
    if isinstance(payload, dict):
        return f"function error: {payload.get('errorType', 'Error')}: {payload.get('errorMessage', '')}"
    return f"function error: {type(e).__name__}: {e}"


class Gateway:
    def __init__(
        self,
        invokers: dict[str, Invoker],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        routes: dict[tuple[str, str], str] | None = None,
        on_request: Callable[[GatewayLogLine], None] | None = None,
    ) -> None:
        self.routes = routes if routes is not None else template_routes()
        self.invokers = invokers
        self.on_request = on_request
        try:
            self._httpd = BackgroundServer(host, port, self._handler(), name="http-api-gateway")
        except OSError as e:
            raise (port_unavailable(e, port) or e) from None

    @property
    def url(self) -> str:
        return self._httpd.url

    def start(self) -> Gateway:
        self._httpd.start()
        return self

    def stop(self) -> None:
        self._httpd.stop()

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        answer = self.dispatch(method, raw_path, headers, body)
        return answer.status, answer.headers, answer.data, answer.function

    def dispatch(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        invoked = INVOKE_PATH.match(urlsplit(raw_path).path)
        if invoked and method == "POST":
            return self._invoke_api(invoked.group(1), body)
        function = self.routes.get((method, urlsplit(raw_path).path))
        if function is None:
            return Answer(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}', None)
        if len(body) > MAX_PAYLOAD_BYTES:
            return Answer(
                413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}', function
            )
        try:
            result = self.invokers[function](to_event(method, raw_path, headers, body))
        except Exception as e:
            return Answer(
                500,
                {"Content-Type": "application/json"},
                b'{"message":"Internal Server Error"}',
                function,
                error=_function_error(e),
            )
        status, out_headers, data = from_result(result)
        return Answer(status, out_headers, data, function)

    def _invoke_api(self, name: str, body: bytes) -> Answer:
        """Lambda's Invoke API, synchronous: the function's answer as the payload, or its error document."""
        function = name.rsplit(":function:", 1)[-1].split(":")[0]
        if function not in self.invokers:
            error = {"Type": "User", "message": f"Function not found: {function}"}
            return Answer(
                404,
                {"Content-Type": "application/json", "x-amzn-ErrorType": "ResourceNotFoundException"},
                json.dumps(error).encode(),
                None,
            )
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        try:
            result = self.invokers[function](json.loads(body or b"{}"))
        except Exception as e:
            document = getattr(e, "payload", None) or {"errorMessage": str(e), "errorType": type(e).__name__}
            return Answer(
                200,
                {**headers, "X-Amz-Function-Error": "Unhandled"},
                json.dumps(document).encode(),
                function,
                error=_function_error(e),
            )
        return Answer(200, headers, json.dumps(result).encode(), function)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def _any(self) -> None:
                started = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = gateway.dispatch(self.command, self.path, list(self.headers.items()), body)
                self.send_response(answer.status)
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.data)))
                self.end_headers()
                self.wfile.write(answer.data)
                if gateway.on_request:
                    gateway.on_request(
                        GatewayLogLine(
                            self.command,
                            self.path,
                            answer.status,
                            answer.function,
                            (time.monotonic() - started) * 1000,
                            summary=summarize(answer.status, answer.data, answer.error),
                            delivery_id=delivery_of(answer.data),
                        )
                    )

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        return Handler
