"""`make invoke FUNCTION=<LogicalId> EVENT=events/<file>`: run one function once on one event.

The Docker-free counterpart of `sam local invoke`: moto and the sandbox start on free ports (seeded with
the sample issues and tickets), the template's resources are created, the function runs in a fresh process
with the template's environment, and its response and logs are printed. When a Docker engine answers, it
runs `sam local invoke` itself instead (start `make serve` first so moto and the sandbox are there).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from local import make_events
from local.run import LocalRun
from local.runtime import FunctionError
from local.template import ROOT, resources


def docker_engine_available() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=10).returncode == 0  # noqa: S603  # nosec B603  # fixed argv, no shell
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_with_sam(function: str, event: Path) -> int:
    sam = ROOT / ".venv-sam" / "bin" / "sam"
    cmd = [
        str(sam),
        "local",
        "invoke",
        function,
        "-e",
        str(event),
        "--env-vars",
        "events/env.json",
        "--docker-network",
        "host",
    ]
    print("docker engine found: " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode  # noqa: S603  # nosec B603  # fixed argv, no shell


def failure_of(response: Any) -> str | None:
    """Why a function's answer is a failure (a 4xx or 5xx, failed batch items, an error), or None."""
    if not isinstance(response, dict):
        return None
    status = response.get("statusCode")
    if isinstance(status, int) and status >= 400:
        try:
            body = json.loads(response.get("body") or "null")
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        return f"the function answered HTTP {status}" + (f": {error}" if error else "")
    failures = response.get("batchItemFailures")
    if isinstance(failures, list) and failures:
        return f"{len(failures)} record(s) of the batch failed (batchItemFailures)"
    if "statusCode" not in response and response.get("error"):
        return f"the function answered with an error: {response['error']}"
    return None


def run_local(function: str, event: Path) -> int:
    extra = dict(make_events.SAMPLE_ENV)  # the samples' fixed timestamps are accepted, as in env.json
    try:
        payload = json.loads(event.read_text())
    except (OSError, ValueError) as e:
        print(f"invoke: cannot read {event} as a JSON event: {e}", file=sys.stderr)
        return 2
    with LocalRun(functions=(function,), extra_env=extra) as run:
        if run.sandbox is not None:
            make_events.seed_samples(run.sandbox)
        proc = run.processes[function]
        failure: str | None = None
        try:
            response = proc.invoke(payload)
            failure = failure_of(response)
        except FunctionError as e:
            response = e.payload
            failure = f"the function raised {e.payload.get('errorType', 'an error')}: {e}"
        log_path = proc.log_path
        logs = log_path.read_text() if log_path.exists() else ""
    print("--- logs " + "-" * 60)
    print(logs.rstrip())
    print("--- response " + "-" * 56)
    print(json.dumps(response, indent=2))
    if failure:
        print(f"invoke: {failure}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="invoke one template function on one event, without Docker")
    parser.add_argument("function", choices=sorted(resources("AWS::Serverless::Function")))
    parser.add_argument("event", type=Path)
    parser.add_argument("--no-docker", action="store_true", help="never use sam local invoke")
    args = parser.parse_args(argv)
    if not args.event.is_file():
        print(f"invoke: no such event file: {args.event} (see events/)", file=sys.stderr)
        return 2
    if not args.no_docker and docker_engine_available():
        return run_with_sam(args.function, args.event)
    return run_local(args.function, args.event)


if __name__ == "__main__":
    sys.exit(main())
