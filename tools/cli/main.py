"""`linksync`: the operator's command-line tool, for a deployed stack (``--stack NAME``) or the local one
(``make serve``, the default when it runs).

Every failure the operator can fix ends in one line on stderr and exit status 2; an interrupted command
exits 130.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from tools.cli import inspect, queues, reconcile, render
from tools.cli.target import CliError, Target, choose

err = Console(stderr=True, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--stack", help="a deployed stack's name (default: the local stack of `make serve`)")
@click.option("--region", help="the deployed stack's AWS region (default: your AWS configuration's)")
@click.option("--local", "local", is_flag=True, help="the local stack of `make serve`")
@click.pass_context
def cli(ctx: click.Context, stack: str | None, region: str | None, local: bool) -> None:
    """Run and watch zendesk-jira-linksync."""
    ctx.obj = lambda: choose(stack, region, local)


@cli.command("reconcile")
@click.option("--mode", type=click.Choice(["full", "incremental"]), default="incremental", show_default=True)
@click.option("--apply", is_flag=True, help="repair what differs (default: a dry run that only reports)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.pass_obj
def reconcile_command(target: Callable[[], Target], mode: str, apply: bool, as_json: bool) -> None:
    """Compare what Jira and Zendesk hold with the links that should exist, and (with --apply) repair it."""
    out = Console()
    with out.status("starting the job", spinner="dots") as status:
        answer = reconcile.run(
            target(), mode=mode, apply=apply, progress=lambda a: status.update(render.progress_line(a))
        )
    if as_json:
        click.echo(json.dumps(answer, indent=2, default=str))
    else:
        render.reconcile_report(out, answer)
    if answer.get("error"):
        raise SystemExit(1)


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@click.pass_obj
def status_command(target: Callable[[], Target], as_json: bool) -> None:
    """Ledger counts, queues, dead letters by reason, the Zendesk budget, the last reconcile jobs."""
    found = inspect.status(target())
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
    else:
        render.status(Console(), found)


@cli.command("links")
@click.argument("issue_or_ticket")
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@click.pass_obj
def links_command(target: Callable[[], Target], issue_or_ticket: str, as_json: bool) -> None:
    """What is linked to ISSUE-KEY or TICKET-ID, who wants each link, and what Zendesk itself has."""
    found = inspect.links(target(), issue_or_ticket)
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
    else:
        render.links(Console(), found)


@cli.group("dlq")
def dlq() -> None:
    """The dead-letter queue: operations that failed for good, each with its reason."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@click.pass_obj
def dlq_list(target: Callable[[], Target], as_json: bool) -> None:
    """Dead letters grouped by reason, with the operation of each."""
    t = target()
    url = t.output("RetryDeadLetterQueueUrl")
    letters = queues.hold_all(t.sqs, url)
    queues.release(t.sqs, url, letters)
    if as_json:
        click.echo(
            json.dumps([{"reason": d.reason, "operation": d.operation, "message": d.body} for d in letters])
        )
    else:
        render.dead_letters(Console(), letters)


@dlq.command("redrive")
@click.option("--reason", help="only the letters whose reason contains this (e.g. 403, ZendeskAuthError)")
@click.option("--dry-run", is_flag=True, help="say what would move, move nothing")
@click.pass_obj
def dlq_redrive(target: Callable[[], Target], reason: str | None, dry_run: bool) -> None:
    """Move dead letters back to the retry queue with a fresh attempt budget (fix their cause first)."""
    t = target()
    dead, retry = t.output("RetryDeadLetterQueueUrl"), t.output("RetryQueueUrl")
    letters = queues.hold_all(t.sqs, dead)
    chosen = [d for d in letters if reason is None or reason.lower() in d.reason.lower()]
    queues.release(t.sqs, dead, [d for d in letters if d not in chosen])
    if dry_run:
        queues.release(t.sqs, dead, chosen)
        click.echo(f"would move {len(chosen)} of {len(letters)} dead letter(s) back to the retry queue")
        return
    moved, skipped = queues.redrive(t.sqs, dead, retry, chosen)
    queues.release(t.sqs, dead, [d for d in chosen if queues.fresh_task(d) is None])
    click.echo(
        f"moved {moved} dead letter(s) back to the retry queue"
        + (f"; {skipped} are not tasks, left" if skipped else "")
    )


@dlq.command("purge")
@click.option("--yes", is_flag=True, help="do not ask")
@click.pass_obj
def dlq_purge(target: Callable[[], Target], yes: bool) -> None:
    """Delete every dead letter, for good."""
    t = target()
    url = t.output("RetryDeadLetterQueueUrl")
    count = int(
        t.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    if not yes and not sys.stdin.isatty():
        raise CliError("not on a terminal, so nobody can confirm: pass --yes to purge")
    if not yes and not click.confirm(f"delete all {count} dead letter(s) of {t.name}, for good?"):
        raise CliError("nothing deleted")
    t.sqs.purge_queue(QueueUrl=url)
    click.echo(f"purged the dead-letter queue of {t.name}")


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="linksync", standalone_mode=False)
    except CliError as e:
        err.print(f"linksync: {e}", style="red", highlight=False)
        return 2
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (ClientError, BotoCoreError) as e:
        err.print(f"linksync: AWS refused or failed the call: {e}", style="red", highlight=False)
        return 2
    except click.exceptions.Abort:
        err.print("linksync: interrupted (a deployed job goes on; `linksync reconcile` follows it again)")
        return 130
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
