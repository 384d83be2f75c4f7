"""1. Cold start, parent side: fresh processes (``child_cold`` per function, ``child_baseline``) timed from
spawning them to reading their answer, and ``-X importtime`` read back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from typing import IO, Any

from local import make_events
from local.stack import LAYER_PATHS, function_template_props
from local.template import ROOT
from tools.bench.config import COLD_EVENTS, FUNCTIONS, GOALS, LINKS_PATH, log, median, ratio
from tools.bench.world import Bench

CHILD = "tools.bench.child_cold"
BASELINE_CHILD = "tools.bench.child_baseline"
ANSWER_PREFIX = "BENCH "

_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str, top: int = 10) -> dict[str, Any]:
    """``-X importtime`` lines: the top modules by cumulative time, and self time summed per package."""
    rows = []
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            rows.append((m.group(4), int(m.group(1)), int(m.group(2)), (len(m.group(3)) - 1) // 2))
    by_package: Counter[str] = Counter()
    for name, self_us, _, _ in rows:
        by_package[name.split(".")[0]] += self_us
    ranked = sorted(rows, key=lambda r: -r[2])[:top]
    return {
        "total_ms": round(sum(r[1] for r in rows) / 1000, 1),
        "modules": len(rows),
        "top_cumulative": [
            {"module": n, "cumulative_ms": round(c / 1000, 1), "self_ms": round(s / 1000, 1), "depth": d}
            for n, s, c, d in ranked
        ],
        "top_packages_self": [
            {"package": p, "self_ms": round(us / 1000, 1)} for p, us in by_package.most_common(top)
        ],
    }


@dataclass
class ChildRun:
    wall_s: float
    import_s: float
    first_event_s: float
    result: Any
    stderr: str
    startup_s: float = 0.0  # process start until the child module's first line (interpreter, site, runpy)
    teardown_s: float = 0.0  # answer line to process end (0 when killed after answering)
    links_created: int = 0
    data: dict[str, Any] | None = None  # the whole answer (a traced run's trace is in it)


def _child_env(function_env: dict[str, str]) -> dict[str, str]:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ", "SYSTEMROOT") if k in os.environ}
    # The samples are signed once, long ago: widen the signature and event-age windows for them, as
    # events/env.json does.
    return {**base, **function_env, **make_events.SAMPLE_ENV}


def _read_answer(stdout: IO[str]) -> tuple[str | None, float]:
    """The child's answer line and when it was read (0.0 when the child ended without one)."""
    for line in stdout:
        if line.startswith(ANSWER_PREFIX):
            return line, time.perf_counter()
    return None, 0.0


def _spawn(module: str, spec: dict[str, Any], env: dict[str, str], importtime: bool) -> ChildRun:
    """Run one child, ``python -m module SPEC`` in the repository root; its wall time is the parent's clock
    from spawning it to reading its answer line (Lambda freezes a process after an invocation, it does not
    tear it down, so the exit is timed apart)."""
    argv = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", module, json.dumps(spec)]
    with tempfile.TemporaryFile("w+") as err:
        epoch = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(  # noqa: S603  # nosec B603  # our own interpreter and module, no shell
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True
        )
        assert proc.stdout is not None
        answer, answered = _read_answer(proc.stdout)
        if answer is not None and not importtime:
            proc.kill()  # Lambda freezes the process here; its teardown is no part of a cold start
            proc.wait(timeout=60)
            code, ended = 0, answered
        else:
            proc.stdout.read()
            code = proc.wait(timeout=180)
            ended = time.perf_counter()
        proc.stdout.close()
        err.seek(0)
        stderr = err.read()
    if code != 0 or answer is None:
        raise RuntimeError(f"cold-start child failed ({code}): {stderr[-2000:]}")
    data = json.loads(answer[len(ANSWER_PREFIX) :])
    return ChildRun(
        answered - started,
        data["import_s"],
        data["first_event_s"],
        data["result"],
        stderr,
        startup_s=data["epoch_start"] - epoch,
        teardown_s=ended - answered,
        data=data,
    )


def _cold_spec(name: str) -> dict[str, Any]:
    props = function_template_props(name)
    return {
        "function": name,
        "code_dir": str(ROOT / props["CodeUri"]),
        "handler": str(props["Handler"]),
        "layers": [str(p) for p in LAYER_PATHS],
        "event": str(make_events.EVENTS / COLD_EVENTS[name]),
        "memory": int(props.get("MemorySize", 128)),
        "timeout": float(props.get("Timeout", 3)),
    }


def _first_event_ok(name: str, result: Any) -> bool:
    """Answered, and not ignored: a cold start that did no work would measure nothing."""
    if name == "RetryWorkerFunction":
        return isinstance(result, dict) and result.get("batchItemFailures") == []
    return (
        isinstance(result, dict)
        and result.get("statusCode") == 200
        and '"ignored"' not in str(result.get("body", ""))
    )


BARE = "bare-import"


def cold_start_once(b: Bench, name: str | None, *, importtime: bool = False, trace: bool = False) -> ChildRun:
    """One fresh process: ``name``'s handler on its sample event (fresh stack, sandbox without links), the
    baseline when ``name`` is None, or the import baseline (``import boto3, requests``) for ``BARE``."""
    if name is None:
        return _spawn(BASELINE_CHILD, {"function": "baseline"}, b.baseline_env, importtime)
    if name == BARE:
        return _spawn(BASELINE_CHILD, {"function": BARE, "bare": True}, b.baseline_env, importtime)
    stack = b.new_stack()
    b.reset_sandbox()
    before = len(b.sandbox.calls)
    spec = {**_cold_spec(name), "trace": trace}
    run = _spawn(CHILD, spec, _child_env(stack.function_env(name)), importtime)
    calls = b.sandbox.calls[before:]
    run.links_created = sum(
        1 for c in calls if c.method == "POST" and c.path == LINKS_PATH and c.status == 201
    )
    if not _first_event_ok(name, run.result):
        raise RuntimeError(f"{name} did not serve its first event: {str(run.result)[:500]}")
    return run


