"""The two field parsers: what people type becomes ids and keys; the rest is set aside, never raised."""

from __future__ import annotations

from typing import Any

import pytest

from linksync.fields import parse_issue_keys, parse_ticket_ids


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        (123, ("123",)),
        ("123", ("123",)),
        (123.0, ("123",)),
        ("1, 2 3;4\n5", ("1", "2", "3", "4", "5")),
        (["7", 8, "9, 10"], ("7", "8", "9", "10")),
        ("https://acme.zendesk.com/agent/tickets/55 https://acme.zendesk.com/tickets/56?x=1", ("55", "56")),
        ("#77", ("77",)),
        ("5, 5, 5", ("5",)),
        ([{"value": "12"}], ("12",)),
        (None, ()),
        ("", ()),
        ([], ()),
    ],
)
def test_ticket_ids(value: Any, ids: tuple[str, ...]) -> None:
    parsed = parse_ticket_ids(value)
    assert parsed.values == ids
    assert parsed.rejected == ()


@pytest.mark.parametrize(
    "value", ["abc", "0", "-4", "1.5", True, 1.5, {"x": 1}, "https://evil.example/tickets/x", "9" * 30]
)
def test_ticket_garbage_is_set_aside(value: Any) -> None:
    parsed = parse_ticket_ids(value)
    assert parsed.values == ()
    assert parsed.rejected


def test_ticket_mixed_keeps_the_good_ones() -> None:
    parsed = parse_ticket_ids("12 nope 13")
    assert parsed.values == ("12", "13")
    assert parsed.rejected == ("nope",)


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("PROJ-1", ("PROJ-1",)),
        ("proj-1, ABC_2-33 X1-9", ("PROJ-1", "ABC_2-33", "X1-9")),
        (
            "https://acme.atlassian.net/browse/PROJ-7 https://acme.atlassian.net/browse/proj-8?focused=1",
            ("PROJ-7", "PROJ-8"),
        ),
        (["PROJ-1", "PROJ-1"], ("PROJ-1",)),
        (None, ()),
    ],
)
def test_issue_keys(value: Any, keys: tuple[str, ...]) -> None:
    assert parse_issue_keys(value).values == keys


@pytest.mark.parametrize("value", ["PROJ", "PROJ-0", "1PROJ-2", "PROJ-1-2", "../PROJ-1", 42, "PR OJ"])
def test_issue_key_garbage(value: Any) -> None:
    parsed = parse_issue_keys(value)
    assert "PROJ-1" not in parsed.values or value == "../PROJ-1"
    assert parsed.rejected


def test_huge_input_is_bounded() -> None:
    parsed = parse_ticket_ids(" ".join(str(i) for i in range(1, 100_000)))
    assert len(parsed.values) <= 200
