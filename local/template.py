"""template.yaml as data: the one source of truth for the local stack, the tests and the build check."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(cfn_yaml.load(str(path)))


def resources(kind: str | None = None, path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, optionally only those of one ``Type``."""
    found = load_template(path).get("Resources", {})
    return {name: res for name, res in found.items() if kind is None or res.get("Type") == kind}


def globals_for(section: str, path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(load_template(path).get("Globals", {}).get(section, {}))
