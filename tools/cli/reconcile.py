"""`linksync reconcile`: start a reconcile job and follow it to its end.

Against a deployed stack the function is invoked asynchronously: its first slice starts the template's
continuation loop, which runs the job to the end whether or not anyone watches; the CLI follows the job's
record in the links table. Against the local stack there is no loop, so the CLI invokes the function again
and again until the job is done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from linksync.reconcile.job import result
from linksync.reconcile.store import JobState, JobStore
from tools.cli.target import CliError, Target

MAX_LOCAL_SLICES = 10_000
START_TIMEOUT_SECONDS = 120.0
Progress = Callable[[dict[str, Any]], None]


def run(
    target: Target,
    *,
    mode: str,
    apply: bool,
    progress: Progress,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The finished job's result, with the pairs that differed (``differing``)."""
    store = JobStore(target.output("LinksTableName"), client=target.dynamodb)
    if target.local:
        answer = _drive(target, mode, apply, progress, sleep)
    else:
        answer = _follow(target, store, mode, apply, progress, poll_seconds, sleep)
    answer["differing"] = differing(store, str(answer["job_id"]))
    return answer


def _invoke(target: Target, payload: dict[str, Any], *, wait: bool) -> dict[str, Any]:
    client = target.client("lambda")
    function = target.output("ReconcileFunctionName")
    answer = client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse" if wait else "Event",
        Payload=json.dumps(payload).encode(),
    )
    if not wait:
        return {}
    body = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        raise CliError(f"the reconcile function failed: {body.get('errorMessage', body)}")
    if "error" in body:
        raise CliError(f"the reconcile function refused the request: {body['error']}")
    return dict(body)


def _drive(
    target: Target, mode: str, apply: bool, progress: Progress, sleep: Callable[[float], None]
) -> dict[str, Any]:
    for _ in range(MAX_LOCAL_SLICES):
        answer = _invoke(target, {"mode": mode, "apply": apply}, wait=True)
        progress(answer)
        if answer.get("done"):
            return answer
        if answer.get("waiting") or answer.get("busy"):
            sleep(min(float(answer.get("retry_in", 1)), 5.0))
    raise CliError(f"the job did not finish within {MAX_LOCAL_SLICES} slices")


def _follow(
    target: Target,
    store: JobStore,
    mode: str,
    apply: bool,
    progress: Progress,
    poll_seconds: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    before = store.load(mode, apply)
    _invoke(target, {"mode": mode, "apply": apply}, wait=False)
    started = time.monotonic()
    while True:
        job = store.load(mode, apply)
        if job is not None and _ours(job, before):
            progress(result(job))
            if job.done:
                return result(job)
        elif time.monotonic() - started > START_TIMEOUT_SECONDS:
            raise CliError("the job did not start within two minutes: see the ReconcileFunction's logs")
        sleep(poll_seconds)


def _ours(job: JobState, before: JobState | None) -> bool:
    """The job this invocation runs: the one that was going on, or a new one."""
    return before is None or not before.done or job.job_id != before.job_id


def differing(store: JobStore, job_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The pairs the job found differing (issue key, ticket id, class), as kept after the job."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while len(found) < limit:
        page = store.items(job_id, "D", after, min(100, limit - len(found)))
        if not page:
            break
        found += [
            {k: item.get(k) for k in ("issue_key", "issue_id", "ticket_id", "class", "ledger_wrong")}
            for item in page
        ]
        after = "#".join(str(page[-1]["sk"]).split("#")[1:3])
    return found
