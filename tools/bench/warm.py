"""2. Warm path: the Jira webhook's time per event in a warm in-process loop, versus the calls it made
replayed directly on pairs of their own."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from tools.bench.config import GOALS, log, median, ratio
from tools.bench.probe import Tally
from tools.bench.replay import Replayer
from tools.bench.world import Bench, answer_body, jira_http_event

_HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_WARM_IDS = re.compile(r"(?<!\d)[57]\d{7}(?!\d)")
WARM_ISSUES, WARM_TICKETS = 70_000_000, 50_000_000
FUNCTION = "JiraWebhookFunction"


def _fresh_ids(replay: int) -> Callable[[str], str]:
    """The baseline's own pairs for replay number ``replay``: issue 7xxxxxxx -> 8<replay>xxxxxx, ticket
    5xxxxxxx -> 6<replay>xxxxxx, WARM-n -> WARM<replay>B-n, and each 32-hex token (claim tokens, idempotency
    keys) a new one, consistently within the replay."""
    tokens: dict[str, str] = {}
    offset = 10_000_000 + replay * 100_000

    def fn(s: str) -> str:
        s = _HEX32.sub(lambda m: tokens.setdefault(m.group(0), uuid.uuid4().hex), s)
        s = _WARM_IDS.sub(lambda m: str(int(m.group(0)) + offset), s)
        return s.replace("WARM-", f"WARM{replay}B-")

    return fn


def _events(run: int, count: int) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        k = run * 1000 + n
        issue, ticket = str(WARM_ISSUES + k), str(WARM_TICKETS + k)
        out.append(jira_http_event("jira:issue_created", issue, f"WARM-{k + 1}", tickets=ticket))
    return out


class WarmLoop:
    """The subject (the handler on fresh pairs) and its baseline (a subject run's calls replayed)."""

    def __init__(self, b: Bench, replayer: Replayer) -> None:
        self.b = b
        self.replayer = replayer
        self._replays = iter(range(1, 1000))

    def subject(self, run: int, count: int) -> tuple[float, Tally]:
        batch = _events(run, count)
        with self.b.probe.measure(record=True) as tally:
            started = time.perf_counter()
            answers = [self.b.invoke(FUNCTION, e) for e in batch]
            seconds = time.perf_counter() - started
        bad = [a for a in answers if a.get("statusCode") != 200 or answer_body(a).get("created") != 1]
        if bad:
            raise RuntimeError(f"warm loop: {len(bad)} events did not create their link: {bad[0]}")
        return seconds / len(batch), tally

    def baseline(self, template: Tally, count: int) -> float:
        """A subject run's calls replayed on pairs of their own (a recording can be replayed many times)."""
        steps = self.replayer.plan(template, _fresh_ids(next(self._replays)))
        started = time.perf_counter()
        self.replayer.run(steps)
        return (time.perf_counter() - started) / count

    def rounds(self, runs: int, events: int) -> tuple[list[float], list[float], list[Tally]]:
        """Seconds per event of the subject and the baseline, and the subject's tallies, per round."""
        subj: list[float] = []
        base: list[float] = []
        tallies: list[Tally] = []
        for r in range(1, runs + 1):
            # Alternate which goes first; the baseline replays the latest full-size subject run.
            if r % 2 or not tallies:
                per_event, last = self.subject(r, events)
                base.append(self.baseline(last, events))
            else:
                base.append(self.baseline(tallies[-1], events))
                per_event, last = self.subject(r, events)
            subj.append(per_event)
            tallies.append(last)
            log(f"  warm path: round {r}/{runs}")
        return subj, base, tallies


def bench_warm(b: Bench) -> dict[str, Any]:
    cfg = b.cfg
    stack = b.new_stack()
    replayer = Replayer(b.moto_url, b.sandbox)
    b.defer(replayer.close)
    loop = WarmLoop(b, replayer)
    with b.functions_on(stack):
        cold = jira_http_event("jira:issue_created", "69999999", "WARM-0", tickets="49999999")
        b.invoke(FUNCTION, cold)
        warmup = max(1, cfg.warm_events // 5)
        _, first = loop.subject(0, warmup)  # warm handler, warm clients
        loop.baseline(first, warmup)
        subj, base, tallies = loop.rounds(cfg.runs, cfg.warm_events)
    total = len(tallies) * cfg.warm_events
    ops: Counter[str] = Counter()
    for t in tallies:
        ops.update(t.function_ops())
    s, bl = median(subj), median(base)
    return {
        "what": "time per event in a warm loop: Jira issue_created creating 1 link on a fresh pair, "
        "idempotency on",
        "events_per_run": cfg.warm_events,
        "runs": cfg.runs,
        "subject": {"median_ms_per_event": round(s * 1000, 3), "runs_ms": [round(x * 1000, 3) for x in subj]},
        "baseline": {
            "what": "the same DynamoDB/SQS/Zendesk calls made directly with boto3 and requests, fresh pairs",
            "median_ms_per_event": round(bl * 1000, 3),
            "runs_ms": [round(x * 1000, 3) for x in base],
            "answers_not_ok": dict(replayer.errors),
        },
        "ratio": ratio(s, bl),
        "goal": GOALS["warm_ratio"],
        "meets_goal": ratio(s, bl) <= GOALS["warm_ratio"],
        "calls_per_event": {
            "dynamodb": round(sum(t.dynamodb for t in tallies) / total, 2),
            "sqs": round(sum(t.sqs for t in tallies) / total, 2),
            "zendesk": round(sum(t.zendesk for t in tallies) / total, 2),
            "jira": round(sum(t.jira for t in tallies) / total, 2),
        },
        "aws_ops_per_event": {op: round(n / total, 2) for op, n in sorted(ops.items())},
    }
