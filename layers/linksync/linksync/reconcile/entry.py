"""The reconcile function's edge: an invocation in, one slice of the job, the result out.

The event is ``{"mode": "full" | "incremental", "apply": true | false}`` or a scheduled EventBridge event
(incremental, applied). When the slice ends before the job does, and the invocation did not come from the
template's continuation loop, the loop (a Step Functions state machine) is started for this job, so a job
over 100,000 tickets runs to its end unattended.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ..errors import InvalidPayloadError
from ..services import Services
from ..timing import Deadline
from .job import JobRequest, Reconciler
from .merge import Merger
from .read import Reader
from .store import JobStore

# What a slice keeps in hand at the end of its invocation: one step (a page, or a chunk of pairs) fits.
STEP_RESERVE_SECONDS = 60.0


def build_reconciler(
    svc: Services, *, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep
) -> Reconciler:
    sync = svc.sync
    store = JobStore(svc.settings.links_table_name, client=svc.dynamodb, clock=clock)
    reader = Reader(
        jira=svc.jira,
        zendesk=svc.zendesk,
        store=store,
        ledger=sync.ledger,
        entities=sync.entities,
        jira_ticket_field=svc.settings.jira_ticket_field,
        zendesk_issue_field=svc.settings.zendesk_issue_field,
        budget=sync.turns.budget,
        clock=clock,
    )
    merger = Merger(store=store, ledger=sync.ledger, sync=sync, clock=clock)
    return Reconciler(
        reader=reader, merger=merger, store=store, handoff=sync.handoff, clock=clock, sleep=sleep
    )


class ReconcileHandler:
    def __init__(
        self, services: Callable[[], Services], *, logger: Any = None, stepfunctions: Any = None
    ) -> None:
        self._services = services
        self._log = logger
        self._stepfunctions = stepfunctions

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        try:
            request = JobRequest.from_event(event)
        except InvalidPayloadError as e:
            return {"error": e.message}
        svc = self._services()
        remaining = Deadline.of(context).remaining
        answer = build_reconciler(svc).run(request, Deadline(remaining, STEP_RESERVE_SECONDS))
        arn = svc.settings.reconcile_state_machine_arn
        if not answer["done"] and not request.continuation and arn:
            answer["continued"] = self._continue(arn, request, str(answer["job_id"]))
        return answer

    def _continue(self, arn: str, request: JobRequest, job_id: str) -> bool:
        """Start the continuation loop for this job; False if one runs (or ran) for it already."""
        client = self._stepfunctions
        if client is None:
            import boto3

            client = self._stepfunctions = boto3.client("stepfunctions")
        payload = {"mode": request.mode, "apply": request.apply, "continuation": True}
        try:
            client.start_execution(stateMachineArn=arn, name=job_id, input=json.dumps(payload))
        except client.exceptions.ExecutionAlreadyExists:
            return False
        return True
