"""`make bench` (tools/bench/): the counted API-economy figures, and the shape of its results.

Counts only: timings are what the bench reports, never what a test asserts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.bench.cli import main
from tools.bench.cold import parse_importtime
from tools.bench.config import BenchConfig
from tools.bench.economy import Scenario, economy_scenarios
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

    assert main(["--quick", "--only", "economy,warm,size", "--no-sam-build", "--out", str(out)]) == 0

    results = json.loads(out.read_text())
    assert set(results) == {
        "meta",
        "cold_start",
        "warm",
        "economy",
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
    faults = results["economy"]["under_faults"]
    assert faults["link_changes"] > 0 and faults["lost"] == 0
    assert "functions" in results["size"] or results["size"] == {"skipped": "run make build first"}
    assert results["function_errors"] == []
    assert isinstance(results["misses"], list)
    assert "MISSES:" in capsys.readouterr().out