def _median_of(runs: list[ChildRun], attr: str) -> float:
    return round(median(getattr(run, attr) for run in runs), 4)


def _baseline_row(runs: list[ChildRun], importtime: dict[str, Any]) -> dict[str, Any]:
    return {
        "what": f"python -m {BASELINE_CHILD}: import boto3, requests + dynamodb, sqs, secretsmanager "
        "clients + Session",
        "median_s": round(median(run.wall_s for run in runs), 4),
        "runs_s": [round(run.wall_s, 4) for run in runs],
        "startup_median_s": _median_of(runs, "startup_s"),
        "imports_and_clients_median_s": _median_of(runs, "import_s"),
        "importtime": importtime,
    }


def _function_row(
    name: str, runs: list[ChildRun], base: float, bare_import: float, importtime: dict[str, Any]
) -> dict[str, Any]:
    wall = median(run.wall_s for run in runs)
    imported = median(run.import_s for run in runs)
    return {
        "event": f"events/{COLD_EVENTS[name]}",
        "median_s": round(wall, 4),
        "runs_s": [round(run.wall_s, 4) for run in runs],
        "ratio": ratio(wall, base),
        "goal": GOALS["cold_start_ratio"],
        "meets_goal": ratio(wall, base) <= GOALS["cold_start_ratio"],
        "startup_median_s": _median_of(runs, "startup_s"),
        "import_median_s": _median_of(runs, "import_s"),
        "import_ratio": ratio(imported, bare_import),
        "import_goal": GOALS["cold_import_ratio"],
        "import_meets_goal": ratio(imported, bare_import) <= GOALS["cold_import_ratio"],
        "first_event_median_s": _median_of(runs, "first_event_s"),
        "links_created_per_run": [run.links_created for run in runs],
        "importtime": importtime,
    }


TRACED_RUNS = 3


def breakdown(trace: list[dict[str, Any]], handler_at_ms: float) -> dict[str, Any]:
    """A traced cold start: the requests (and clients made) in order, split at the moment the handler
    module was imported, and the time they took summed per kind (``aws dynamodb``, ``zendesk`` ...)."""
    steps = sorted(trace, key=lambda s: float(s["at_ms"]))
    totals: dict[str, dict[str, float]] = {}
    for step in steps:
        words = str(step["what"]).split()
        kind = f"aws {words[1].split('.')[0]}" if words[0] == "aws" else words[0]
        phase = "import" if float(step["at_ms"]) < handler_at_ms else "first event"
        row = totals.setdefault(f"{phase}: {kind}", {"count": 0, "ms": 0.0})
        row["count"] += 1
        row["ms"] = round(row["ms"] + float(step["ms"]), 2)
    return {
        "handler_imported_at_ms": handler_at_ms,
        "steps": [
            {**step, "phase": "import" if float(step["at_ms"]) < handler_at_ms else "first event"}
            for step in steps
        ],
        "totals": totals,
    }


def _traced(b: Bench, name: str) -> dict[str, Any]:
    """The trace of the run with the median first event among a few traced ones."""
    runs = sorted(
        (cold_start_once(b, name, trace=True) for _ in range(TRACED_RUNS)), key=lambda r: r.first_event_s
    )
    chosen = runs[len(runs) // 2]
    data = chosen.data or {}
    found = breakdown(list(data.get("trace", [])), float(data.get("handler_at_ms", 0.0)))
    found["first_event_s"] = round(chosen.first_event_s, 4)
    found["import_s"] = round(chosen.import_s, 4)
    found["traced_runs_first_event_s"] = [round(r.first_event_s, 4) for r in runs]
    return found


def bench_cold_start(b: Bench) -> dict[str, Any]:
    runs = b.cfg.runs
    b.baseline_env = _child_env(b.new_stack().function_env("JiraWebhookFunction"))
    subjects: list[str | None] = [None, BARE, *FUNCTIONS]
    done: dict[str | None, list[ChildRun]] = {s: [] for s in subjects}
    for r in range(runs):
        for subject in subjects[r % len(subjects) :] + subjects[: r % len(subjects)]:
            done[subject].append(cold_start_once(b, subject))
        log(f"  cold start: round {r + 1}/{runs}")
    importtime = {
        str(s or "baseline"): parse_importtime(cold_start_once(b, s, importtime=True).stderr)
        for s in subjects
    }
    traces = {name: _traced(b, name) for name in FUNCTIONS}
    base = median(run.wall_s for run in done[None])
    bare = median(run.import_s for run in done[BARE])
    return {
        "what": "wall time from spawning the process to reading its answer to the first event (parent's "
        "clock), median of runs; the process is then killed (Lambda freezes it, it does not exit)",
        "runs": runs,
        "baseline": _baseline_row(done[None], importtime["baseline"]),
        "import_baseline": {
            "what": f"python -m {BASELINE_CHILD} with bare: import boto3, requests and nothing more",
            "import_median_s": round(bare, 4),
            "runs_s": [round(run.import_s, 4) for run in done[BARE]],
            "importtime": importtime[BARE],
        },
        "functions": {
            name: _function_row(name, done[name], base, bare, importtime[name]) for name in FUNCTIONS
        },
        "first_event_breakdown": traces,
    }
