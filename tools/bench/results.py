"""Running the selected sections into one results document: what was measured, on which code, and the
goals missed."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

from local.template import ROOT
from tools.bench.backfill import bench_backfill
from tools.bench.budget import bench_budget
from tools.bench.cold import bench_cold_start
from tools.bench.config import GOALS, UNLIMITED_BUDGET, BenchConfig, log
from tools.bench.economy import bench_economy
from tools.bench.scale import bench_scale
from tools.bench.size import bench_size
from tools.bench.warm import bench_warm
from tools.bench.world import FUNCTION_ERRORS, Bench

# (--only name, results key, what measures it), in the order they run on the shared stack
STACK_SECTIONS: tuple[tuple[str, str, Callable[[Bench], dict[str, Any]]], ...] = (
    ("cold", "cold_start", bench_cold_start),
    ("economy", "economy", bench_economy),
    ("warm", "warm", bench_warm),
    ("scale", "scale", bench_scale),
    ("budget", "budget", bench_budget),
    ("backfill", "backfill", bench_backfill),
)
RESULT_KEYS = ("cold_start", "warm", "economy", "budget", "backfill", "scale", "size")


def misses(results: dict[str, Any]) -> list[str]:
    out = []
    cold = results.get("cold_start", {})
    for name, row in cold.get("functions", {}).items():
        if not row["meets_goal"]:
            out.append(f"cold start {name}: {row['ratio']:.2f}x (goal <= {row['goal']}x)")
        if not row["import_meets_goal"]:
            out.append(f"cold import {name}: {row['import_ratio']:.2f}x (goal <= {row['import_goal']}x)")
    warm = results.get("warm", {})
    if "meets_goal" in warm and not warm["meets_goal"]:
        out.append(f"warm path: {warm['ratio']:.2f}x (goal <= {warm['goal']}x)")
    economy = results.get("economy", {})
    for name, row in economy.get("scenarios", {}).items():
        for key, check in row["goals"].items():
            if not check["ok"]:
                out.append(f"economy {name}: {key} = {check['value']} (goal <= {check['goal']})")
    faults = economy.get("under_faults", {}).get("goal")
    if faults and not faults["ok"]:
        out.append(
            f"economy under faults: {faults['value']} Zendesk calls per link change at "
            f"{faults['fault_rate']:.0%} faults (goal <= {faults['goal']})"
        )
    for section in ("budget", "backfill"):
        for key, check in results.get(section, {}).get("goals", {}).items():
            if not check["ok"]:
                op = check.get("op", "<=")
                out.append(f"{section}: {key} = {check['value']} (goal {op} {check['goal']})")
    return out


def git_state() -> dict[str, Any]:
    """Which code was measured: HEAD and the files changed on top of it."""
    git = shutil.which("git")
    if not git:
        return {}

    def out(*args: str) -> str:
        done = subprocess.run(  # noqa: S603  # nosec B603  # fixed argv, no shell
            [git, *args], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip()

    return {
        "head": out("rev-parse", "--short", "HEAD"),
        "changed": [line[3:] for line in out("status", "--short").splitlines()],
    }


def _meta(cfg: BenchConfig) -> dict[str, Any]:
    return {
        "runs": cfg.runs,
        "quick": cfg.quick,
        "full": cfg.full,
        "sandbox_tcp_nodelay": True,  # local/vendors.py's handler sets it
        "moto": "a separate moto server process",
        "sections": list(cfg.sections),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "goals": GOALS,
        "zendesk_calls_per_minute": UNLIMITED_BUDGET,
        "git": git_state(),
    }


def _run_stack_sections(cfg: BenchConfig, results: dict[str, Any]) -> None:
    """The selected sections that need moto and the sandbox, on one shared bench."""
    with Bench(cfg) as b:
        for section, key, fn in STACK_SECTIONS:
            if section in cfg.sections:
                log(f"{section}...")
                t0 = time.perf_counter()
                results[key] = fn(b)
                log(f"{section}: {time.perf_counter() - t0:.1f} s")


def run_bench(cfg: BenchConfig) -> dict[str, Any]:
    started = time.perf_counter()
    FUNCTION_ERRORS.errors.clear()
    results: dict[str, Any] = {"meta": _meta(cfg)}
    skipped = {"skipped": "not selected (--only)"}
    for key in RESULT_KEYS:
        results[key] = dict(skipped)
    if any(s != "size" for s in cfg.sections):
        _run_stack_sections(cfg, results)
    if "size" in cfg.sections:
        results["size"] = bench_size(cfg)
    results["function_errors"] = FUNCTION_ERRORS.errors
    results["misses"] = misses(results)
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    return results
