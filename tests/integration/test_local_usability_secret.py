"""`make secret` as a new user meets it (AWS on a moto server through AWS_ENDPOINT_URL): some values now and
the rest later, re-runs that change one value, no region, no credentials, and where it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from linksync.config import SECRET_KEYS, SECRET_LAYOUT
from local.template import ROOT
from tools import secret

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """An environment with only what the test gives: no secret values, no profile, the moto endpoint."""
    for key in list(os.environ):
        if key.startswith("AWS_") or key.lower() in SECRET_KEYS or key == "SECRET_NAME":
            monkeypatch.delenv(key)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def credentials(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    extra = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    return {**aws, **extra}


def _stored(name: str) -> dict[str, Any]:
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    return dict(json.loads(client.get_secret_value(SecretId=name)["SecretString"]))


def _all_stored(name: str) -> dict[str, Any]:
    """The three secrets' values together, checking each holds only its own."""
    found: dict[str, Any] = {}
    for parameter, secret_name in secret.secret_names(name).items():
        values = _stored(secret_name)
        assert set(values) == set(SECRET_LAYOUT[parameter][1]), secret_name
        found |= values
    return found


def _run(name: str, capsys: pytest.CaptureFixture[str], **values: str) -> tuple[int, str, str]:
    env = {**os.environ, **{k.upper(): v for k, v in values.items()}}
    code = secret.run(name, env, None, print)
    out, err = capsys.readouterr()
    return code, out, err


