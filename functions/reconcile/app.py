"""ReconcileFunction: one slice of a reconciliation job (what Jira and Zendesk hold -> the links that should
exist), invoked directly, by its hourly schedule, or by the continuation loop until the job is done.

Thin by design: Powertools decorators, then one call into the layer's ReconcileHandler.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from linksync.config import Cached
from linksync.observability import capture_lambda_handler
from linksync.reconcile.entry import ReconcileHandler
from linksync.services import build_services

logger = Logger()
metrics = Metrics()
SERVICES = Cached(partial(build_services, metrics=metrics, logger=logger))
handle = ReconcileHandler(SERVICES.get, logger=logger)


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
