"""Reconciliation end to end: an account that already holds data, the reconcile function invoked as Lambda
would (slice after slice until done), AWS on a moto server, Zendesk and Jira on the sandbox."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from local.payloads import JIRA_TICKET_FIELD, ZENDESK_ISSUE_FIELD, jira_issue
from local.stack import LambdaContext, load_handler
from local.worlds import Account, small_account
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration

MUTATIONS = ("POST", "DELETE")


class ProcessGone(BaseException):
    """Lambda ended the process (a timeout): no except clause catches it."""


def reconcile(p: Pipeline, mode: str, *, apply: bool, slices: int = 50) -> dict[str, Any]:
    """Invoke the function until the job is done, as the continuation loop does."""
    handler = load_handler("ReconcileFunction")
    for _ in range(slices):
        answer: dict[str, Any] = handler(
            {"mode": mode, "apply": apply}, LambdaContext("ReconcileFunction", timeout_seconds=900)
        )
        assert "error" not in answer, answer
        if answer["done"]:
            return answer
    raise AssertionError(f"the job did not finish in {slices} slices: {answer}")


def mutations(p: Pipeline) -> list[str]:
    return [
        f"{c.method} {c.path}" for c in p.sandbox.calls if c.method in MUTATIONS and "/jira/links" in c.path
    ]


@pytest.fixture
def account(pipeline: Pipeline) -> Account:
    return small_account(pipeline.sandbox)


def test_a_dry_run_reports_exactly_and_changes_nothing(pipeline: Pipeline, account: Account) -> None:
    links_before = sorted(pipeline.links())

    answer = reconcile(pipeline, "full", apply=False)

    assert answer["report"] == {
        "desired": len(account.desired),
        "linked": len(account.linked),
        "missing": len(account.missing),
        "dead": len(account.dead),
        "unwanted": 0,
        "manual": len(account.manual),
        "ledger_repaired": 1,  # the correct link made before: the (empty) ledger does not know it
        "created": 0,
        "deleted": 0,
        "queued": 0,
    }
    assert mutations(pipeline) == []
    assert sorted(pipeline.links()) == links_before
    assert pipeline.ledger_links() == {}


def test_apply_gives_exactly_the_desired_and_the_live_manual_links(
    pipeline: Pipeline, account: Account
) -> None:
    (made_before,) = account.linked
    (old_link,) = [
        link for link in pipeline.sandbox.links() if (link["issue_id"], link["ticket_id"]) == made_before
    ]

    answer = reconcile(pipeline, "full", apply=True)

    assert set(pipeline.links()) == account.after_apply
    assert len(pipeline.links()) == len(account.after_apply)  # no duplicates
    assert (answer["report"]["created"], answer["report"]["deleted"]) == (
        len(account.missing),
        len(account.dead),
    )
    ledger = pipeline.ledger_links()
    for pair in account.desired:
        assert ledger[pair]["state"] == "linked"
    assert pipeline.dead_letters() == []
    # The link made before is adopted from the job's own listing: no second look at its ticket's links.
    assert ledger[made_before]["link_id"] == int(old_link["id"])
    looks = pipeline.sandbox.calls_to("GET", "/api/v2/jira/links")
    assert [c for c in looks if c.query.get("filter[ticket_id]") == [made_before[1]]] == []
    before = len(mutations(pipeline))

    again = reconcile(pipeline, "full", apply=True)  # a second full run: nothing to do, nothing done

    report = again["report"]
    assert (report["missing"], report["dead"], report["unwanted"], report["ledger_repaired"]) == (0, 0, 0, 0)
    assert (report["linked"], report["manual"]) == (len(account.desired), len(account.manual))
    assert (report["created"], report["deleted"]) == (0, 0)
    assert len(mutations(pipeline)) == before


def test_changes_made_without_webhooks_are_repaired_by_the_next_run(
    pipeline: Pipeline, account: Account
) -> None:
    reconcile(pipeline, "full", apply=True)
    done = len(mutations(pipeline))
    sandbox = pipeline.sandbox
    sandbox.set_issue_field(
        "A-1", JIRA_TICKET_FIELD, "202"
    )  # A-1 drops ticket 201 (A-2's field keeps its own)
    sandbox.set_ticket_field("207", ZENDESK_ISSUE_FIELD, "A-3")  # ticket 207 now names A-3
    sandbox.delete_issue("A-5")  # gone, with its links
    sandbox.advance(120)

    answer = reconcile(pipeline, "incremental", apply=True)

    expected = (account.after_apply - {("101", "201"), ("105", "204"), ("105", "207")}) | {("103", "207")}
    assert set(pipeline.links()) == expected
    assert answer["report"]["unwanted"] == 1
    assert answer["report"]["dead"] == 2
    assert len(mutations(pipeline)) - done == 4  # one create, three deletes: nothing else
    assert reconcile(pipeline, "full", apply=False)["report"]["missing"] == 0


def test_a_full_job_keeps_the_links_of_a_ticket_changed_in_the_exports_last_minute(
    pipeline: Pipeline, account: Account
) -> None:
    """Zendesk's export leaves out the last minute: a ticket it does not show is not taken as naming
    nothing, so the links its field wants (made by the webhook of that change) stay."""
    reconcile(pipeline, "full", apply=True)
    issue_id, ticket_id = "102", "201"  # only ticket 201's Zendesk field (A-2) wants this link
    assert (issue_id, ticket_id) in pipeline.links()
    pipeline.sandbox.set_ticket_field(ticket_id, ZENDESK_ISSUE_FIELD, account.keys[issue_id])  # now
    before = len(mutations(pipeline))

    answer = reconcile(pipeline, "full", apply=True)

    assert (issue_id, ticket_id) in pipeline.links()
    assert answer["report"]["unwanted"] == 0
    assert len(mutations(pipeline)) == before


def test_a_job_under_faults_ends_exact(pipeline: Pipeline, account: Account) -> None:
    pipeline.sandbox.set_fault_rate(0.3, seed=5, path_prefix="/")

    answer = reconcile(pipeline, "full", apply=True, slices=200)
    pipeline.sandbox.clear_faults()
    pipeline.drain(max_batches=200)  # what the job queued after a failure, the worker finishes

    assert set(pipeline.links()) == account.after_apply
    assert len(pipeline.links()) == len(account.after_apply)
    assert answer["report"]["desired"] == len(account.desired)


def test_a_job_killed_midway_resumes_from_its_checkpoint(pipeline: Pipeline, account: Account) -> None:
    from linksync.config import Cached
    from linksync.reconcile.entry import build_reconciler
    from linksync.reconcile.job import JobRequest
    from linksync.services import build_services
    from linksync.timing import Deadline

    later = [0.0]
    svc = Cached(build_services).get()
    killed = build_reconciler(svc, clock=lambda: time.time() + later[0])
    steps = [0]
    real_step = killed.merger.step

    class Gone:
        """A dead process's connections: nothing it tries afterwards (a finally clause) gets through."""

        def __getattr__(self, name: str) -> Any:
            raise ProcessGone

    def dies_in_the_merge(job: Any, deadline: Any) -> None:
        steps[0] += 1
        real_step(job, deadline)  # the chunk is applied...
        killed.store.table.client = cast(
            Any, Gone()
        )  # ...and the process dies before its checkpoint is written
        raise ProcessGone

    killed.merger.step = dies_in_the_merge  # type: ignore[method-assign]
    with pytest.raises(ProcessGone):
        killed.run(JobRequest("full", True), Deadline.unlimited())
    assert steps == [1]
    busy = build_reconciler(svc, clock=lambda: time.time() + later[0]).run(
        JobRequest("full", True), Deadline.unlimited()
    )
    assert busy.get("busy")  # its lease still stands: nobody knows it died
    later[0] = 2000  # the dead invocation's lease has run out

    answer = build_reconciler(svc, clock=lambda: time.time() + later[0]).run(
        JobRequest("full", True), Deadline.unlimited()
    )

    assert answer["done"] and answer["report"]["missing"] == len(account.missing)  # counted once
    assert set(pipeline.links()) == account.after_apply
    assert len(pipeline.links()) == len(account.after_apply)


def test_a_job_beside_a_webhook_storm_ends_exact(pipeline: Pipeline, account: Account) -> None:
    import threading

    storm = threading.Thread(
        target=lambda: [
            pipeline.jira(jira_issue("jira:issue_updated", "101", "A-1", tickets="201, 202"))
            for _ in range(10)
        ]
    )
    storm.start()
    reconcile(pipeline, "full", apply=True)
    storm.join()
    pipeline.drain(max_batches=100)

    assert set(pipeline.links()) == account.after_apply
    assert len(pipeline.links()) == len(account.after_apply)
