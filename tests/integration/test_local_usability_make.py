"""What the Makefile and the README promise a new user: ports and replays through make variables, a
first-run set-up that says what it does, and the sandbox's control routes as documented."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from local.template import ROOT
from local.vendors import VendorSandbox

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


# ---------------------------------------------------------------------------- the README's sandbox routes


def _sandbox_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## The local sandbox", 1)[1].split("\n## ", 1)[0]


def test_every_control_route_is_documented() -> None:
    source = (ROOT / "local" / "vendors.py").read_text()
    routes = set(re.findall(r'path == "(/_sandbox/\w+)"', source))
    assert routes >= {"/_sandbox/faults", "/_sandbox/advance", "/_sandbox/state"}
    section = _sandbox_section()
    assert all(f"`{route}`" in section for route in routes), routes


def test_the_documented_faults_example_does_what_it_says() -> None:
    bodies = re.findall(r"-d '(\{.*?\})'", _sandbox_section())
    assert len(bodies) == 2
    link = {"link": {"issue_id": "10001", "issue_key": "PROJ-1", "ticket_id": "35436"}}
    with VendorSandbox() as sandbox:
        auth = (f"{sandbox.zendesk_email}/token", sandbox.zendesk_token)
        for body in bodies:
            assert requests.post(f"{sandbox.url}/_sandbox/faults", data=body, timeout=5).status_code == 204
        assert requests.get(f"{sandbox.url}/api/v2/jira/links", auth=auth, timeout=5).status_code == 200
        statuses = [
            requests.post(f"{sandbox.url}/api/services/jira/links", json=link, auth=auth, timeout=5)
            for _ in range(4)
        ]
        assert [r.status_code for r in statuses] == [503, 503, 429, 201]
        assert statuses[2].headers["Retry-After"] == "1"
        state = requests.get(f"{sandbox.url}/_sandbox/state", timeout=5).json()
        assert state["faults_injected"] == {"503": 2, "429": 1}
        assert (
            requests.post(f"{sandbox.url}/_sandbox/advance", data='{"seconds": 90}', timeout=5).status_code
            == 204
        )
        assert sandbox.now() - sandbox._clock() == pytest.approx(90)


def test_the_documented_seeding_bodies_work() -> None:
    rows = {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(r"^\| `(/_sandbox/\w+)` \| `(\{.*?\})` \|", _sandbox_section(), re.M)
    }
    with VendorSandbox() as sandbox:
        ticket = requests.post(f"{sandbox.url}/_sandbox/tickets", json=rows["/_sandbox/tickets"], timeout=5)
        issue = requests.post(f"{sandbox.url}/_sandbox/issues", json=rows["/_sandbox/issues"], timeout=5)
        assert (ticket.status_code, issue.status_code) == (201, 201)
        assert sandbox.live_tickets()[0]["custom_fields"] == [{"id": 360001, "value": "PROJ-1 PROJ-2"}]
        assert sandbox.state.issues["PROJ-9"]["fields"] == {"customfield_10100": "35500"}
        assert requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).status_code == 204
        assert sandbox.state.issues == {} and sandbox.live_tickets() == []
