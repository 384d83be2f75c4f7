"""The bench's pictures, drawn from its results file with matplotlib (Agg, no display).

``python -m tools.bench.plots RESULTS.json OUT_DIR``, run by ``tools.bench.cli`` with the plotting
virtualenv's interpreter (``.venv-plot``, made by ``make bench`` from ``tools/requirements/plot.txt``): the
dev venv, and so the tests and CI, do without matplotlib. It imports nothing of the repository's but this
file, and writes:

- ``budget.png``: links made over time in the call-budget burst, against the ideal (the budget's rate).
- ``faults.png``: Zendesk calls per link change against the fault rate, beside the floor 1 / (1 - rate).

It prints one line per picture written; a section that was not run is skipped with a line saying so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

WIDTH, HEIGHT, DPI = 7.5, 4.2, 110


def _pyplot() -> Any:
    import matplotlib  # type: ignore[import-not-found,unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]

    return plt


def budget_png(budget: dict[str, Any], out: Path) -> None:
    plt = _pyplot()
    n, per_minute = int(budget["changes"]), int(budget["per_minute"])
    created = [float(t) for t in budget["created_at_s"]]
    ideal = float(budget["ideal_s"])
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    xs = [0.0, *created]
    ys = list(range(len(xs)))
    ax.step(xs, ys, where="post", color="#1f77b4", linewidth=1.8, label="links made")
    ax.plot([0, ideal], [0, n], color="#555555", linestyle="--", label=f"ideal: {per_minute} calls a minute")
    goal = ideal * float(budget["goals"]["time_vs_ideal"]["goal"])
    ax.axvline(goal, color="#d62728", linestyle=":", label=f"goal: {goal:.0f} s (1.25x the ideal)")
    if budget.get("converged_s") is not None:
        ax.annotate(
            f"done at {budget['converged_s']:.0f} s",
            xy=(float(budget["converged_s"]), n),
            xytext=(-110, -30),
            textcoords="offset points",
            arrowprops={"arrowstyle": "->", "color": "#1f77b4"},
        )
    scaled = " (scaled down)" if budget.get("scaled") else ""
    ax.set_title(f"{n} Jira link changes under ZendeskCallsPerMinute={per_minute}{scaled}")
    ax.set_xlabel("seconds since the first webhook")
    ax.set_ylabel("links created in Zendesk")
    ax.set_xlim(0, max(goal, xs[-1]) * 1.05)
    ax.set_ylim(0, n * 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def faults_png(faults: dict[str, Any], out: Path) -> None:
    plt = _pyplot()
    sweep = faults["sweep"]
    rates = [float(r["fault_rate"]) for r in sweep]
    per_change = [r["zendesk_calls_per_link_change"] for r in sweep]
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    top = max([*rates, 0.5])
    grid = [i * top / 100 for i in range(101)]
    ax.plot(
        [100 * p for p in grid],
        [1 / (1 - p) for p in grid],
        color="#555555",
        linestyle="--",
        label="floor 1 / (1 - rate)",
    )
    ax.plot([100 * p for p in rates], per_change, marker="o", color="#1f77b4", label="measured (soak)")
    for rate, value in zip(rates, per_change, strict=True):
        if value is not None:
            ax.annotate(
                f"{value:.2f}", xy=(100 * rate, value), xytext=(4, 6), textcoords="offset points", fontsize=8
            )
    goal = faults["goal"]
    ax.scatter(
        [100 * float(goal["fault_rate"])],
        [float(goal["goal"])],
        marker="*",
        s=140,
        color="#d62728",
        zorder=5,
        label=f"goal at {float(goal['fault_rate']):.0%}: <= {goal['goal']}",
    )
    events = sweep[0]["events"] if sweep else 0
    ax.set_title(f"Zendesk calls per link change under faults (soak, {events} events per rate)")
    ax.set_xlabel("Zendesk/Jira fault rate, %")
    ax.set_ylabel("Zendesk calls per link change")
    ax.set_ylim(0, max([*(v for v in per_change if v is not None), 2.0]) * 1.15)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def draw(results: dict[str, Any], out_dir: Path) -> list[str]:
    """Every picture the results allow; one line each on what was written or skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    budget = results.get("budget", {})
    if "created_at_s" in budget:
        budget_png(budget, out_dir / "budget.png")
        lines.append(f"wrote {out_dir / 'budget.png'}")
    else:
        lines.append("budget.png: not drawn (the budget section did not run)")
    faults = results.get("economy", {}).get("under_faults", {})
    if faults.get("sweep"):
        faults_png(faults, out_dir / "faults.png")
        lines.append(f"wrote {out_dir / 'faults.png'}")
    else:
        lines.append("faults.png: not drawn (the economy section did not run)")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tools.bench.plots RESULTS.json OUT_DIR", file=sys.stderr)
        return 2
    try:
        _pyplot()
    except ImportError:
        print("plots: matplotlib is not installed for this interpreter (make bench makes .venv-plot)")
        return 3
    results = json.loads(Path(argv[0]).read_text())
    for line in draw(results, Path(argv[1])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
