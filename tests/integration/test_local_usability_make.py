"""What the Makefile promises a new user: ports and replays through make variables, and a first-run set-up
that says what it does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from local.template import ROOT

pytestmark = pytest.mark.integration

MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def _dry_run(*args: str) -> str:
    assert MAKE is not None
    done = subprocess.run(  # noqa: S603 - make from PATH, fixed arguments, no shell
        [MAKE, "--no-print-directory", "-n", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@needs_make
def test_every_serve_port_and_the_replay_are_make_variables() -> None:
    serve = _dry_run("serve", "PORT=3999", "MOTO_PORT=5999", "SANDBOX_PORT=8999")
    assert "-m local.serve --port 3999 --moto-port 5999 --sandbox-port 8999" in serve
    defaults = _dry_run("serve")
    assert "-m local.serve --port 3000 --moto-port 5000 --sandbox-port 8081" in defaults

    replay = _dry_run("send", "EVENT=events/zendesk_ticket_created.json", "PORT=3999", "REPLAY=1")
    assert "-m local.send events/zendesk_ticket_created.json --url http://127.0.0.1:3999 --replay" in replay
    assert "--replay" not in _dry_run("send")


@needs_make
def test_the_first_run_set_up_says_what_it_does(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    plan = _dry_run("demo", f"VENV={venv}")
    steps = [line for line in plan.splitlines() if line.startswith("echo ")]
    assert [re.sub(r"\(/[^)]*python3\.12\)", "(PY)", s) for s in steps] == [
        f'echo "creating {venv} with Python 3.12 (PY) ..."',
        'echo "installing the pinned dependencies (under a minute on a first run) ..."',
        f'echo "done: {venv} is ready"',
    ]
    installs = [line for line in plan.splitlines() if " -m pip install " in line]
    assert len(installs) == 3 and all("--quiet" in line for line in installs)
