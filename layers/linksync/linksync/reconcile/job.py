"""A reconciliation job: from what Jira and Zendesk hold to the links that should exist, for the whole
account (``full``) or for what changed since the last applied job (``incremental``).

One job per (mode, apply) at a time. Each invocation takes the job's lease, works step by step (a page
read, or a few hundred pairs judged) until its time is nearly up, writes its checkpoint after every step,
and gives the lease back. The next invocation with the same mode continues it; the one after a finished job
starts a new one. A dry run (``apply`` false) reads, judges and reports, and changes nothing in Zendesk or
in the ledger.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .. import errors
from ..handoff import Handoff
from ..observability import Metric
from ..timing import Deadline
from .merge import Merger
from .plan import REPORT_KEYS
from .read import Reader, Wait
from .store import JobState, JobStore

Mode = Literal["full", "incremental"]
# A job that never ran before starts its incremental window this far back.
FIRST_WINDOW_SECONDS = 3600
# Waiting inside an invocation (a vendor's rate limit, the budget) is worth it up to this long.
MAX_INLINE_WAIT = 20.0
VENDOR_RETRY_SECONDS = 30.0
BUSY_RETRY_SECONDS = 60.0
MAX_RETRY_IN = 900
DRIFT_METRICS: dict[str, Metric] = {
    "missing": "DriftMissing",
    "dead": "DriftDead",
    "unwanted": "DriftUnwanted",
    "manual": "ManualLinks",
}


@dataclass(frozen=True)
class JobRequest:
    mode: Mode
    apply: bool
    continuation: bool = False  # sent by the template's continuation loop

    @classmethod
    def from_event(cls, event: Any) -> JobRequest:
        """``{"mode": "full" | "incremental", "apply": true | false}``; a scheduled EventBridge event means
        incremental, applied."""
        if isinstance(event, dict) and event.get("source") == "aws.events":
            return cls("incremental", True)
        if not isinstance(event, dict):
            raise errors.InvalidPayloadError("the event must be a JSON object with mode and apply")
        mode, apply = event.get("mode"), event.get("apply", False)
        if mode not in ("full", "incremental"):
            raise errors.InvalidPayloadError("mode must be 'full' or 'incremental'")
        if not isinstance(apply, bool):
            raise errors.InvalidPayloadError("apply must be true or false")
        return cls(mode, apply, event.get("continuation") is True)


class Reconciler:
    def __init__(
        self,
        *,
        reader: Reader,
        merger: Merger,
        store: JobStore,
        handoff: Handoff,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.reader = reader
        self.merger = merger
        self.store = store
        self.handoff = handoff
        self.clock = clock
        self.sleep = sleep

    def run(self, request: JobRequest, deadline: Deadline) -> dict[str, Any]:
        job = self._current(request)
        token = uuid.uuid4().hex
        if not self.store.lease(job, token, min(deadline.remaining(), 900) + 60):
            return result(job, retry_in=BUSY_RETRY_SECONDS, busy="another invocation is working on this job")
        job.slices += 1
        pause: Wait | None = None
        try:
            while not job.done and deadline.has_time():
                pause = self._step(job, deadline)
                self.store.save(job, token)
                if pause:
                    break
            if job.done:
                self._finish(job)
        finally:
            self.store.save(job, token, release=True)
        if pause is None:
            return result(job)
        return result(job, retry_in=math.ceil(pause.until - self.clock()), waiting=pause.why)

    def _current(self, request: JobRequest) -> JobState:
        job = self.store.load(request.mode, request.apply)
        if job is not None and not job.done:
            return job
        now = self.clock()
        since = None
        if request.mode == "incremental":
            since = self.store.watermark() or now - FIRST_WINDOW_SECONDS
        return JobState(
            job_id=f"{request.mode}-{int(now)}-{uuid.uuid4().hex[:6]}",
            mode=request.mode,
            apply=request.apply,
            started_at=now,
            since=since,
        )

    def _step(self, job: JobState, deadline: Deadline) -> Wait | None:
        """One step; returns what the job must wait for before it can go on (a limit, a failing vendor)."""
        try:
            self._dispatch(job, deadline)
        except Wait as w:
            pause = w.until - self.clock()
            if pause <= min(MAX_INLINE_WAIT, deadline.remaining() - deadline.reserve):
                self.sleep(max(0.0, pause))
                return None
            return w
        except errors.ApiError as e:
            if e.retryable:
                retry_after = e.retry_after if isinstance(e, errors.RateLimitedError) else None
                return Wait(
                    self.clock() + (retry_after or VENDOR_RETRY_SECONDS), f"a vendor call failed: {e}"
                )
            job.phase, job.error = "failed", str(e)
        return None

    def _dispatch(self, job: JobState, deadline: Deadline) -> None:
        match job.phase:
            case "issues":
                self.reader.issues(job)
            case "tickets":
                self.reader.tickets(job)
            case "links":
                self.reader.links(job)
            case "ledger":
                self.reader.ledger_pairs(job)
            case "merge":
                self.merger.step(job, deadline)

    def _finish(self, job: JobState) -> None:
        job.finished_at = self.clock()
        if job.apply and job.phase == "done":
            self.store.raise_watermark(job.started_at)
        ended: Metric = "ReconcileJobsFinished" if job.phase == "done" else "ReconcileJobsFailed"
        self.handoff.count(ended)
        for drift, metric in DRIFT_METRICS.items():
            self.handoff.count(metric, job.counts.get(drift, 0))
        self.handoff.log.info("reconcile job finished", extra=result(job))


def result(job: JobState, *, retry_in: float = 1, **extra: str | None) -> dict[str, Any]:
    """What an invocation answers; ``retry_in``: seconds before the next slice is worth starting."""
    answer: dict[str, Any] = {
        "done": job.done,
        "retry_in": max(1, min(MAX_RETRY_IN, int(retry_in))),
        "mode": job.mode,
        "apply": job.apply,
        "job_id": job.job_id,
        "phase": job.phase,
        "report": {k: job.counts.get(k, 0) for k in REPORT_KEYS},
    }
    if job.error:
        answer["error"] = job.error
    return answer | {k: v for k, v in extra.items() if v}
