"""The CLI's unhappy paths: no local stack, a stale one, an unknown region, no credentials, both --stack and
--local. Each ends in one line on stderr and exit status 2, quickly, without a traceback."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tools.cli import main as cli
from tools.cli.target import CliError, choose, deployed_target, local_target


def test_no_local_stack(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="make serve"):
        local_target(tmp_path / "local-stack.json")


def test_a_local_stack_that_is_gone(tmp_path: Path) -> None:
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps({"pid": 2**22 + 12345, "region": "us-east-1", "outputs": {}}))
    with pytest.raises(CliError, match="is gone"):
        local_target(state)
    state.write_text("{not json")
    with pytest.raises(CliError, match="not valid JSON"):
        local_target(state)


def test_a_running_local_stack(tmp_path: Path) -> None:
    state = tmp_path / "local-stack.json"
    described = {
        "pid": os.getpid(),
        "region": "us-east-1",
        "aws_endpoint": "http://127.0.0.1:1",
        "lambda_endpoint": "http://127.0.0.1:2",
        "outputs": {"LinksTableName": "t"},
        "parameters": {"SecretName": "s"},
    }
    state.write_text(json.dumps(described))
    found = local_target(state)
    assert (found.local, found.output("LinksTableName"), found.parameter("SecretName")) == (True, "t", "s")
    with pytest.raises(CliError, match="no output ReconcileFunctionName"):
        found.output("ReconcileFunctionName")


def test_a_region_that_cannot_be_reached_is_named_and_aws_region_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS_REGION is read (boto3 alone reads only AWS_DEFAULT_REGION), and a region whose endpoint does not
    answer ends in one line naming it. The endpoint is a closed port on 127.0.0.1: no network."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "mars-north-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    started = time.monotonic()
    with pytest.raises(CliError, match="cannot reach AWS in region 'mars-north-1'"):
        deployed_target("linksync", None)
    assert time.monotonic() - started < 30


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    started = time.monotonic()
    with pytest.raises(CliError, match="no AWS credentials"):
        deployed_target("linksync", "eu-west-1")
    assert time.monotonic() - started < 10


def test_both_stack_and_local() -> None:
    with pytest.raises(CliError, match="choose one"):
        choose("linksync", None, True)


def test_a_cli_error_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def nowhere(*_: object) -> None:
        raise CliError("no local stack is running: start it with `make serve`")

    monkeypatch.setattr(cli, "choose", nowhere)
    assert cli.main(["status"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "linksync: no local stack is running: start it with `make serve`\n"
    assert cli.main(["reconcile", "--mode", "sideways"]) == 2  # click's own usage error
    assert "Invalid value for '--mode'" in capsys.readouterr().err
