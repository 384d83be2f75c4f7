"""The arithmetic behind the bench's derived figures, kept pure so the unit tests can check it."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def fault_floor(rate: float) -> float:
    """Calls per link change if every change took one call and only the faults cost more: each call fails
    with probability ``rate``, so a change takes 1 / (1 - rate) calls on average."""
    if not 0 <= rate < 1:
        raise ValueError(f"a fault rate is in [0, 1): {rate}")
    return 1 / (1 - rate)


def ideal_seconds(calls: int, per_minute: int) -> float:
    """The least time ``calls`` calls take under a budget of ``per_minute`` calls a minute."""
    if per_minute <= 0:
        raise ValueError("a budget of calls per minute is positive")
    return calls * 60 / per_minute


def utilisation(
    times: Iterable[float], start: float, end: float, per_minute: int, *, burst_seconds: float = 0.0
) -> float | None:
    """The share of the budget used between ``start`` and ``end``: calls made then (``times``, in seconds on
    the same clock) over what the budget allows in that time, its burst (``burst_seconds`` worth of calls
    that may go at once) included. None for an empty window."""
    span = end - start
    if span <= 0:
        return None
    made = sum(1 for t in times if start <= t <= end)
    return made / ((span + burst_seconds) * per_minute / 60)


def per_bin(times: Iterable[float], start: float, end: float, width: float) -> list[int]:
    """Calls in each ``width``-second bin from ``start`` (the last bin may be partial) up to ``end``."""
    if width <= 0 or end < start:
        return []
    bins = [0] * max(1, math.ceil((end - start) / width))
    for t in times:
        if start <= t <= end:
            bins[min(len(bins) - 1, int((t - start) // width))] += 1
    return bins


def queued_per_operation(bodies: Iterable[str]) -> Counter[str]:
    """How often each operation was put on the retry queue, from the SQS message bodies sent: an operation
    is its kind and fields (``op``, ids), whatever its attempt count or reserved turn."""
    seen: Counter[str] = Counter()
    for body in bodies:
        try:
            message = json.loads(body)
        except ValueError:
            continue
        if not isinstance(message, dict) or "op" not in message:
            continue
        ident = {k: v for k, v in message.items() if k not in ("attempt", "reserved_at", "queued_at", "v")}
        ident.pop("last_error", None)
        seen[json.dumps(ident, sort_keys=True)] += 1
    return seen


def distribution(counts: Iterable[int], total: int) -> dict[int, int]:
    """How many of ``total`` operations were queued 0, 1, 2, ... times (``counts``: one per queued one)."""
    dist = Counter(counts)
    dist[0] += total - sum(dist.values())
    if dist[0] <= 0:
        del dist[0]
    return dict(sorted(dist.items()))


def pages_per_started(pages: int, items: int, unit: int) -> float | None:
    """Page reads per started ``unit`` of items (1.0: exactly one page per 100 issues, say)."""
    if unit <= 0:
        raise ValueError("a page holds at least one item")
    needed = math.ceil(items / unit)
    return round(pages / needed, 3) if needed else None


def beyond_floor(call_kinds: Mapping[str, Sequence[int]], changes: int, rate: float) -> dict[str, Any]:
    """Where calls beyond the fault floor went: every kind's calls per link change, and the excess of the
    whole over ``changes * floor``. ``call_kinds``: kind -> (made, failed by a fault)."""
    made = {k: int(v[0]) for k, v in call_kinds.items()}
    total = sum(made.values())
    floor = fault_floor(rate)
    ranked = sorted(made.items(), key=lambda kv: -kv[1])
    per_change = {k: round(n / changes, 3) for k, n in ranked} if changes else {}
    writes = made.get("create link", 0) + made.get("delete link", 0)
    return {
        "calls": total,
        "per_change": round(total / changes, 3) if changes else None,
        "floor": round(floor, 3),
        "excess_per_change": round(total / changes - floor, 3) if changes else None,
        "by_kind_per_change": per_change,
        # creates and deletes beyond one per change, at the floor's price, and everything else
        "writes_per_change": round(writes / changes, 3) if changes else None,
        "other_per_change": round((total - writes) / changes, 3) if changes else None,
    }


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` quantile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]