def test_created_with_some_values_then_completed_piece_by_piece(
    credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"linksync-{uuid.uuid4().hex[:8]}"
    first = {"zendesk_email": "agent@example.com", "zendesk_api_token": "zd-token-1"}
    code, out, _ = _run(name, capsys, **first)
    assert code == 0
    lines = out.splitlines()
    endpoint = credentials["AWS_ENDPOINT_URL"]
    assert lines[0] == f"secrets in account {ACCOUNT}, region eu-west-1, endpoint {endpoint}:"
    assert lines[1] == f"  created {name} (API credentials): set now: zendesk_email, zendesk_api_token"
    assert lines[2] == f"  created {name}-jira-webhook (Jira webhook signing secret): nothing new"
    assert "still missing: jira_email, jira_api_token, jira_webhook_secret, zendesk_webhook_secret" in out
    assert "503" in out
    assert _all_stored(name) == {**dict.fromkeys(SECRET_KEYS, ""), **first}

    # The webhook signing secrets later, alone: everything else stays.
    code, out, _ = _run(name, capsys, jira_webhook_secret="jira-signing", zendesk_webhook_secret="zd-signing")
    assert code == 0
    assert f"  unchanged {name} (API credentials): nothing new" in out
    assert f"  updated {name}-zendesk-webhook (Zendesk webhook signing secret): set now" in out
    assert "still missing: jira_email, jira_api_token." in out

    code, out, _ = _run(name, capsys, jira_email="jira@example.com", jira_api_token="jira-token")
    assert "all six values are set" in out and "missing" not in out
    # One value rotated: the other five are kept.
    code, out, _ = _run(name, capsys, zendesk_api_token="zd-token-2")
    assert code == 0
    assert _all_stored(name) == {
        "zendesk_email": "agent@example.com",
        "zendesk_api_token": "zd-token-2",
        "zendesk_webhook_secret": "zd-signing",
        "jira_email": "jira@example.com",
        "jira_api_token": "jira-token",
        "jira_webhook_secret": "jira-signing",
    }
    assert not any(v in out for v in ("zd-token-2", "zd-signing", "jira-token", "jira-signing"))


def test_a_secret_of_version_0_1_0_is_split(
    credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """0.1.0 kept all six values in one secret: the signing secrets move to their own, nothing is lost."""
    name = f"linksync-{uuid.uuid4().hex[:8]}"
    old = {k: f"old-{k}" for k in SECRET_KEYS}
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name=name, SecretString=json.dumps(old)
    )

    code, out, _ = _run(name, capsys, jira_api_token="new-token")

    assert code == 0 and "all six values are set" in out
    assert "moved out: jira_webhook_secret, zendesk_webhook_secret" in out
    assert _all_stored(name) == {**old, "jira_api_token": "new-token"}


def test_keys_not_ours_are_kept(credentials: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    name = f"linksync-{uuid.uuid4().hex[:8]}"
    client = boto3.client("secretsmanager", region_name="eu-west-1")
    client.create_secret(Name=name, SecretString=json.dumps({"note": "by hand", "jira_email": "j@x"}))
    assert _run(name, capsys, jira_api_token="t")[0] == 0
    assert _stored(name)["note"] == "by hand" and _stored(name)["jira_email"] == "j@x"
    assert _stored(name)["jira_api_token"] == "t"


def test_nothing_given_reports_the_secret_without_writing(
    credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"linksync-{uuid.uuid4().hex[:8]}"
    with pytest.raises(secret.SecretError, match="nothing to write"):
        _run(name, capsys)
    _run(name, capsys, jira_email="j@x")
    code, out, _ = _run(name, capsys)
    assert code == 0
    assert out.splitlines()[0].startswith(f"secrets in account {ACCOUNT}, region eu-west-1")
    assert all(line.startswith("  unchanged") for line in out.splitlines()[1:4])
    assert "still missing: zendesk_email" in out


def test_the_prompt_keeps_what_is_stored(
    credentials: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"linksync-{uuid.uuid4().hex[:8]}"
    _run(name, capsys, **{k: f"old-{k}" for k in SECRET_KEYS})
    asked: list[tuple[str, bool, bool]] = []

    def ask(key: str, hidden: bool, has_value: bool) -> str:
        asked.append((key, hidden, has_value))
        return "new-token" if key == "jira_api_token" else ""  # Enter everywhere else

    assert secret.run(name, dict(os.environ), ask, print) == 0
    assert ("zendesk_email", False, True) in asked and ("jira_api_token", True, True) in asked
    assert _all_stored(name) == {**{k: f"old-{k}" for k in SECRET_KEYS}, "jira_api_token": "new-token"}


def _secret_command(env: dict[str, str], *values: str) -> subprocess.CompletedProcess[str]:
    given = dict(v.split("=", 1) for v in values)
    return subprocess.run(
        [sys.executable, "-m", "tools.secret", "--name", "linksync-none"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(ROOT), **env, **given},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_region_is_one_line(aws: dict[str, str]) -> None:
    done = _secret_command(aws, "ZENDESK_EMAIL=a@b.c", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=x")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("make secret: no AWS region: set AWS_REGION")


def test_no_credentials_is_one_line(aws: dict[str, str]) -> None:
    done = _secret_command(aws, "ZENDESK_EMAIL=a@b.c", "AWS_REGION=eu-west-1")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("make secret: no AWS credentials")


def test_a_region_that_cannot_be_reached_is_named_not_blamed_on_the_credentials(aws: dict[str, str]) -> None:
    done = _secret_command(
        aws,
        "ZENDESK_EMAIL=a@b.c",
        "AWS_REGION=mars-north-1",
        "AWS_ACCESS_KEY_ID=testing",
        "AWS_SECRET_ACCESS_KEY=x",
        "AWS_ENDPOINT_URL=http://127.0.0.1:1",  # nothing listens there: no network
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cannot reach AWS in region 'mars-north-1'" in done.stderr


def test_a_secret_that_is_not_a_json_object_is_one_line(
    credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"linksync-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(Name=name, SecretString="hunter2")
    monkeypatch.setenv("JIRA_EMAIL", "j@x")
    assert secret.main(["--name", name]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "does not hold a JSON object" in err and "hunter2" not in err
    assert (
        boto3.client("secretsmanager", region_name="eu-west-1").get_secret_value(SecretId=name)[
            "SecretString"
        ]
        == "hunter2"
    )
