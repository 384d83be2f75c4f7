"""A small, fixed-seed soak run: nothing lost, doubled or orphaned under Zendesk, Jira and AWS faults and
processes killed mid-way."""

from __future__ import annotations

import pytest

from tools.soak import SoakConfig, run_soak

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize(
    "allow_duplicates", [False, True], ids=["zendesk-refuses-duplicates", "zendesk-accepts-them"]
)
def test_small_soak_converges(allow_duplicates: bool) -> None:
    lines: list[str] = []
    cfg = SoakConfig(
        events=60,
        fault_rate=0.3,
        aws_fault_rate=0.05,
        kill_rate=0.1,
        seed=11,
        threads=4,
        allow_duplicates=allow_duplicates,
    )

    report = run_soak(cfg, out=lines.append)

    assert report.lost == []
    assert report.duplicates == []
    assert report.orphans == []
    assert report.ledger_mismatches == []
    assert report.transient_dead_letters == []
    assert report.sender_gave_up == 0
    assert report.ok
    # the run really was hostile: faults on every side, processes killed mid-way, copies and concurrency
    assert sum(report.kills.values()) > 0
    assert sum(report.zendesk_faults.values()) > 10
    assert sum(report.aws_faults.values()) > 5
    assert report.duplicates_sent > 0
    assert report.expected > 0
    assert any(line.startswith("FIGURES: 60 events") for line in lines)
