"""What the CLI prints: a progress line while a job runs, and tables when it is done (colours where the
terminal has them; plain text otherwise, as rich decides)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from linksync.reconcile.plan import REPORT_KEYS

SHOWN_PAIRS = 20


def progress_line(answer: dict[str, Any]) -> str:
    report = answer.get("report", {})
    counts = ", ".join(f"{k} {report[k]}" for k in REPORT_KEYS if report.get(k))
    note = answer.get("waiting") or answer.get("busy") or ""
    head = f"{answer.get('mode')} job {answer.get('job_id', '')}: {answer.get('phase')}"
    return f"{head}  {counts}  {note}".strip()


def reconcile_report(out: Console, answer: dict[str, Any]) -> None:
    what = "applied" if answer.get("apply") else "dry run (nothing changed)"
    out.print(f"[bold]{answer.get('mode')} reconcile[/bold] {answer.get('job_id')}: {what}")
    if answer.get("error"):
        out.print(f"[red]failed:[/red] {answer['error']}")
    table = Table(show_header=True, header_style="bold")
    table.add_column("pairs")
    table.add_column("count", justify="right")
    report = answer.get("report", {})
    for name in REPORT_KEYS:
        value = report.get(name, 0)
        style = "yellow" if value and name in ("missing", "dead", "unwanted", "ledger_repaired") else ""
        table.add_row(name, f"[{style}]{value}[/{style}]" if style else str(value))
    out.print(table)
    pairs = answer.get("differing", [])
    if not pairs:
        out.print("no pair differs from what should exist")
        return
    listing = Table(show_header=True, header_style="bold", title="pairs that differ")
    for column in ("issue", "ticket", "class", "ledger"):
        listing.add_column(column)
    for pair in pairs[:SHOWN_PAIRS]:
        listing.add_row(
            str(pair.get("issue_key") or pair.get("issue_id")),
            str(pair.get("ticket_id")),
            str(pair.get("class")),
            "repaired"
            if pair.get("ledger_wrong") and answer.get("apply")
            else ("wrong" if pair.get("ledger_wrong") else ""),
        )
    out.print(listing)
    if len(pairs) > SHOWN_PAIRS:
        out.print(f"... and {len(pairs) - SHOWN_PAIRS} more (--json lists them all)")
