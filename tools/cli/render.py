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


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(show_header=True, header_style="bold", title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    return table


def status(out: Console, found: dict[str, Any]) -> None:
    ledger = found["ledger"]
    out.print(f"[bold]{found['stack']}[/bold]")
    states = ", ".join(f"{k} {v}" for k, v in sorted(ledger["states"].items())) or "none"
    out.print(f"ledger      {ledger['pairs']} pair(s): {states}; {ledger['in_flight']} with a call in flight")
    retry, dead = found["queues"]["retry"], found["queues"]["dead_letter"]
    age = retry["oldest_age_seconds"]
    waiting = f"{retry['visible']} waiting, {retry['delayed']} delayed, {retry['in_flight']} being worked on"
    out.print(f"retry queue {waiting}" + (f"; oldest {age} s" if age is not None else ""))
    style = "red" if dead["messages"] else "green"
    out.print(f"dead letters [{style}]{dead['messages']}[/{style}]")
    for reason, count in dead["by_reason"].items():
        out.print(f"  {count:>5}  {reason}")
    budget = found["budget"]
    if budget["per_minute"]:
        ahead = budget["reserved_seconds_ahead"]
        load = f"calls reserved {ahead:g} s ahead (work waits its turn)" if ahead else "no backlog"
        out.print(f"Zendesk     budget {budget['per_minute']} calls a minute; {load}")
    else:
        out.print("Zendesk     calls not limited (ZendeskCallsPerMinute 0)")
    jobs = found["reconcile"]
    if not jobs:
        out.print("reconcile   no job has run yet")
    for job in jobs:
        state = "done" if job["done"] else f"running ({job['phase']})"
        report = ", ".join(f"{k} {v}" for k, v in job["report"].items() if v)
        kind = f"{job['mode']} {'applied' if job['apply'] else 'dry run'}"
        out.print(f"reconcile   {kind} {state}: {report or 'nothing'}")


def links(out: Console, found: dict[str, Any]) -> None:
    subject = found.get("issue_key") or f"ticket {found.get('ticket_id')}"
    table = _table("issue", "ticket", "wanted by", "ledger", "Zendesk links", "", title=f"links of {subject}")
    for row in found["links"]:
        ledger = (
            f"{row['ledger_state']} {row['ledger_link_id'] or ''}".strip() if row["ledger_state"] else "-"
        )
        mark = "" if row["agrees"] else "[yellow]differs[/yellow]"
        table.add_row(
            row["issue_key"] or row["issue_id"],
            row["ticket_id"],
            ", ".join(row["wanted_by"]) or "-",
            ledger,
            ", ".join(str(i) for i in row["zendesk_link_ids"]) or "-",
            mark,
        )
    out.print(table if found["links"] else f"no links for {subject}, in the ledger or in Zendesk")


def dead_letters(out: Console, letters: list[Any]) -> None:
    if not letters:
        out.print("[green]the dead-letter queue is empty[/green]")
        return
    groups: dict[str, list[Any]] = {}
    for letter in letters:
        groups.setdefault(letter.reason, []).append(letter)
    for reason, group in sorted(groups.items(), key=lambda g: -len(g[1])):
        out.print(f"[bold]{reason}[/bold] ({len(group)})")
        for letter in group[:SHOWN_PAIRS]:
            out.print(f"  {letter.operation}")
        if len(group) > SHOWN_PAIRS:
            out.print(f"  ... and {len(group) - SHOWN_PAIRS} more")
