"""`make bench` (tools/bench/): the counted API-economy figures, and the shape of its results.

Counts only: timings are what the bench reports, never what a test asserts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.vendors import RecordedCall
from local.worlds import backfill_account
from tools.bench import figures
from tools.bench.backfill import export_floor_seconds
from tools.bench.cli import main
from tools.bench.cold import breakdown, parse_importtime
from tools.bench.config import SECTIONS, BenchConfig
from tools.bench.economy import Scenario, economy_scenarios
from tools.bench.kinds import call_kind, count_kinds
from tools.bench.world import FUNCTION_ERRORS, Bench


@pytest.fixture(scope="module")
def scenarios() -> Iterator[dict[str, Scenario]]:
    with Bench(BenchConfig.quick_mode()) as b:
        stack = b.new_stack()
        with b.functions_on(stack):
            found = {s.name: s for s in economy_scenarios(b)}
        assert FUNCTION_ERRORS.errors == []
        yield found


@pytest.mark.slow
def test_every_scenario_was_answered(scenarios: dict[str, Scenario]) -> None:
    assert {s.answer["status"] for s in scenarios.values()} == {"accepted"}


@pytest.mark.slow
def test_one_zendesk_call_per_link_on_the_jira_happy_path(scenarios: dict[str, Scenario]) -> None:
    one = scenarios["jira_created_1_link"].tally
    three = scenarios["jira_created_3_links"].tally
    removed = scenarios["jira_field_removes_1"].tally

    assert (one.zendesk, one.created) == (1, 1)
    assert (three.zendesk, three.created) == (3, 3)
    assert (removed.zendesk, removed.deleted, removed.created) == (1, 1, 0)
    assert scenarios["jira_created_1_link"].figures()["zendesk_calls_per_link_created"] == 1.0


@pytest.mark.slow
def test_a_replayed_delivery_calls_nobody(scenarios: dict[str, Scenario]) -> None:
    for name in ("jira_replayed_delivery", "zendesk_replayed_delivery"):
        tally = scenarios[name].tally
        assert (tally.zendesk, tally.jira, tally.created, tally.deleted) == (0, 0, 0, 0), name


@pytest.mark.slow
def test_jira_is_asked_once_per_new_key_and_never_again(scenarios: dict[str, Scenario]) -> None:
    new = scenarios["zendesk_created_new_key"].tally
    seen = scenarios["zendesk_created_seen_key"].tally

    assert (new.jira, new.created) == (1, 1)
    assert (seen.jira, seen.created) == (0, 1)


@pytest.mark.slow
def test_every_link_change_costs_at_least_one_zendesk_call(scenarios: dict[str, Scenario]) -> None:
    for name, s in scenarios.items():
        assert s.tally.zendesk >= s.tally.created + s.tally.deleted, name


def test_importtime_lines_are_ranked_by_cumulative_time() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   botocore.compat",
            "import time:       500 |        600 | botocore",
            "import time:      2000 |       2700 | app",
            "some other line",
        ]
    )

    parsed = parse_importtime(stderr, top=2)

    assert [m["module"] for m in parsed["top_cumulative"]] == ["app", "botocore"]
    assert parsed["top_cumulative"][0] == {"module": "app", "cumulative_ms": 2.7, "self_ms": 2.0, "depth": 0}
    assert parsed["top_packages_self"][0] == {"package": "app", "self_ms": 2.0}
    assert parsed["modules"] == 3


@pytest.mark.slow
def test_quick_run_writes_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"

    assert (
        main(["--quick", "--only", "economy,warm,size", "--no-sam-build", "--no-plots", "--out", str(out)])
        == 0
    )

    results = json.loads(out.read_text())
    assert set(results) == {
        "meta",
        "cold_start",
        "warm",
        "economy",
        "budget",
        "backfill",
        "scale",
        "size",
        "function_errors",
        "misses",
    }
    assert results["meta"]["quick"] is True
    assert results["cold_start"] == {"skipped": "not selected (--only)"}
    assert {"ratio", "goal", "subject", "baseline", "calls_per_event"} <= set(results["warm"])
    assert results["warm"]["calls_per_event"]["zendesk"] == 1.0
    assert {"scenarios", "under_faults"} <= set(results["economy"])
    assert results["economy"]["scenarios"]["jira_created_1_link"]["zendesk_calls_per_link_created"] == 1.0
    assert results["economy"]["scenarios"]["jira_replayed_delivery"]["zendesk_calls"] == 0
    sweep = results["economy"]["under_faults"]["sweep"]
    assert [row["fault_rate"] for row in sweep] == [0.0, 0.3, 0.5]
    assert all(row["link_changes"] > 0 and row["lost"] == 0 for row in sweep)
    assert results["budget"] == {"skipped": "not selected (--only)"}
    assert "functions" in results["size"] or results["size"] == {"skipped": "run make build first"}
    assert results["function_errors"] == []
    assert isinstance(results["misses"], list)
    assert "MISSES:" in capsys.readouterr().out


# ---------------------------------------------------------------------- the derived figures' arithmetic


def test_the_fault_floor_is_one_call_per_change_over_the_chance_a_call_succeeds() -> None:
    assert figures.fault_floor(0.0) == 1.0
    assert figures.fault_floor(0.5) == 2.0
    assert figures.fault_floor(0.3) == pytest.approx(1.4286, abs=1e-4)
    with pytest.raises(ValueError, match="fault rate"):
        figures.fault_floor(1.0)


def test_the_ideal_time_is_the_calls_over_the_budget() -> None:
    assert figures.ideal_seconds(300, 100) == 180.0
    assert figures.ideal_seconds(60, 100) == 36.0
    with pytest.raises(ValueError, match="positive"):
        figures.ideal_seconds(10, 0)


def test_utilisation_counts_calls_in_the_window_against_the_rate_and_the_burst() -> None:
    every_second = [float(t) for t in range(61)]  # 61 calls in [0, 60]

    assert figures.utilisation(every_second, 0, 60, 60) == pytest.approx(61 / 60)
    assert figures.utilisation(every_second, 0, 60, 120) == pytest.approx(61 / 120)
    # a burst of 10 s is 10 more calls allowed at 60 a minute
    assert figures.utilisation(every_second, 0, 60, 60, burst_seconds=10) == pytest.approx(61 / 70)
    assert figures.utilisation([100.0], 0, 60, 60) == 0.0  # outside the window
    assert figures.utilisation(every_second, 5, 5, 60) is None


def test_calls_fall_into_bins_of_the_given_width() -> None:
    assert figures.per_bin([0.0, 1.0, 9.99, 10.0, 25.0, 31.0], 0, 30, 10) == [3, 1, 1]
    assert figures.per_bin([], 0, 0, 10) == [0]
    assert figures.per_bin([1.0], 0, 10, 0) == []


def test_an_operation_is_counted_across_its_attempts_and_reserved_turns() -> None:
    one = {"v": 1, "op": "reconcile", "issue_id": "1", "ticket_id": "2"}
    bodies = [
        json.dumps({**one, "attempt": 0, "reserved_at": 10.0, "queued_at": 1}),
        json.dumps({**one, "attempt": 1, "last_error": {"status": 500}}),
        json.dumps({**one, "ticket_id": "3", "attempt": 0}),
        "not json",
        json.dumps(["no", "op"]),
    ]

    counts = figures.queued_per_operation(bodies)

    assert sorted(counts.values()) == [1, 2]
    assert figures.distribution(counts.values(), total=5) == {0: 3, 1: 1, 2: 1}
    assert figures.distribution([], total=2) == {0: 2}


def test_pages_are_counted_per_started_unit() -> None:
    assert figures.pages_per_started(9, 900, 100) == 1.0
    assert figures.pages_per_started(10, 900, 100) == pytest.approx(1.111, abs=1e-3)
    assert figures.pages_per_started(1, 145, 1000) == 1.0
    assert figures.pages_per_started(2, 1001, 1000) == 1.0
    assert figures.pages_per_started(0, 0, 100) is None


def test_calls_beyond_the_floor_are_split_by_kind() -> None:
    kinds = {"create link": (12, 4), "delete link": (4, 1), "read ticket": (4, 0)}

    found = figures.beyond_floor(kinds, changes=10, rate=0.2)

    assert found["calls"] == 20
    assert found["per_change"] == 2.0
    assert found["floor"] == 1.25
    assert found["excess_per_change"] == 0.75
    assert found["by_kind_per_change"] == {"create link": 1.2, "delete link": 0.4, "read ticket": 0.4}
    assert (found["writes_per_change"], found["other_per_change"]) == (1.6, 0.4)
    # a run whose events changed no link (all of them refused, say) has calls but nothing to divide by
    none = figures.beyond_floor(kinds, changes=0, rate=0.2)
    assert (none["calls"], none["per_change"], none["by_kind_per_change"]) == (20, None, {})


def test_percentiles_take_the_nearest_rank() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert figures.percentile(values, 0.5) == 3.0
    assert figures.percentile(values, 0.9) == 5.0
    assert figures.percentile(values, 0.0) == 1.0
    assert figures.percentile([], 0.5) is None


def _call(
    method: str, path: str, query: dict[str, list[str]] | None = None, body: object = None
) -> RecordedCall:
    return RecordedCall(method, path, query or {}, body, {})


def test_vendor_calls_are_named_for_what_they_were_for() -> None:
    calls = [
        _call("POST", "/api/services/jira/links", body={"link": {}}),
        _call("DELETE", "/api/services/jira/links/10001"),
        _call("GET", "/api/services/jira/links/10001.json"),
        _call("GET", "/api/v2/jira/links", {"page[size]": ["1000"]}),
        _call("GET", "/api/v2/jira/links", {"filter[ticket_id]": ["7"]}),
        _call("GET", "/api/services/jira/links", {"issue_id": ["9"]}),
        _call("GET", "/api/v2/incremental/tickets/cursor.json", {"start_time": ["0"]}),
        _call("GET", "/api/v2/tickets/7"),
        _call("POST", "/rest/api/3/search/jql", body={"jql": "cf[10100] is not EMPTY ORDER BY id"}),
        _call("POST", "/rest/api/3/search/jql", body={"jql": "key in (A-1, A-2)"}),
        _call("GET", "/rest/api/3/search/jql", {"jql": ["id in (1, 2)"]}),
        _call("GET", "/rest/api/3/issue/A-1"),
    ]

    assert [call_kind(c) for c in calls] == [
        "zendesk create link",
        "zendesk delete link",
        "zendesk show link",
        "zendesk links page",
        "zendesk links of one",
        "zendesk links of one",
        "zendesk export page",
        "zendesk read ticket",
        "jira search page",
        "jira find by key",
        "jira find by id",
        "jira read issue",
    ]
    assert count_kinds([calls[0], calls[0], calls[1]]) == {"zendesk create link": 2, "zendesk delete link": 1}


def test_the_backfill_account_says_what_a_job_must_leave() -> None:
    account = backfill_account(1000)

    assert len(account.issues) == 1000 and len(account.tickets) == 1000
    # issue i names ticket i except every 10th (ticket i names it instead); every 7th from 3 also i+1
    assert ("9000000", "8000000") in account.desired  # named from Zendesk only
    assert ("9000003", "8000004") in account.desired  # a second ticket in an issue's field
    assert account.linked <= account.desired
    assert len(account.linked) == (len(account.desired) + 9) // 10
    assert not account.dead & account.desired and not account.manual & account.desired
    assert (
        len(account.dead) == 20 and len(account.deleted_tickets) == 10 and len(account.deleted_issues) == 10
    )
    assert account.after_apply == account.desired | account.manual
    assert account.missing == account.desired - account.linked


def test_the_export_floor_is_ten_pages_a_minute() -> None:
    assert export_floor_seconds(1) == 0.0
    assert export_floor_seconds(11) == 60.0


def test_a_traced_cold_start_is_split_at_the_handler_import_and_summed_per_kind() -> None:
    trace = [
        {"what": "aws dynamodb.UpdateItem", "at_ms": 250.0, "ms": 5.0},
        {"what": "client dynamodb", "at_ms": 120.0, "ms": 60.0},
        {"what": "aws secretsmanager.GetSecretValue", "at_ms": 210.0, "ms": 7.0},
        {"what": "zendesk POST /api/services/jira/links", "at_ms": 260.0, "ms": 1.0},
        {"what": "aws dynamodb.PutItem", "at_ms": 230.0, "ms": 4.0},
    ]

    found = breakdown(trace, handler_at_ms=200.0)

    assert [s["what"] for s in found["steps"]][:2] == ["client dynamodb", "aws secretsmanager.GetSecretValue"]
    assert found["steps"][0]["phase"] == "import"
    assert found["totals"] == {
        "import: client": {"count": 1, "ms": 60.0},
        "first event: aws secretsmanager": {"count": 1, "ms": 7.0},
        "first event: aws dynamodb": {"count": 2, "ms": 9.0},
        "first event: zendesk": {"count": 1, "ms": 1.0},
    }


def test_a_bad_section_ends_in_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--only", "cold,bogus", "--no-plots"])

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.count("\n") == 1 and "unknown sections: bogus" in err
    assert all(section in err for section in SECTIONS)


def test_no_interpreter_for_the_pictures_ends_in_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--only", "size", "--plot-python", str(tmp_path / "python"), "--out", str(tmp_path / "o")])

    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "--no-plots" in err
    assert not (tmp_path / "o").exists()
