"""A reconcile job cut into many merge steps and many slices over a seeded account ends exactly as one long
step would: no pair is judged twice (a pair whose link sat at a step's end was once judged again with only
that link, taken for unwanted, and deleted)."""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import LambdaContext, load_handler
from local.vendors import SandboxState
from local.worlds import backfill_account, seed_backfill
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration


def test_a_job_in_short_steps_and_slices_ends_exact(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import linksync.reconcile.merge as merge

    monkeypatch.setattr(merge, "CHUNK", 3)  # a step's end lands on pairs with links many times
    account = backfill_account(300)
    pipeline.sandbox.state = SandboxState()
    seed_backfill(pipeline.sandbox, account)
    handler = load_handler("ReconcileFunction")
    answers: list[dict[str, Any]] = []
    for _ in range(100):
        # 75 s of Lambda time against the job's 60 s reserve: a few seconds of work per slice
        answer = handler(
            {"mode": "full", "apply": True}, LambdaContext("ReconcileFunction", timeout_seconds=75)
        )
        answers.append(answer)
        assert "error" not in answer, answer
        if answer["done"]:
            break
    pipeline.drain()

    report = answers[-1]["report"]
    assert answers[-1]["done"] and len(answers) > 1
    assert report["unwanted"] == 0
    assert (report["desired"], report["linked"], report["dead"]) == (
        len(account.desired),
        len(account.linked),
        len(account.dead),
    )
    links = pipeline.links()
    assert set(links) == account.after_apply
    assert len(links) == len(account.after_apply)  # no duplicates
