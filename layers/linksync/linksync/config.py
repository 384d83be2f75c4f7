"""Configuration: the function environment and the Secrets Manager secrets, validated, and the services
built from them once per container.

Environment (see the README's operator contract): ``LINKS_TABLE_NAME``, ``RETRY_QUEUE_URL``,
``DEAD_LETTER_QUEUE_URL``, ``SECRET_ID``, ``ZENDESK_BASE_URL``, ``JIRA_BASE_URL``, ``JIRA_TICKET_FIELD``,
``ZENDESK_ISSUE_FIELD``; on a webhook function also ``WEBHOOK_SECRET_ID``. Secrets are JSON read through
Powertools Parameters (cached). ``SECRET_ID`` holds the API credentials every function uses:
``zendesk_email``, ``zendesk_api_token``, ``jira_email``, ``jira_api_token``. ``WEBHOOK_SECRET_ID`` holds
the one signing secret its webhook checks: ``jira_webhook_secret`` or ``zendesk_webhook_secret``; the retry
worker and the reconcile job have none. AWS endpoints come from boto3's own resolution
(``AWS_ENDPOINT_URL`` ...).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from .errors import ConfigError
from .timing import Timeouts

CREDENTIAL_KEYS = ("zendesk_email", "zendesk_api_token", "jira_email", "jira_api_token")
JIRA_WEBHOOK_KEY, ZENDESK_WEBHOOK_KEY = "jira_webhook_secret", "zendesk_webhook_secret"
# Where each value is kept: the template parameter naming each secret, the suffix its default name adds
# to the credentials secret's (make secret names them so), and the values it holds.
SECRET_LAYOUT: dict[str, tuple[str, tuple[str, ...]]] = {
    "SecretName": ("", CREDENTIAL_KEYS),
    "JiraWebhookSecretName": ("-jira-webhook", (JIRA_WEBHOOK_KEY,)),
    "ZendeskWebhookSecretName": ("-zendesk-webhook", (ZENDESK_WEBHOOK_KEY,)),
}
SECRET_KEYS = tuple(key for _, keys in SECRET_LAYOUT.values() for key in keys)
SECRET_MAX_AGE_SECONDS = 300


def _env(name: str) -> dict[str, str]:
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    """The function environment. Each setting is read from the variable named in its metadata (by default
    its own name in upper case); a setting without a default is required. Defaults are declared here once."""

    links_table_name: str
    retry_queue_url: str
    dead_letter_queue_url: str
    secret_id: str
    zendesk_base_url: str
    jira_base_url: str
    jira_ticket_field: str
    zendesk_issue_field: str
    zendesk_timeout: float = field(default=5.0, metadata=_env("ZENDESK_TIMEOUT_SECONDS"))
    retry_base_delay: float = field(default=2.0, metadata=_env("RETRY_BASE_DELAY_SECONDS"))
    retry_max_delay: float = field(default=900.0, metadata=_env("RETRY_MAX_DELAY_SECONDS"))
    retry_max_attempts: int = field(default=50, metadata=_env("RETRY_MAX_ATTEMPTS"))
    # Only for replaying the signed samples in events/ locally; keep the default (5 minutes) when deployed.
    zendesk_signature_tolerance: float = field(
        default=300.0, metadata=_env("ZENDESK_SIGNATURE_TOLERANCE_SECONDS")
    )
    # 0: no shared allowance
    zendesk_calls_per_minute: int = field(default=0, metadata=_env("ZENDESK_CALLS_PER_MINUTE"))
    # The Jira calls per minute all functions together may make (0: no limit): resolving the keys a Zendesk
    # field names is bounded by it.
    jira_calls_per_minute: int = field(default=0, metadata=_env("JIRA_CALLS_PER_MINUTE"))
    # How long a webhook may take to answer: its sender's patience (Zendesk waits about 10 s).
    webhook_answer_seconds: float = field(default=5.0, metadata=_env("WEBHOOK_ANSWER_SECONDS"))
    # A signed Jira body older than this is a replay, not a late delivery (Jira retries for ~30 minutes).
    jira_event_max_age: float = field(default=6 * 3600.0, metadata=_env("JIRA_EVENT_MAX_AGE_SECONDS"))
    # Only issues of these Jira projects are linked (comma-separated keys; empty: every project).
    jira_projects: str = field(default="", metadata=_env("JIRA_PROJECTS"))
    # The secret holding this webhook's signing secret; empty on functions that check no signature.
    webhook_secret_id: str = ""
    # The reconcile job's continuation loop (a Step Functions state machine); empty where there is none.
    reconcile_state_machine_arn: str = field(default="", metadata=_env("RECONCILE_STATE_MACHINE_ARN"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        declared = [(f, f.metadata.get("env", f.name.upper())) for f in fields(cls)]
        missing = [var for f, var in declared if f.default is MISSING and not env.get(var, "").strip()]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        values = {f.name: _setting(f, var, env) for f, var in declared if var in env or f.default is MISSING}
        if not re.fullmatch(r"customfield_\d+", values["jira_ticket_field"]):
            raise ConfigError("JIRA_TICKET_FIELD must look like customfield_10100")
        if not values["zendesk_issue_field"].isdigit():
            raise ConfigError("ZENDESK_ISSUE_FIELD must be the numeric id of a Zendesk ticket field")
        return cls(**values)

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts(read=self.zendesk_timeout)

    @property
    def allowed_projects(self) -> frozenset[str]:
        """The Jira projects whose issues may be linked; empty for all."""
        return frozenset(p.strip().upper() for p in self.jira_projects.split(",") if p.strip())


def _setting(declared: Field[Any], var: str, env: Mapping[str, str]) -> Any:
    """One variable's value, of its setting's type; numbers must not be negative."""
    text = env[var].strip()
    if declared.default is MISSING or isinstance(declared.default, str):
        return text
    kind = type(declared.default)
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{var} must be a number") from None
    if value < 0:
        raise ConfigError(f"{var} must not be negative")
    return value


@dataclass(frozen=True)
class Secrets:
    """The API credentials, and the signing secret of the one webhook this function serves ("" for the
    other, and on functions that serve none)."""

    zendesk_email: str
    zendesk_api_token: str = field(repr=False)
    jira_email: str
    jira_api_token: str = field(repr=False)
    jira_webhook_secret: str = field(default="", repr=False)
    zendesk_webhook_secret: str = field(default="", repr=False)

    @classmethod
    def from_mapping(cls, credentials: Any, webhook: Any = None) -> Secrets:
        """From the credentials secret's JSON and, on a webhook function, its signing secret's JSON."""
        values = dict(_required(credentials, CREDENTIAL_KEYS, "the secret"))
        if webhook is not None:
            if not isinstance(webhook, Mapping):
                raise ConfigError("the webhook secret must be a JSON object")
            signing = {k: webhook[k] for k in (JIRA_WEBHOOK_KEY, ZENDESK_WEBHOOK_KEY) if _given(webhook, k)}
            if not signing:
                raise ConfigError(
                    f"the webhook secret lacks a non-empty {JIRA_WEBHOOK_KEY} or {ZENDESK_WEBHOOK_KEY}"
                )
            values.update(signing)
        return cls(**values)


def _given(data: Mapping[str, Any], key: str) -> bool:
    return isinstance(data.get(key), str) and bool(data[key])


def _required(data: Any, keys: tuple[str, ...], what: str) -> dict[str, str]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} must be a JSON object")
    missing = [k for k in keys if not _given(data, k)]
    if missing:
        raise ConfigError(f"{what} lacks non-empty string values for: {', '.join(missing)}")
    return {k: data[k] for k in keys}


def fetch_secrets(settings: Settings, *, max_age: int = SECRET_MAX_AGE_SECONDS) -> Secrets:
    """Read the function's secrets through Powertools Parameters (cached for ``max_age`` seconds per
    container): the credentials, and on a webhook function its signing secret."""
    credentials = _fetch(settings.secret_id, max_age)
    webhook = _fetch(settings.webhook_secret_id, max_age) if settings.webhook_secret_id else None
    return Secrets.from_mapping(credentials, webhook)


def _fetch(secret_id: str, max_age: int) -> Any:
    from aws_lambda_powertools.utilities import parameters

    try:
        return parameters.get_secret(secret_id, transform="json", max_age=max_age)
    except parameters.exceptions.GetParameterError as e:
        raise ConfigError(f"could not read secret {secret_id!r}: {type(e.__cause__ or e).__name__}") from e
    except parameters.exceptions.TransformParameterError as e:
        raise ConfigError(f"secret {secret_id!r} is not valid JSON") from e


class Cached[T]:
    """Build a value once per container from (settings, secrets); rebuild when the secret rotates.

    Tests replace the value with ``override``.
    """

    def __init__(self, build: Callable[[Settings, Secrets], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._key: tuple[Settings, Secrets] | None = None
        self._value: T | None = None
        self._override: T | None = None

    def get(self) -> T:
        if self._override is not None:
            return self._override
        settings = Settings.from_env()
        secrets = fetch_secrets(settings)
        with self._lock:
            if self._value is None or self._key != (settings, secrets):
                self._value = self._build(settings, secrets)
                self._key = (settings, secrets)
            return self._value

    def override(self, value: T | None) -> None:
        self._override = value
        self._value = None
        self._key = None
