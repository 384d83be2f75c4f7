"""Vendor timestamps as epoch milliseconds: one parser for Jira's ``updated`` and webhook times,
Zendesk's ``updated_at`` and its events' ``time``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Zendesk's event times carry nanoseconds; datetime reads six fractional digits at most.
_PAST_MICROSECONDS = re.compile(r"(\.\d{6})\d+")


def epoch_ms(value: Any, *, zone_required: bool = False) -> int | None:
    """An ISO 8601 time (``2026-12-01T10:00:00.000+0000``, ``2011-05-05T10:38:52Z``,
    ``2025-01-08T10:12:07.672717030Z``) in epoch milliseconds; None when it is absent or not one. A time
    without a zone is UTC, or refused with ``zone_required``."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(_PAST_MICROSECONDS.sub(r"\1", value.strip()))
    except ValueError:
        return None
    if when.tzinfo is None:
        if zone_required:
            return None
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(milliseconds=1)
