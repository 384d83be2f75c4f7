"""`make serve`: the local stack kept running until Ctrl-C (or SIGTERM).

The HTTP API gateway on http://127.0.0.1:3000 (``--port``, make's ``PORT``), moto on 127.0.0.1:5000
(``--moto-port``, ``MOTO_PORT``), the sandbox on 127.0.0.1:8081 (``--sandbox-port``, ``SANDBOX_PORT``; seeded
with the sample issues and tickets of events/), and the retry worker polling in the background. One line
per request with what it came to (created, deleted, queued, dead-lettered, ignored, or the error), one per
retry worker batch. Function logs go to a folder under .aws-sam/logs/ that is kept after it stops.

A port that is taken ends it at once with one line naming the port and the make variable to set; nothing
is left running. With ``ZENDESK_BASE_URL`` and ``JIRA_BASE_URL`` (and the secret's values as upper-case
variables, e.g. ``ZENDESK_API_TOKEN``) set, it runs against the real Zendesk and Jira instead of the
sandbox. `make send EVENT=events/<file>` posts a sample to it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from types import FrameType

from local import make_events
from local.gateway import GatewayLogLine
from local.run import LocalRun, Vendors, check_ports, new_log_dir
from local.stack import DrainReport, PortUnavailable
from local.state_file import STATE_FILE

# What each port is for, and the make variable that sets it.
PORTS = {
    "gateway": ("the HTTP API gateway", "PORT"),
    "moto": ("moto, the local AWS endpoint", "MOTO_PORT"),
    "sandbox": ("the Zendesk/Jira sandbox", "SANDBOX_PORT"),
}


def port_message(error: PortUnavailable, ports: dict[str, int]) -> str:
    """One line: which port, what wanted it, and the make variable that moves it (with a free example)."""
    what, variable = PORTS.get(error.role, ("the local stack", "PORT"))
    taken = set(ports.values())
    suggestion = next(
        (p for p in range(error.port + 1, error.port + 50) if p not in taken and _free(p)), None
    )
    hint = " (on macOS, AirPlay Receiver listens on 5000)" if error.port == 5000 else ""
    example = f", e.g. make serve {variable}={suggestion}" if suggestion else ""
    return (
        f"serve: port {error.port} ({what}) is {error.reason}{hint}; set {variable} to a free port{example}"
    )


def _free(port: int) -> bool:
    try:
        check_ports({"": port})
    except (PortUnavailable, OSError):
        return False
    return True


class Console:
    """The serve console: one line per request and per retry worker batch."""

    def __init__(self, run: LocalRun | None = None) -> None:
        self.run = run
        self._answered: set[str] = set()
        self._dead_letters = 0
        self._lock = threading.Lock()

    def request(self, line: GatewayLogLine) -> None:
        summary = line.summary
        if line.delivery_id and line.status == 200:
            with self._lock:
                replay = line.delivery_id in self._answered
                self._answered.add(line.delivery_id)
            if replay:
                summary = f"{summary} (same delivery id as before: answered from the idempotency record)"
        self._print(
            f"{line.method} {line.path} -> {line.status} {line.function or '-'} {line.millis:.0f}ms"
            + (f": {summary.strip()}" if summary.strip() else "")
        )

    def batch(self, report: DrainReport) -> None:
        failed = f", {report.failures} failed (back on the queue)" if report.failures else ""
        errors = f", {report.errors} function error(s)" if report.errors else ""
        dead = ""
        if self.run is not None:
            depth = self.run.stack.queue_depth("RetryDeadLetterQueue")
            if depth != self._dead_letters:
                dead = f"; dead-letter queue now {depth} (+{depth - self._dead_letters})"
                self._dead_letters = depth
        self._print(
            f"RetryQueue -> RetryWorkerFunction: {report.records} message(s) in {report.batches} batch(es)"
            f"{failed}{errors}{dead}"
        )

    def _print(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


class Stopper:
    """SIGTERM and Ctrl-C stop everything: the first one raises KeyboardInterrupt wherever the main thread
    is (starting, waiting), and the stack's exit stops every process and thread; later ones are ignored so
    that stopping is never cut short."""

    def __init__(self) -> None:
        self.stopping = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="run the stack locally until interrupted")
    parser.add_argument("--port", type=int, default=3000, help="gateway port (default 3000; make: PORT)")
    parser.add_argument(
        "--moto-port", type=int, default=5000, help="moto port (default 5000; make: MOTO_PORT)"
    )
    parser.add_argument(
        "--sandbox-port", type=int, default=8081, help="sandbox port (default 8081; make: SANDBOX_PORT)"
    )
    parser.add_argument("--for-seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    parser.add_argument("--log-dir", type=Path, help="function logs (default: a new folder in .aws-sam/logs)")
    parser.add_argument("--state-file", type=Path, default=STATE_FILE, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ports = {"gateway": args.port, "moto": args.moto_port, "sandbox": args.sandbox_port}
    stopper = Stopper()
    stopper.install()
    log_dir: Path | None = None
    try:
        vendors = Vendors.from_env()
        if vendors is not None:
            del ports["sandbox"]
        check_ports(ports)
        log_dir = args.log_dir or new_log_dir("serve")
        print(f"function logs in {log_dir}", flush=True)
        _serve(args, vendors, log_dir, stopper, ports)
    except PortUnavailable as e:
        stopper.stopping = True
        print(port_message(e, ports), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM: the stack stopped everything on the way out
    except Exception as e:  # one line here, the traceback beside the function logs
        stopper.stopping = True
        details = ""
        if log_dir is not None:
            (log_dir / "serve-error.log").write_text(traceback.format_exc())
            details = f" (details in {log_dir / 'serve-error.log'})"
        print(f"serve: {type(e).__name__}: {e}{details}", file=sys.stderr, flush=True)
        return 1
    stopper.stopping = True
    print(f"stopped; function logs kept in {log_dir}", flush=True)
    return 0


def _serve(
    args: argparse.Namespace, vendors: Vendors | None, log_dir: Path, stopper: Stopper, ports: dict[str, int]
) -> None:
    console = Console()
    with LocalRun(
        gateway_port=ports["gateway"],
        moto_port=ports["moto"],
        sandbox_port=ports.get("sandbox", 0),
        vendors=vendors,
        log_dir=log_dir,
        on_request=console.request,
        on_drain=console.batch,
    ) as run:
        console.run = run
        if run.sandbox is not None:
            make_events.seed_samples(run.sandbox)
        assert run.event_source is not None
        run.event_source.start()
        real = run.vendors.zendesk_url if run.vendors is not None else "?"
        where = "the sandbox " + run.sandbox.url if run.sandbox else f"{real} (real)"
        print(f"gateway  {run.gateway.url}  (POST /webhooks/jira, POST /webhooks/zendesk)", flush=True)
        print(f"AWS      moto at {run.moto_url}; table {run.stack.physical['LinksTable']}", flush=True)
        print(f"vendors  {where}", flush=True)
        state_file: Path = args.state_file
        state_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            state_file.write_text(json.dumps(run.describe(), indent=2))
            print("retry worker polling RetryQueue every second. Ctrl-C stops everything.", flush=True)
            threading.Event().wait(args.for_seconds or None)
            stopper.stopping = True  # from here on a signal must not cut the shutdown short
        finally:
            state_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
