"""Where `make serve` says how to reach it while it runs (`linksync --local` reads it). Standard library
only: the operator's CLI must not load the local harness (moto, cfn-lint) just to find this path."""

from __future__ import annotations

from pathlib import Path

STATE_FILE = Path(__file__).resolve().parents[1] / ".aws-sam" / "local-stack.json"
