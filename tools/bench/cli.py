"""``python -m tools.bench [--runs N] [--quick | --full] [--out PATH] [--only SECTIONS] [--no-sam-build]``:
run the bench, print the table, write the results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tools.bench.config import DEFAULT_OUT, MIN_RUNS, SECTIONS, BenchConfig
from tools.bench.render import render
from tools.bench.results import run_bench


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description="benchmarks as ratios against same-run baselines"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help=f"fresh runs per figure (>= {MIN_RUNS}; default 5)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smoke mode: small workloads, no sam build")
    mode.add_argument(
        "--full",
        action="store_true",
        help="the literal workloads: 1,000-event burst, 1,000-link delete timed",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default %(default)s)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    parser.add_argument("--no-sam-build", action="store_true", help="measure .aws-sam/build as it is")
    return parser


def config_from(argv: list[str] | None) -> BenchConfig:
    """The configuration the command line asks for; exits with usage on a bad argument."""
    parser = _parser()
    args = parser.parse_args(argv)
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    overrides: dict[str, Any] = {"sections": sections, "out": args.out}
    if args.runs is not None:
        if args.runs < MIN_RUNS:
            parser.error(f"--runs must be at least {MIN_RUNS}")
        overrides["runs"] = args.runs
    if args.no_sam_build:
        overrides["sam_build"] = False
    if args.quick:
        return BenchConfig.quick_mode(**overrides)
    if args.full:
        return BenchConfig.full_mode(**overrides)
    return BenchConfig(**overrides)


def main(argv: list[str] | None = None) -> int:
    cfg = config_from(argv)
    results = run_bench(cfg)
    for line in render(results):
        print(line)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {cfg.out}")
    return 0
