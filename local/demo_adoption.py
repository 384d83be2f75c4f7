"""`make demo`, chapter 9: adopting an account that already holds data, through the operator's CLI.

Issues and tickets that name each other, a link made before, links to a deleted issue and to a deleted
ticket, and one an agent made by hand: no webhook ever announced any of it. A dry run reports what differs
and changes nothing; the applied run repairs it (and, on the way, the pair the dead-letter queue parked in
chapter 7, now that Zendesk accepts it); a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.run import LocalRun
from local.worlds import Pair, small_account
from tools.cli import reconcile
from tools.cli.target import Target

LINKS_PATH = "/api/services/jira/links"
# The pairs the story of chapters 1-8 leaves wanted (the 403 one among them: it was never created).
STORY_WANTED = {("10002", "35438"), ("10002", "35442"), ("10003", "35436"), ("10003", "35440")}


def _summary(answer: dict[str, Any]) -> str:
    report = answer["report"]
    return ", ".join(f"{k} {v}" for k, v in report.items())


def _mutations(run: LocalRun) -> int:
    assert run.sandbox is not None
    return sum(
        1 for c in run.sandbox.calls if c.method in ("POST", "DELETE") and c.path.startswith(LINKS_PATH)
    )


def adopt(run: LocalRun, out: Callable[[str], None]) -> list[str]:
    """Play the chapter; returns what diverged from what should happen (nothing, when all is well)."""
    assert run.sandbox is not None
    out("9. An account with data from before linksync: fields naming each other, an old link, links to a")
    out("   deleted issue and a deleted ticket, one made by hand. No webhook ever said a word of it.")
    account = small_account(run.sandbox)
    state = run.describe()
    target = Target(
        name="local",
        region=str(state["region"]),
        outputs=dict(state["outputs"]),
        local=True,
        aws_endpoint=run.moto_url,
        lambda_endpoint=run.gateway.url,
    )
    problems: list[str] = []
    before = _mutations(run)
    dry = reconcile.run(target, mode="full", apply=False, progress=lambda _: None)
    out(f"  linksync reconcile --mode full          -> {_summary(dry)}")
    expected_missing = len((account.desired - account.linked) | {("10002", "35442")})
    if dry["report"]["missing"] != expected_missing or _mutations(run) != before:
        problems.append(
            f"the dry run reported {dry['report']} and changed {_mutations(run) - before} link(s)"
        )
    applied = reconcile.run(target, mode="full", apply=True, progress=lambda _: None)
    out(f"  linksync reconcile --mode full --apply  -> {_summary(applied)}")
    wanted: set[Pair] = STORY_WANTED | account.after_apply
    links = run.sandbox.link_pairs()
    if set(links) != wanted or len(links) != len(wanted):
        problems.append(f"after the applied run Zendesk has {sorted(links)}, expected {sorted(wanted)}")
    settled = _mutations(run)
    again = reconcile.run(target, mode="full", apply=True, progress=lambda _: None)
    out(f"  a second full run                       -> {_summary(again)}")
    report = again["report"]
    if (
        any(report[k] for k in ("missing", "dead", "unwanted", "created", "deleted"))
        or _mutations(run) != settled
    ):
        problems.append(f"the second run still found or changed something: {report}")
    return problems
