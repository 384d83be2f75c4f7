"""`make serve` as a new user meets it: taken ports, Ctrl-C and SIGTERM, what the console says, where the
function logs end up. Each test runs `python -m local.serve` as its own process (in a process group of its
own, so that whatever it leaves behind can be found) and checks that nothing is left running."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from local import run as local_run
from local import send, serve
from local.gateway import Gateway, GatewayLogLine, summarize, template_routes
from local.runtime import FunctionProcess
from local.stack import DrainReport, PortUnavailable
from local.template import ROOT

pytestmark = pytest.mark.integration

EVENTS = ROOT / "events"
READY = "Ctrl-C stops everything"


def _occupy() -> socket.socket:
    """A port some other program listens on (as AirPlay does on macOS's 5000)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _left_in_group(pgid: int) -> list[str]:
    """Every live process in the process group ``pgid`` (a serve process's children stay in its group)."""
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=,pgid=,stat=,args="],  # noqa: S607 - ps from PATH, as a user would run it
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    left = []
    for line in out.splitlines():
        fields = line.split(None, 3)
        if len(fields) >= 3 and fields[1] == str(pgid) and not fields[2].startswith("Z"):  # Z: ended
            left.append(line.strip())
    return left


class Serve:
    """`python -m local.serve` in a process group of its own; its stdout read line by line as it comes."""

    def __init__(self, *args: str) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "local.serve", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._new_line = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.errors), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._new_line:
                into.append(line.rstrip("\n"))
                self._new_line.notify_all()

    def wait_for(self, pattern: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        with self._new_line:
            while True:
                found = next((line for line in self.lines if re.search(pattern, line)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no line matching {pattern!r}; stdout so far: {self.lines}")
                self._new_line.wait(min(left, 0.5))

    def finish(self, timeout: float = 30) -> tuple[int, str, float]:
        """(exit code, stderr, seconds it took from now) once it has ended and its output is read."""
        began = time.monotonic()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"serve did not end within {timeout}s") from None
        took = time.monotonic() - began
        for reader in self._readers:
            reader.join(timeout=10)
        return self.proc.returncode, "\n".join(self.errors), took

    def signal(self, signum: int, *, group: bool = False) -> None:
        if group:  # what a terminal does on Ctrl-C: the whole foreground process group gets SIGINT
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def kill_all(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _free_ports_args(tmp_path: Path) -> list[str]:
    return [
        *("--port", "0", "--moto-port", "0", "--sandbox-port", "0"),
        *("--log-dir", str(tmp_path / "logs"), "--state-file", str(tmp_path / "state.json")),
    ]


# ---------------------------------------------------------------------------- taken ports


@pytest.mark.parametrize(
    ("option", "variable", "what"),
    [
        ("--moto-port", "MOTO_PORT", "moto"),
        ("--port", "PORT", "gateway"),
        ("--sandbox-port", "SANDBOX_PORT", "sandbox"),
    ],
)
def test_a_taken_port_ends_serve_with_one_line(option: str, variable: str, what: str, tmp_path: Path) -> None:
    taken = _occupy()
    port = taken.getsockname()[1]
    args = {"--port": "0", "--moto-port": "0", "--sandbox-port": "0", option: str(port)}
    try:
        serving = Serve(
            *[x for kv in args.items() for x in kv],
            *("--for-seconds", "20", "--log-dir", str(tmp_path / "logs")),
            *("--state-file", str(tmp_path / "state.json")),
        )
        code, err, _ = serving.finish(timeout=60)
        took = time.monotonic() - serving.started
    finally:
        taken.close()

    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"serve: port {port} (") and what in lines[0].split(")")[0]
    assert "is already in use" in lines[0] and f"set {variable} to a free port, e.g. make serve" in lines[0]
    assert "Traceback" not in err
    assert took < 10, f"took {took:.1f}s"
    assert _left_in_group(serving.proc.pid) == []
    assert not (tmp_path / "logs").exists()  # it failed before starting anything
    assert not (tmp_path / "state.json").exists()


def test_the_port_message_suggests_a_free_port() -> None:
    taken = _occupy()
    port = taken.getsockname()[1]
    try:
        line = serve.port_message(PortUnavailable(port, "already in use", "moto"), {"moto": port})
    finally:
        taken.close()
    suggested = int(line.rsplit("MOTO_PORT=", 1)[1])
    assert suggested != port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", suggested))  # it was free when suggested
    airplay = serve.port_message(PortUnavailable(5000, "already in use", "moto"), {"moto": 5000})
    assert "AirPlay" in airplay


def test_a_port_taken_after_the_check_still_stops_everything_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race the up-front check cannot see (another program binds the gateway's port while the functions
    start): PortUnavailable, and every function process and the moto thread stopped."""
    started: list[FunctionProcess] = []

    class Recorded(FunctionProcess):
        def start(self) -> FunctionProcess:
            started.append(self)
            return super().start()

    monkeypatch.setattr(local_run, "check_ports", lambda ports: None)
    monkeypatch.setattr(local_run, "FunctionProcess", Recorded)
    moto_threads = sum(t.name == "moto-server" for t in threading.enumerate())
    taken = _occupy()
    try:
        with (
            pytest.raises(PortUnavailable) as caught,
            local_run.LocalRun(gateway_port=taken.getsockname()[1], functions=("JiraWebhookFunction",)),
        ):
            pass
    finally:
        taken.close()
    assert caught.value.role == "gateway"
    assert started and all(p._proc is not None and p._proc.poll() is not None for p in started)
    assert sum(t.name == "moto-server" for t in threading.enumerate()) == moto_threads


def test_the_same_port_twice_is_caught_before_anything_starts() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PortUnavailable) as caught:
        local_run.check_ports({"gateway": port, "moto": port})
    assert caught.value.role == "moto"


# ---------------------------------------------------------------------------- stopping


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Serve]:
    process = Serve(*_free_ports_args(tmp_path))
    yield process
    process.kill_all()


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_sigterm_and_ctrl_c_stop_everything_promptly(how: str, serving: Serve, tmp_path: Path) -> None:
    serving.wait_for(READY)
    assert (tmp_path / "state.json").exists()
    if how == "SIGTERM":
        serving.signal(signal.SIGTERM)
    else:
        serving.signal(signal.SIGINT, group=True)
    code, err, took = serving.finish()

    assert code == 0, err
    assert "Traceback" not in err
    assert took < 5, f"took {took:.1f}s to stop"
    assert _left_in_group(serving.proc.pid) == []
    assert not (tmp_path / "state.json").exists()
    assert serving.lines[-1] == f"stopped; function logs kept in {tmp_path / 'logs'}"


def test_sigterm_while_the_functions_start(serving: Serve) -> None:
    deadline = time.monotonic() + 60
    while not any("local.runtime" in p for p in _left_in_group(serving.proc.pid)):
        assert time.monotonic() < deadline, serving.lines
        time.sleep(0.05)
    serving.signal(signal.SIGTERM)
    code, err, took = serving.finish()

    assert code == 0, err
    assert "Traceback" not in err
    assert took < 10, f"took {took:.1f}s to stop"
    assert _left_in_group(serving.proc.pid) == []


@pytest.mark.parametrize("when", ["serving", "still importing"])
def test_function_processes_end_when_their_parent_is_killed(when: str) -> None:
    """Even SIGKILL, which nothing can catch, leaves no function process behind: not once it serves, and not
    while it is still starting (its parent may be gone before it looks)."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from local.runtime import FunctionProcess\n"
        "proc = FunctionProcess('JiraWebhookFunction', {}, log_path=Path(sys.argv[1])).start()\n"
        "print(proc._proc.pid, flush=True)\n"
        "if sys.argv[2] == 'serving':\n"
        "    proc.wait_ready()\n"
        "    print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    with tempfile.TemporaryDirectory() as logs:
        parent = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed snippet
            [sys.executable, "-c", script, f"{logs}/function.log", when],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert parent.stdout is not None
            child = parent.stdout.readline().strip()
            if when == "serving":
                assert parent.stdout.readline().strip() == "ready"
            parent.kill()
            parent.wait()
            deadline = time.monotonic() + 10
            while any(line.split()[0] == child for line in _left_in_group(parent.pid)):
                assert time.monotonic() < deadline, "the function process outlived its parent"
                time.sleep(0.1)
        finally:
            if _left_in_group(parent.pid):
                os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()


# ---------------------------------------------------------------------------- the console and the logs


def test_the_console_shows_what_each_request_came_to(
    serving: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    assert serving.wait_for("^function logs in ") == f"function logs in {logs}"
    gateway = serving.wait_for("^gateway ").split()[1]
    serving.wait_for(READY)

    assert send.main([str(EVENTS / "jira_issue_created.json"), "--url", gateway]) == 0
    assert re.search(
        r"-> 200 JiraWebhookFunction \d+ms: created 2$", serving.wait_for(r"^[\d:]{8} POST /webhooks/jira")
    )

    # A Zendesk sample twice: two deliveries (fresh event ids), the second finds the links made.
    zendesk = str(EVENTS / "zendesk_ticket_created.json")
    assert send.main([zendesk, "--url", gateway]) == 0
    assert send.main([zendesk, "--url", gateway]) == 0
    answers = [json.loads(out.split("\n", 1)[1]) for out in _answers(capsys.readouterr().out)]
    assert answers[1]["delivery_id"] != answers[2]["delivery_id"]
    # --replay: the file's own event id, twice: the second is answered from the idempotency record.
    assert send.main([zendesk, "--url", gateway, "--replay"]) == 0
    assert send.main([zendesk, "--url", gateway, "--replay"]) == 0
    replay = serving.wait_for("same delivery id as before")
    assert "-> 200 ZendeskWebhookFunction" in replay and "idempotency record" in replay

    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "not-the-secret")
    assert send.main([str(EVENTS / "jira_issue_created.json"), "--url", gateway]) == 1
    refused = serving.wait_for(r"^[\d:]{8} POST /webhooks/jira -> 401 ")
    assert re.search(r"-> 401 JiraWebhookFunction \d+ms: error: \w+", refused)

    serving.signal(signal.SIGTERM)
    code, _, _ = serving.finish()
    assert code == 0
    assert serving.lines[-1] == f"stopped; function logs kept in {logs}"
    kept = {p.name: p.read_text() for p in logs.glob("*.log")}
    assert set(kept) >= {"JiraWebhookFunction.log", "ZendeskWebhookFunction.log"}
    assert "created link" in kept["JiraWebhookFunction.log"]


def _answers(out: str) -> list[str]:
    """Each `send` printout: its first line and the JSON answer."""
    return [chunk for chunk in re.split(r"(?m)^(?=POST )", out) if chunk.strip()]


def test_worker_batches_and_dead_letters_on_the_console() -> None:
    """What the retry worker did shows too: records, failures and the dead-letter queue's growth."""

    class Stack:
        depth = 0

        def queue_depth(self, name: str) -> int:
            assert name == "RetryDeadLetterQueue"
            return self.depth

    class Run:
        stack = Stack()

    printed: list[str] = []
    console = serve.Console(run=Run())  # type: ignore[arg-type]  # only .stack.queue_depth is used
    console._print = printed.append  # type: ignore[method-assign,assignment]
    console.batch(DrainReport(batches=1, records=3, failures=1))
    Run.stack.depth = 1
    console.batch(DrainReport(batches=1, records=1))
    assert printed == [
        "RetryQueue -> RetryWorkerFunction: 3 message(s) in 1 batch(es), 1 failed (back on the queue)",
        "RetryQueue -> RetryWorkerFunction: 1 message(s) in 1 batch(es); dead-letter queue now 1 (+1)",
    ]


def test_log_folders_are_kept_and_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_run, "LOGS_ROOT", tmp_path)
    first = local_run.new_log_dir("serve")
    (first / "JiraWebhookFunction.log").write_text("kept")
    second = local_run.new_log_dir("serve")
    assert (
        first != second and first.parent == tmp_path and re.fullmatch(r"\d{8}-\d{6}-serve(-\d+)?", first.name)
    )
    for _ in range(local_run.KEEP_LOG_FOLDERS + 5):
        local_run.new_log_dir("demo")
    assert len(list(tmp_path.iterdir())) == local_run.KEEP_LOG_FOLDERS


def test_the_gateway_log_line_carries_the_outcome() -> None:
    seen: list[GatewayLogLine] = []
    answers: list[Any] = [
        {"statusCode": 200, "body": json.dumps({"status": "accepted", "delivery_id": "d-1", "created": 1})},
        {"statusCode": 200, "body": json.dumps({"status": "accepted", "created": 0, "ignored": "not ours"})},
        {"statusCode": 400, "body": json.dumps({"error": "body is not JSON"})},
        RuntimeError("boom"),
    ]

    def invoker(event: dict[str, Any]) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    gw = Gateway(dict.fromkeys(template_routes().values(), invoker), port=0, on_request=seen.append).start()
    try:
        for _ in range(4):
            requests.post(gw.url + "/webhooks/jira", data=b"{}", timeout=5)
        requests.post(gw.url + "/nowhere", data=b"{}", timeout=5)
    finally:
        gw.stop()
    assert [(line.status, line.summary, line.delivery_id) for line in seen] == [
        (200, "created 1", "d-1"),
        (200, "ignored: not ours", None),
        (400, "error: body is not JSON", None),
        (500, "function error: RuntimeError: boom", None),
        (404, "error: Not Found", None),
    ]
    assert summarize(200, json.dumps({"status": "accepted", "dead_lettered": 2, "queued": 1}).encode()) == (
        "queued 1, dead-lettered 2"
    )
    assert summarize(200, b'{"status": "accepted", "created": 0}') == "no change"
    reconcile = {
        "done": True,
        "mode": "full",
        "apply": True,
        "report": {"created": 6, "deleted": 2, "dead": 0},
    }
    assert (
        summarize(200, json.dumps(reconcile).encode()) == "reconcile full applied, done: created 6, deleted 2"
    )
