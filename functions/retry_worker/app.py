"""RetryWorkerFunction: replays link operations from the SQS retry queue.

Powertools batch processing with partial batch failures: a record whose operation could not even be
re-queued is reported failed, SQS delivers it again, and after the redrive limit it lands in the DLQ.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from linksync.config import Cached
from linksync.observability import capture_lambda_handler
from linksync.services import build_services
from linksync.worker import RetryWorker

logger = Logger()
metrics = Metrics()
SERVICES = Cached(partial(build_services, metrics=metrics, logger=logger))
processor = BatchProcessor(event_type=EventType.SQS)
worker = RetryWorker(SERVICES.get, logger=logger)


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    worker.start(context)
    return dict(
        process_partial_response(
            event=event, record_handler=worker.handle_record, processor=processor, context=context
        )
    )
