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

from tools.cli import reconcile, render
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
