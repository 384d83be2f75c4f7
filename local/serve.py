"""`make serve`: the local stack kept running until Ctrl-C.

The HTTP API gateway on http://127.0.0.1:3000 (``--port``), moto on 127.0.0.1:5000, the sandbox on
127.0.0.1:8081 (seeded with the sample issues and tickets of events/), and the retry worker polling in the
background. One log line per request. With ``ZENDESK_BASE_URL`` and ``JIRA_BASE_URL`` (and the secret's
values as upper-case variables, e.g. ``ZENDESK_API_TOKEN``) set, it runs against the real Zendesk and Jira
instead of the sandbox. `make send EVENT=events/<file>` posts a sample to it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time

from local import make_events
from local.gateway import GatewayLogLine
from local.run import STATE_FILE, LocalRun, Vendors


def log_line(line: GatewayLogLine) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(
        f"{stamp} {line.method} {line.path} -> {line.status} {line.function or '-'} {line.millis:.0f}ms",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run the stack locally until interrupted")
    parser.add_argument("--port", type=int, default=3000, help="gateway port (default 3000)")
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--sandbox-port", type=int, default=8081)
    parser.add_argument("--for-seconds", type=float, default=0, help="stop after this long (0: until Ctrl-C)")
    args = parser.parse_args(argv)
    vendors = Vendors.from_env()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalRun(
        gateway_port=args.port,
        moto_port=args.moto_port,
        sandbox_port=args.sandbox_port,
        vendors=vendors,
        on_request=log_line,
    ) as run:
        if run.sandbox is not None:
            make_events.seed_samples(run.sandbox)
        assert run.event_source is not None
        run.event_source.start()
        real = run.vendors.zendesk_url if run.vendors is not None else "?"
        where = "the sandbox " + run.sandbox.url if run.sandbox else f"{real} (real)"
        print(f"gateway  {run.gateway.url}  (POST /webhooks/jira, POST /webhooks/zendesk)", flush=True)
        print(f"AWS      moto at {run.moto_url}; table {run.stack.physical['LinksTable']}", flush=True)
        print(f"vendors  {where}", flush=True)
        print(f"logs     {run.log_dir}", flush=True)
        print("retry worker polling RetryQueue every second. Ctrl-C stops everything.", flush=True)
        STATE_FILE.parent.mkdir(exist_ok=True)
        STATE_FILE.write_text(json.dumps(run.describe(), indent=2))
        try:
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait(args.for_seconds or None)
        finally:
            STATE_FILE.unlink(missing_ok=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
