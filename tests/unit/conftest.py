"""Fixtures for the unit tests that need a ledger: :mod:`tests.unit.pair_world`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.pair_world import World, make_world


@pytest.fixture
def world() -> Iterator[World]:
    with make_world() as w:
        yield w
