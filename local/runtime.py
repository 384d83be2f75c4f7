"""One Lambda function in its own warm process, invoked the way the Lambda Runtime Interface Emulator is.

The child process imports the function's handler exactly as Lambda does (its CodeUri folder plus the
layers on sys.path, the template's environment) and serves
``POST /2015-03-31/functions/function/invocations``, one invocation at a time, like one Lambda container.
An unhandled exception answers with ``X-Amz-Function-Error: Unhandled`` and Lambda's error document.
The parent side is :class:`FunctionProcess`.

Child: ``python -m local.runtime <LogicalId> --port <port>``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import IO, Any

import requests

from local.template import ROOT

INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (in the main thread; elsewhere they cannot land):
    a child started in it is always known to its FunctionProcess, so stop() can end it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            if handler is not None:
                signal.signal(s, handler)
        for signum in caught:
            signal.raise_signal(signum)


class FunctionError(Exception):
    """The function raised: Lambda's error document is in ``payload``."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage", "function error"))
        self.payload = payload


class FunctionProcess:
    """Parent side: start the child with the template's environment, invoke it, stop it."""

    def __init__(
        self, logical_id: str, env: dict[str, str], *, log_path: Path, timeout: float = 10.0
    ) -> None:
        self.logical_id = logical_id
        self.env = env
        self.log_path = log_path
        self.timeout = timeout
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._session = requests.Session()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def start(self) -> FunctionProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ", "SYSTEMROOT") if k in os.environ}
        env = {**base, **self.env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        with signals_held():
            self._proc = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter and module, no shell
                [
                    *(sys.executable, "-m", "local.runtime", self.logical_id),
                    *("--port", str(self.port), "--parent-pid", str(os.getpid())),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"{self.logical_id} exited during start; see {self.log_path}")
            try:
                if self._session.get(f"http://127.0.0.1:{self.port}/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.logical_id} did not start within {timeout}s; see {self.log_path}")

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's return value; raises FunctionError when the handler raised."""
        answer = self._session.post(self.url, data=json.dumps(event), timeout=self.timeout + 5)
        payload = answer.json()
        if answer.headers.get("X-Amz-Function-Error"):
            raise FunctionError(payload)
        return payload

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()
        self._session.close()


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """End this process when the one that started it is gone (even killed with SIGKILL, even before this
    one got here), so no function process outlives `make serve`, `make demo` or a test. Ctrl-C is the
    parent's to handle: it stops us."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    if os.getppid() != parent:
        os._exit(0)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(logical_id: str, port: int) -> None:
    from local.stack import context_for, load_handler

    handler = load_handler(logical_id)  # import (the cold start) happens once, before the first invoke

    class Invocations(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _send(self, status: int, payload: Any, error: bool = False) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error:
                self.send_header("X-Amz-Function-Error", "Unhandled")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200 if self.path == "/health" else 404, {"function": logical_id})

        def do_POST(self) -> None:
            if self.path != INVOKE_PATH:
                self._send(404, {"message": "unknown path"})
                return
            event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            try:
                result = handler(event, context_for(logical_id))
            except Exception as e:
                traceback.print_exc()
                self._send(
                    200,
                    {
                        "errorMessage": str(e),
                        "errorType": type(e).__name__,
                        "stackTrace": traceback.format_tb(e.__traceback__),
                    },
                    error=True,
                )
                return
            finally:
                sys.stdout.flush()
            self._send(200, result)

    HTTPServer(("127.0.0.1", port), Invocations).serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="run one template function as a warm local process")
    parser.add_argument("logical_id")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone (default: the parent)")
    args = parser.parse_args(argv)
    _exit_with_parent(args.parent_pid or os.getppid())
    _serve(args.logical_id, args.port)


if __name__ == "__main__":
    main()
