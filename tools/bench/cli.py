"""``python -m tools.bench [--runs N] [--quick | --full] [--out PATH] [--only SECTIONS] [--no-sam-build]
[--plot-python PATH | --no-plots] [--plots-dir DIR]``: run the bench, print the table, write the results and
the pictures.

What can go wrong before anything is measured ends in one line and a non-zero exit: a bad argument (2), a
dependency the dev venv lacks (3), no interpreter with matplotlib for the pictures (3; ``make bench`` makes
``.venv-plot``, or pass ``--no-plots``)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

from local.template import ROOT
from tools.bench.config import DEFAULT_OUT, MIN_RUNS, SECTIONS, BenchConfig

PLOTS_DIR = ROOT / "docs" / "bench"
DEFAULT_PLOT_PYTHON = ROOT / ".venv-plot" / "bin" / "python"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the usage block: what is wrong and where the choices are."""
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tools.bench", description="benchmarks as ratios against same-run baselines"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help=f"fresh runs per figure (>= {MIN_RUNS}; default 5)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: small workloads (the budget burst scaled to 60 changes), no sam build",
    )
    mode.add_argument(
        "--full",
        action="store_true",
        help="the literal workloads: 1,000-event burst, 1,000-link delete timed, 300-event soaks",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default %(default)s)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    parser.add_argument("--no-sam-build", action="store_true", help="measure .aws-sam/build as it is")
    plots = parser.add_mutually_exclusive_group()
    plots.add_argument(
        "--plot-python",
        type=Path,
        default=DEFAULT_PLOT_PYTHON,
        help="an interpreter with matplotlib, for the pictures (default %(default)s, made by make bench)",
    )
    plots.add_argument("--no-plots", action="store_true", help="draw no pictures")
    parser.add_argument("--plots-dir", type=Path, default=PLOTS_DIR, help="where the PNGs go (%(default)s)")
    return parser


def config_from(argv: list[str] | None) -> BenchConfig:
    """The configuration the command line asks for; exits with one line on a bad argument."""
    parser = _parser()
    args = parser.parse_args(argv)
    return _config(parser, args)


def _config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> BenchConfig:
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown or not sections:
        given = ", ".join(sorted(unknown)) or "(none given)"
        parser.error(f"unknown sections: {given}; choose from {', '.join(SECTIONS)}")
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


def plot_python_problem(python: Path) -> str | None:
    """Why ``python`` cannot draw the pictures (None: it can)."""
    if not python.exists():
        return f"no interpreter at {python}"
    done = subprocess.run(  # noqa: S603  # nosec B603  # an interpreter path, fixed argv, no shell
        [str(python), "-c", "import matplotlib"], capture_output=True, timeout=120, check=False
    )
    return None if done.returncode == 0 else f"{python} cannot import matplotlib"


def draw(python: Path, results_file: Path, out_dir: Path) -> int:
    done = subprocess.run(  # noqa: S603  # nosec B603  # our own module, fixed argv, no shell
        [str(python), "-m", "tools.bench.plots", str(results_file), str(out_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    print(done.stdout.strip())
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"bench: drawing the pictures failed: {last}", file=sys.stderr)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    cfg = _config(parser, args)
    if not args.no_plots:
        problem = plot_python_problem(args.plot_python)
        if problem:
            print(
                f"bench: {problem}: `make bench` makes .venv-plot (tools/requirements/plot.txt); "
                "or pass --plot-python PATH, or --no-plots",
                file=sys.stderr,
            )
            return 3
    try:
        from tools.bench.render import render
        from tools.bench.results import run_bench
    except ModuleNotFoundError as e:
        print(f"bench: {e.name} is not installed: run `make bench` (it makes .venv)", file=sys.stderr)
        return 3
    results = run_bench(cfg)
    for line in render(results):
        print(line)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {cfg.out}")
    if args.no_plots:
        return 0
    return 1 if draw(args.plot_python, cfg.out, args.plots_dir) else 0
