"""Tracing only when it is on: the X-Ray SDK costs ~0.13 s of cold start just to import.

Powertools' Tracer imports and configures the X-Ray SDK even when tracing is disabled, so the handlers
wrap themselves through :func:`capture_lambda_handler`, which leaves the SDK unimported unless
``POWERTOOLS_TRACE_DISABLED`` is false (the template sets it from its ``EnableTracing`` parameter).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("1", "true", "yes")


def capture_lambda_handler[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """Powertools Tracer's ``capture_lambda_handler`` when tracing is on; the handler as it is when off."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return cast(Handler, Tracer().capture_lambda_handler(handler))
