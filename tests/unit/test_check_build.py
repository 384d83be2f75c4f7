"""The build is compiled to bytecode Lambda can load from a read-only folder (tools/check_build.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tools import check_build


def _layer(root: Path) -> Path:
    package = root / "SharedLayer" / "python" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("X = 1\n")
    return package


def test_the_build_is_compiled_to_unchecked_hash_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _layer(tmp_path)
    monkeypatch.setattr(check_build, "BUILD", tmp_path)

    assert check_build.precompile() == []

    pyc = Path(importlib.util.cache_from_source(str(package / "__init__.py")))
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, and the source is never checked: a zip's timestamps do not matter


def test_a_module_that_does_not_compile_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _layer(tmp_path)
    (package / "broken.py").write_text("def (:\n")
    monkeypatch.setattr(check_build, "BUILD", tmp_path)

    assert check_build.precompile() == ["SharedLayer: some modules did not compile"]
