"""JiraWebhookFunction: Jira Cloud issue webhooks (created, updated, deleted) in, Zendesk links out.

Thin by design: Powertools decorators, then one call into the layer's WebhookHandler, which verifies the
signature, parses, and hands the event to the sync service.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from linksync.config import Cached
from linksync.observability import capture_lambda_handler
from linksync.services import build_services
from linksync.webhook import JIRA, WebhookHandler

logger = Logger()
metrics = Metrics()
SERVICES = Cached(partial(build_services, metrics=metrics, logger=logger))
handle = WebhookHandler(JIRA, SERVICES.get, logger=logger, metrics=metrics)


# The correlation id is set from the delivery id only once the signature holds (the header is not signed).
@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)
