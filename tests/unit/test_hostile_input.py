"""Hostile input, property-based: whatever arrives, the answer is an event, a typed error or a 4xx.

The webhook endpoints are public, so anything can be sent to them. These properties check that parsers,
signatures and the HTTP glue refuse nonsense with the errors they document, never with a stray exception
(which the handler would turn into a 503 and the sender would retry for ever), and that nothing reaches the
sync service without a valid signature.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast, get_args

import pytest
from hypothesis import HealthCheck, Phase, assume, example, find, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from linksync import signatures
from linksync.config import Secrets, Settings
from linksync.errors import InvalidPayloadError, InvalidSignatureError
from linksync.events import JiraAction, JiraEvent, ZendeskAction, ZendeskEvent, parse_jira, parse_zendesk
from linksync.fields import MAX_TEXT, MAX_TOKENS, parse_issue_keys, parse_ticket_ids
from linksync.inbound import parse_json
from linksync.services import Services
from linksync.webhook import JIRA, MAX_BODY_BYTES, ZENDESK, WebhookHandler
from local.stack import http_api_event
from tests import headers as edge

TICKET_FIELD = "customfield_10100"
ISSUE_FIELD = "360000000001"
JIRA_SECRET = "jira-webhook-secret"
ZENDESK_SECRET = "zendesk-webhook-secret"
NOW = 1_795_946_400.0  # 2026-11-29T10:00:00Z

# Huge strings and bodies can make a single example slow to generate; that is the point of them.
SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

# --------------------------------------------------------------------------- JSON-ish values

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
digitish = st.text(alphabet="0123456789 -+#.e\u00b2\u0664\uff11\u2460\t\n", max_size=25)


def _repeat(chunk: str, length: int) -> str:
    """``length`` characters of ``chunk`` repeated: huge strings without drawing every character."""
    return (chunk * (length // len(chunk) + 1))[:length]


huge_text = st.builds(
    _repeat,
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6),
    st.integers(1_000, 30_000),
)


def _huge_int(bits: int, offset: int, negative: bool) -> int:
    value = (1 << bits) + offset
    return -value if negative else value


# json.loads refuses integers over 4300 digits, so nothing bigger can reach a parser from a request.
huge_ints = st.builds(_huge_int, st.integers(63, 14_000), st.integers(-2, 2), st.booleans())
scalars = st.none() | st.booleans() | st.integers() | huge_ints | st.floats() | text | digitish | huge_text

ZENDESK_TYPES = [
    "zen:event-type:ticket.created",
    "zen:event-type:ticket.soft_deleted",
    "zen:event-type:ticket.permanently_deleted",
    "zen:event-type:ticket.merged",
    "zen:event-type:ticket.undeleted",
    "zen:event-type:ticket.custom_field_changed",
    "zen:event-type:ticket.status_changed",
    "zen:event-type:ticket.",
    "zen:event-type:user.created",
    "ticket.created",
]
# Real keys, each with values that are right, nearly right, or right-looking but of the wrong type.
HINTS: dict[str, list[Any]] = {
    "webhookEvent": [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "jira:worklog_updated",
        "",
    ],
    "issue": [],
    "id": [
        "10001",
        10001,
        " 42 ",
        "0",
        "-1",
        0,
        -5,
        "9" * 19,
        "9" * 20,
        "4\u00b2",
        "\u0664\u0662",
        ISSUE_FIELD,
    ],
    "key": ["PROJ-1", "", "x" * 101],
    "fields": [None],
    TICKET_FIELD: ["101", "101, 102", [101]],
    "changelog": [],
    "items": [],
    "fieldId": [TICKET_FIELD, "summary"],
    "timestamp": [1_700_000_000_000, True, "now"],
    "type": ZENDESK_TYPES,
    "detail": [],
    "event": [],
    "custom_field": [],
    "ticket_id": ["501", 501, "abc", True],
    "jira_issue_keys": ["PROJ-1", ["PROJ-1", "proj-2"], None],
    "value": ["PROJ-1", "101"],
}


def _almost_right(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    optional = {
        key: (st.sampled_from(hints) | children) if hints else children for key, hints in HINTS.items()
    }
    return st.fixed_dictionaries({}, optional=optional)


json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(text | st.sampled_from(list(HINTS)), children, max_size=5)
        | _almost_right(children)
    ),
    max_leaves=25,
)


MISSING = object()
# Shallow on purpose: deep nesting is json_values' job; here a wrong type must be cheap to draw.
wrong_type = scalars | st.lists(scalars, max_size=3) | st.dictionaries(text, scalars, max_size=3)


def _usually(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``; otherwise a value of some other type, or MISSING (the key is left out)."""
    return st.sampled_from([good] * 6 + [wrong_type, st.just(MISSING)]).flatmap(lambda s: s)


def _object(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object shaped like a real payload, each key usually right, plus a few junk keys."""
    return st.builds(
        lambda known, extra: {**extra, **{k: v for k, v in known.items() if v is not MISSING}},
        st.fixed_dictionaries({k: _usually(v) for k, v in fields.items()}),
        st.dictionaries(text, wrong_type, max_size=2),
    )


valid_ids = st.integers(1, 10**19 - 1)
ids = st.sampled_from(
    [
        valid_ids.map(str),
        valid_ids.map(str),
        valid_ids,
        st.sampled_from(HINTS["id"]),
        digitish,
        st.builds(_repeat, st.sampled_from(["1", "9", "\u0664"]), st.integers(19, 5_000)),
    ]
).flatmap(lambda s: s)
issue_keys = st.sampled_from(["PROJ-1", "proj-2", "", "x" * 101]) | text | huge_text
JIRA_EVENTS = ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "jira:worklog_updated"]
jira_payloads = _object(
    {
        "webhookEvent": st.sampled_from(JIRA_EVENTS),
        "issue": _object(
            {
                "id": ids,
                "key": issue_keys,
                "fields": st.none() | _object({TICKET_FIELD: scalars | st.lists(scalars, max_size=3)}),
            }
        ),
        "changelog": _object(
            {
                "items": st.lists(
                    _object({"fieldId": st.sampled_from([TICKET_FIELD, "summary"])}), min_size=1, max_size=3
                )
            }
        ),
        "timestamp": st.integers() | st.sampled_from([True, 1.5, "now"]),
    }
)
zendesk_payloads = _object(
    {
        "type": st.sampled_from(ZENDESK_TYPES),
        "id": st.sampled_from(["01HZX3E5", "", "e" * 201]) | text,
        "detail": _object({"id": ids}),
        "event": _object(
            {"custom_field": _object({"id": st.sampled_from([ISSUE_FIELD, int(ISSUE_FIELD), "1", None])})}
        ),
    }
) | _object(
    {
        "ticket_id": ids,
        "jira_issue_keys": st.none()
        | text
        | st.lists(text, max_size=3)
        | st.sampled_from(HINTS["jira_issue_keys"]),
    }
)
jira_input = json_values | jira_payloads
zendesk_input = json_values | zendesk_payloads


def _parse_or_error(parse: Any, payload: Any, **kwargs: str) -> Any:
    """The event, or the InvalidPayloadError; any other exception propagates and fails the test."""
    if isinstance(payload, _Refused):
        return payload.error
    try:
        return parse(payload, **kwargs)
    except InvalidPayloadError as e:
        return e


def _outcome(parse: Any, payload: Any, **kwargs: str) -> str:
    """What a parser made of the payload: "invalid", or the action and type, e.g. "sync trigger"."""
    result = _parse_or_error(parse, payload, **kwargs)
    if isinstance(result, InvalidPayloadError):
        return "invalid"
    # A Jira event that parsed routes on its payload's webhookEvent, which the event itself does not keep.
    kind = payload["webhookEvent"] if isinstance(result, JiraEvent) else result.event_type
    return f"{result.action} {kind}"


# --------------------------------------------------------------------------- 1. payload parsers


def _is_positive_id(value: Any) -> bool:
    """What events._id promises: ASCII digits, at most 19 of them, naming a positive integer."""
    return isinstance(value, str) and re.fullmatch(r"[0-9]{1,19}", value) is not None and int(value) > 0


@settings(max_examples=250, deadline=None, suppress_health_check=SLOW_DATA)
@given(jira_input)
@example({"webhookEvent": "jira:issue_created", "issue": {"id": 10**4000, "key": "A-1"}})
@example({"webhookEvent": "jira:issue_created", "issue": {"id": True, "key": "A-1"}})
@example({"webhookEvent": "jira:issue_created", "issue": {"id": "1", "key": 7}})
@example({"webhookEvent": "jira:issue_deleted", "issue": {"id": "1", "key": ["A-1"]}})
@example({"webhookEvent": "jira:issue_created", "issue": {"id": "1", "key": "A" * 101}})
@example({"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "key": "A-1", "fields": []}})
def test_parse_jira_returns_an_event_or_invalid_payload(payload: Any) -> None:
    """Anything json.loads can return becomes a Jira event or InvalidPayloadError (a 400), nothing else."""
    result = _parse_or_error(parse_jira, payload, ticket_field=TICKET_FIELD)
    hypothesis_event(_outcome(parse_jira, payload, ticket_field=TICKET_FIELD))
    if isinstance(result, InvalidPayloadError):
        assert result.status == 400 and result.message
        return
    assert isinstance(result, JiraEvent)
    assert result.action in get_args(JiraAction)
    if result.action != "ignore":
        assert _is_positive_id(result.issue_id)
        assert isinstance(result.issue_key, str) and 0 < len(result.issue_key) <= 100


@settings(max_examples=250, deadline=None, suppress_health_check=SLOW_DATA)
@given(zendesk_input)
@example(
    {"type": "zen:event-type:ticket.custom_field_changed", "detail": {"id": 5}, "event": {"custom_field": []}}
)
@example({"ticket_id": "\u00b2", "jira_issue_keys": "A-1"})
@example({"ticket_id": True, "jira_issue_keys": "A-1"})
@example({"ticket_id": "1", "jira_issue_keys": {"a": 1}})
@example({"type": "zen:event-type:ticket.created", "id": 12, "detail": {"id": "5"}})
@example({"type": "zen:event-type:ticket.undeleted", "detail": {"id": "9" * 20}})
def test_parse_zendesk_returns_an_event_or_invalid_payload(payload: Any) -> None:
    """Anything json.loads can return becomes a Zendesk event or InvalidPayloadError (a 400), nothing else."""
    result = _parse_or_error(parse_zendesk, payload, issue_field=ISSUE_FIELD)
    hypothesis_event(_outcome(parse_zendesk, payload, issue_field=ISSUE_FIELD))
    if isinstance(result, InvalidPayloadError):
        assert result.status == 400 and result.message
        return
    assert isinstance(result, ZendeskEvent)
    assert result.action in get_args(ZendeskAction)
    if result.action != "ignore":
        assert _is_positive_id(result.ticket_id)


# The example found may hold a huge string; Hypothesis warns when it prints it. That is expected here.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize(
    ("parse", "kwargs", "outcome"),
    [
        (parse_jira, {"ticket_field": TICKET_FIELD}, r"sync jira:issue_created"),
        (parse_jira, {"ticket_field": TICKET_FIELD}, r"sync jira:issue_updated"),
        (parse_jira, {"ticket_field": TICKET_FIELD}, r"ignore jira:issue_updated"),
        (parse_jira, {"ticket_field": TICKET_FIELD}, r"delete jira:issue_deleted"),
        (parse_zendesk, {"issue_field": ISSUE_FIELD}, r"sync ticket\.created"),
        (parse_zendesk, {"issue_field": ISSUE_FIELD}, r"sync ticket\.custom_field_changed"),
        (parse_zendesk, {"issue_field": ISSUE_FIELD}, r"ignore ticket\.custom_field_changed"),
        (parse_zendesk, {"issue_field": ISSUE_FIELD}, r"\w+ trigger"),
        (parse_zendesk, {"issue_field": ISSUE_FIELD}, r"delete ticket\.\w+"),
        (parse_zendesk, {"issue_field": ISSUE_FIELD}, r"restore ticket\.undeleted"),
    ],
)
def test_the_generators_reach_every_outcome(parse: Any, kwargs: dict[str, str], outcome: str) -> None:
    """The properties prove little if every example dies at the first isinstance: each outcome is reached."""
    strategy = jira_payloads if parse is parse_jira else zendesk_payloads
    found = find(
        strategy,
        lambda p: re.fullmatch(outcome, _outcome(parse, p, **kwargs)) is not None,
        settings=settings(
            max_examples=3_000,
            database=None,
            phases=[Phase.generate],
            derandomize=True,  # the same examples every run: a steady runtime, and no flaky misses
            suppress_health_check=SLOW_DATA,
        ),
    )
    assert re.fullmatch(outcome, _outcome(parse, found, **kwargs))


# --------------------------------------------------------------------------- 2. field parsers

FIELD_TOKENS = [
    "PROJ-1",
    "proj-2",
    "P_1-0",
    "A-01",
    "#12",
    "0",
    "-4",
    "\u0661\u0662",
    "\uff11\uff12",
    "\u00b2",
    "\u017f",
    "\u212a-1",
    "\u0131-1",
    "https://acme.zendesk.com/agent/tickets/55",
    "https://acme.zendesk.com/tickets/56?x=1",
    "http\u017f://acme.zendesk.com/tickets/57",
    "https://acme.atlassian.net/browse/ab-3#c",
    "https://evil.example/tickets/x",
    "9" * 30,
]
field_text = st.lists(st.sampled_from(FIELD_TOKENS) | text, max_size=12).flatmap(
    lambda tokens: st.sampled_from([" ", ",", ";", ", ", "\n", "\u3000", ""]).map(
        lambda sep: sep.join(tokens)
    )
)


def _many_tokens(token: str, count: int, nested: int) -> Any:
    """A field stuffed with far more tokens than anyone types: thousands, as text, a list or nested lists."""
    line = " ".join(f"{token}{i + 1}" for i in range(count))
    if nested == 0:
        return line
    if nested == 1:
        return [line] * 300
    return [[f"{token}{i + 1}" for i in range(count)]] * 300


huge_field_values = st.builds(
    _many_tokens,
    st.sampled_from(["", "#", "PROJ-", "https://a.zendesk.com/tickets/", "x"]),
    st.integers(201, 6_000),
    st.integers(0, 2),
)
field_values = json_values | field_text | st.lists(field_text | scalars, max_size=5) | huge_field_values

TICKET_ID = re.compile(r"[1-9][0-9]*")
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*")


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_DATA)
@given(field_values)
@example(10**4000)
@example(1e300)
@example([float("nan"), float("-inf"), float("inf"), -0.0, 5.5, -3.0])
@example(["1"] * 10_000)
def test_parse_ticket_ids_never_raises_and_returns_ticket_ids(value: Any) -> None:
    """People type anything into the Jira field: we get at most 200 distinct positive decimal ids back."""
    parsed = parse_ticket_ids(value)
    assert len(parsed.values) <= MAX_TOKENS
    assert len(set(parsed.values)) == len(parsed.values)
    for ticket_id in parsed.values:
        assert isinstance(ticket_id, str) and TICKET_ID.fullmatch(ticket_id) and ticket_id.isascii()
    assert all(isinstance(r, str) and len(r) <= 80 for r in parsed.rejected)


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW_DATA)
@given(field_values)
@example("\u212a-1 \u0131-1 \u017f-1 \u00df-1")
@example(["PROJ-1"] * 10_000)
def test_parse_issue_keys_never_raises_and_returns_issue_keys(value: Any) -> None:
    """People type anything into the Zendesk field: we get at most 200 distinct upper-case issue keys back."""
    parsed = parse_issue_keys(value)
    assert len(parsed.values) <= MAX_TOKENS
    assert len(set(parsed.values)) == len(parsed.values)
    for key in parsed.values:
        assert isinstance(key, str) and ISSUE_KEY.fullmatch(key) and key.isascii()
    assert all(isinstance(r, str) and len(r) <= 80 for r in parsed.rejected)


def test_a_field_over_the_limits_is_refused_whole_never_cut() -> None:
    """Past the limits nothing is read: a cut would invent ids, and the first 200 of many would drop the
    links of the rest. At the limit, everything is read."""
    for many in (_many_tokens("", 5_000, 0), [str(i + 1) for i in range(MAX_TOKENS + 1)]):
        parsed = parse_ticket_ids(many)
        assert (parsed.values, parsed.rejected) == ((), ()) and parsed.refused
    assert parse_issue_keys(_many_tokens("PROJ-", 5_000, 2)).refused
    urls = " ".join(f"https://acme-support.zendesk.com/agent/tickets/{30000 + i}" for i in range(200))
    assert len(urls) > MAX_TEXT and parse_ticket_ids(urls).values == ()  # ticket "300" is never invented
    at_limit = parse_ticket_ids(" ".join(str(i + 1) for i in range(MAX_TOKENS)))
    assert at_limit.refused is None and len(at_limit.values) == MAX_TOKENS


# --------------------------------------------------------------------------- 3. signatures

JIRA_NAMES = ["X-Hub-Signature", "x-hub-signature", "X-HUB-SIGNATURE", "x-Hub-Signature"]
ZENDESK_NAMES = [
    "X-Zendesk-Webhook-Signature",
    "x-zendesk-webhook-signature",
    "X-ZENDESK-WEBHOOK-SIGNATURE",
    "X-Zendesk-Webhook-Signature-Timestamp",
    "x-zendesk-webhook-signature-timestamp",
    "X-ZENDESK-WEBHOOK-SIGNATURE-TIMESTAMP",
]
header_names = (
    st.sampled_from([*JIRA_NAMES, *ZENDESK_NAMES, "X-Atlassian-Webhook-Identifier", "Content-Type"]) | text
)

hex_digest = st.text("0123456789abcdefABCDEF", min_size=0, max_size=70)
timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-11-29T10:00:00Z",
            "2026-11-29T10:00:00",
            "2026-11-29 10:00:00+00:00",
            "2026-11-29T10:00:00.123456+05:30",
            "20261129T100000Z",
            "1795946400",
            "1795946400.0",
            "-1795946400",
            "Sun, 29 Nov 2026 10:00:00 GMT",
            "9" * 400,
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "\u0661\u0667\u0669\u0665\u0669\u0664\u0666\u0664\u0660\u0660",
            "\uff11\uff17\uff19\uff15\uff19\uff14\uff16\uff14\uff10\uff10",
            "yesterday",
            "Z",
            "",
        ]
    ),
    st.builds(
        lambda dt, tz: dt.replace(tzinfo=tz).isoformat(),
        st.datetimes(min_value=datetime(2026, 11, 29, 9, 50), max_value=datetime(2026, 11, 29, 10, 10)),
        st.none()
        | st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))),
    ),
    st.integers().map(str),
    st.floats().map(str),
)
header_values = st.one_of(
    text,
    timestamps,
    st.builds(
        lambda scheme, digest: f"{scheme}={digest}",
        st.sampled_from(["sha256", "SHA256", "sha1", " sha256", ""]),
        hex_digest,
    ),
    st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    st.sampled_from(
        ["", " ", "sha256=", "%%%not-base64%%%", "sha256=" + "\u00e4" * 64, "bm90IHRoZSBzaWduYXR1cmU"]
    ),
)


def _near(now: Callable[[], float]) -> st.SearchStrategy[dict[str, str]]:
    """Zendesk headers with a timestamp inside the window, so the signature value itself gets checked."""
    stamp = st.builds(
        lambda delta, fmt: (
            str(int(now() + delta))
            if fmt == "epoch"
            else datetime.fromtimestamp(now() + delta, UTC).strftime(fmt)
        ),
        st.integers(-250, 250),
        st.sampled_from(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f+00:00", "epoch"]),
    )
    return st.builds(
        lambda sig_name, sig, ts_name, ts: {sig_name: sig, ts_name: ts},
        st.sampled_from(ZENDESK_NAMES[:3]),
        header_values,
        st.sampled_from(ZENDESK_NAMES[3:]),
        stamp,
    )


hostile_headers = st.dictionaries(header_names, header_values, max_size=6) | _near(lambda: NOW)
bodies = st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
secrets = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


def _verifies(verify: Any, *args: Any, **kwargs: Any) -> bool:
    """True for a good signature, False for InvalidSignatureError; any other exception fails the test."""
    refused: InvalidSignatureError | None = None
    try:
        verify(*args, **kwargs)
    except InvalidSignatureError as e:
        refused = e
    if refused is None:
        return True
    assert refused.status == 401 and refused.message
    return False


@settings(max_examples=150, deadline=None)
@given(hostile_headers, bodies, secrets)
def test_verify_jira_only_ever_raises_invalid_signature(
    headers: dict[str, str], body: bytes, secret: str
) -> None:
    """Any header dict, any body: InvalidSignatureError (a 401), nothing else; random headers never pass."""
    assert not _verifies(edge.verify_jira, headers, body, secret)


@settings(max_examples=150, deadline=None)
@given(hostile_headers, bodies, secrets)
def test_verify_zendesk_only_ever_raises_invalid_signature(
    headers: dict[str, str], body: bytes, secret: str
) -> None:
    """Any header dict, any body: InvalidSignatureError (a 401), nothing else; random headers never pass."""
    assert not _verifies(edge.verify_zendesk, headers, body, secret, now=NOW)


@settings(max_examples=30, deadline=None)
@given(
    st.text(alphabet="\u00b2\u00b3\u00b9\u2460\u2474\u0031", min_size=1, max_size=12).filter(
        lambda s: not s.isdecimal()
    )
)
@example("\u00b2")
def test_verify_zendesk_refuses_digit_like_timestamps(timestamp: str) -> None:
    """A timestamp of superscript or circled digits is not a timestamp: refuse it with a 401."""
    headers = {
        "X-Zendesk-Webhook-Signature": "bm90IHRoZSBzaWduYXR1cmU=",
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }
    assert not _verifies(edge.verify_zendesk, headers, b"{}", ZENDESK_SECRET, now=NOW)


def _different[T: (bytes, str)](value: T, other: T) -> T:
    """``other``, or when the draw made it equal, ``value`` plus one character: the nearest miss there is."""
    if other != value:
        return other
    return value + (b"!" if isinstance(value, bytes) else "!")


def _case(headers: dict[str, str], upper: bool) -> dict[str, str]:
    return {(k.upper() if upper else k.lower()): v for k, v in headers.items()}


@settings(max_examples=120, deadline=None)
@given(bodies, bodies, secrets, secrets, st.booleans(), st.integers(0, 63))
def test_jira_signature_binds_body_and_secret(
    body: bytes, other: bytes, secret: str, other_secret: str, upper: bool, cut: int
) -> None:
    """A signature over one body with one secret verifies exactly that pair, whatever the header's case;
    a truncated digest verifies nothing."""
    other, other_secret = _different(body, other), _different(secret, other_secret)
    headers = _case(signatures.sign_jira(body, secret), upper)
    assert _verifies(edge.verify_jira, headers, body, secret)
    assert not _verifies(edge.verify_jira, headers, other, secret)
    assert not _verifies(edge.verify_jira, headers, body, other_secret)
    truncated = {k: v[: len("sha256=") + cut] for k, v in headers.items()}
    assert not _verifies(edge.verify_jira, truncated, body, secret)


@settings(max_examples=120, deadline=None)
@given(
    bodies,
    bodies,
    secrets,
    secrets,
    st.integers(-290, 290),
    st.integers(-10_000, 10_000).filter(bool),
    st.integers(301, 10**9),
    st.booleans(),
)
def test_zendesk_signature_binds_body_secret_and_timestamp(
    body: bytes, other: bytes, secret: str, other_secret: str, skew: int, shift: int, age: int, upper: bool
) -> None:
    """A signature verifies only its own body, secret and timestamp; moving the timestamp breaks it, and a
    correct signature made more than five minutes before or after now is refused."""
    other, other_secret = _different(body, other), _different(secret, other_secret)
    signed_at = datetime.fromtimestamp(NOW + skew, UTC)
    headers = _case(signatures.sign_zendesk(body, secret, signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")), upper)
    assert _verifies(edge.verify_zendesk, headers, body, secret, now=NOW)
    assert not _verifies(edge.verify_zendesk, headers, other, secret, now=NOW)
    assert not _verifies(edge.verify_zendesk, headers, body, other_secret, now=NOW)
    moved = {
        k: (
            datetime.fromtimestamp(NOW + skew + shift, UTC).isoformat()
            if k.lower().endswith("timestamp")
            else v
        )
        for k, v in headers.items()
    }
    assert not _verifies(edge.verify_zendesk, moved, body, secret, now=NOW)
    for stale in (NOW - age, NOW + age):
        old = signatures.sign_zendesk(body, secret, datetime.fromtimestamp(stale, UTC).isoformat())
        assert not _verifies(edge.verify_zendesk, old, body, secret, now=NOW)
    short = {
        k: base64.b64encode(base64.b64decode(v)[:16]).decode()
        if k.lower() == signatures.ZENDESK_HEADER
        else v
        for k, v in headers.items()
    }
    assert not _verifies(edge.verify_zendesk, short, body, secret, now=NOW)


def _empty_key_headers(body: bytes, timestamp: str) -> dict[str, str]:
    """Headers a forger would send if an empty secret counted: HMACs made with the empty key."""
    return {
        "X-Hub-Signature": "sha256=" + hmac.new(b"", body, hashlib.sha256).hexdigest(),
        "X-Zendesk-Webhook-Signature": base64.b64encode(
            hmac.new(b"", timestamp.encode() + body, hashlib.sha256).digest()
        ).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
    }


@settings(max_examples=100, deadline=None)
@given(hostile_headers, bodies, st.booleans())
def test_an_empty_secret_fails_closed(headers: dict[str, str], body: bytes, forged: bool) -> None:
    """With no secret configured nothing verifies, not even HMACs computed with the empty key."""
    if forged:
        headers = _empty_key_headers(body, "2026-11-29T10:00:00Z")
    assert not _verifies(edge.verify_jira, headers, body, "")
    assert not _verifies(edge.verify_zendesk, headers, body, "", now=NOW)
    with pytest.raises(InvalidSignatureError):
        signatures.sign_jira(body, "")
    with pytest.raises(InvalidSignatureError):
        signatures.sign_zendesk(body, "")


# --------------------------------------------------------------------------- 4. the webhook glue


class Forbidden:
    """Stands in for a collaborator that must not be used: any use is recorded and raises AssertionError
    (which the handler would turn into a 503, so the status check catches it too)."""

    def __init__(self, what: str, **allowed: Any) -> None:
        object.__setattr__(self, "touched", [])
        object.__setattr__(self, "what", what)
        for name, value in allowed.items():
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"the {self.what} was used: .{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        self.touched.append(name)
        raise AssertionError(f"the {self.what} was changed: .{name}")


def forbidden_sync() -> Forbidden:
    """Only ``metrics`` is allowed: refusing a bad signature counts a SignatureFailures metric."""
    return Forbidden("sync service", metrics=RecordingMetrics())


class RecordingMetrics:
    def __init__(self) -> None:
        self.added: list[str] = []

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.added.append(name)


class _Outcome:
    def as_dict(self) -> dict[str, Any]:
        return {}


class AcceptingSync:
    """Stands in for SyncService on the signed path: records the events it is handed, does nothing."""

    def __init__(self) -> None:
        self.metrics = RecordingMetrics()
        self.handled: list[Any] = []

    def handle_jira(self, event: JiraEvent, deadline: Any) -> _Outcome:
        self.handled.append(event)
        return _Outcome()

    def handle_zendesk(self, event: ZendeskEvent, deadline: Any) -> _Outcome:
        self.handled.append(event)
        return _Outcome()


SETTINGS = Settings(
    links_table_name="links-table",
    retry_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/retry",
    dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/dead",
    secret_id="linksync/test",
    zendesk_base_url="https://acme.zendesk.example",
    jira_base_url="https://acme.atlassian.example",
    jira_ticket_field=TICKET_FIELD,
    zendesk_issue_field=ISSUE_FIELD,
)
SECRETS = Secrets(
    zendesk_email="agent@acme.example",
    zendesk_api_token="zendesk-token",
    zendesk_webhook_secret=ZENDESK_SECRET,
    jira_email="bot@acme.example",
    jira_api_token="jira-token",
    jira_webhook_secret=JIRA_SECRET,
)


class _NoIdempotency:
    """Stands in for Powertools' idempotency record (tested on moto elsewhere): every delivery is new."""

    def register_lambda_context(self, context: Any) -> None:
        return None


def _handler(source: str, sync: Any, dynamodb: Forbidden | None = None) -> WebhookHandler:
    """The real handler on real Settings and Secrets; DynamoDB and the retry queue are off limits, so the
    idempotency record is left out (an unsigned request must not reach it in any case)."""
    svc = Services(
        settings=SETTINGS,
        secrets=SECRETS,
        sync=sync,
        dynamodb=dynamodb or Forbidden("DynamoDB"),
        handoff=cast(Any, Forbidden("retry queue")),
        metrics=sync.metrics,
        zendesk=cast(Any, Forbidden("Zendesk client")),
        jira=cast(Any, Forbidden("Jira client")),
    )
    handler = WebhookHandler(JIRA if source == "jira" else ZENDESK, lambda: svc, metrics=sync.metrics)

    def process(delivery: dict[str, Any], svc: Services, deadline: Any) -> dict[str, Any]:
        return handler.source.handle(svc, delivery["event"], deadline, handler._annotate).as_dict()

    handler._process_once = lambda svc: (process, _NoIdempotency())  # type: ignore[method-assign]
    return handler


def _assert_json_error(answer: Any, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert isinstance(answer, dict)
    assert answer["statusCode"] in statuses, answer
    assert answer["headers"]["Content-Type"] == "application/json"
    body = json.loads(answer["body"])
    assert isinstance(body, dict) and isinstance(body["error"], str) and body["error"]
    return body


def _body_for(source: str) -> st.SearchStrategy[str]:
    """Request bodies as text: payloads fine if signed, other JSON, garbage, sizes at and past the limit."""
    good = (
        {
            "webhookEvent": "jira:issue_created",
            "issue": {"id": "10001", "key": "PROJ-1", "fields": {TICKET_FIELD: "101"}},
        }
        if source == "jira"
        else {"type": "zen:event-type:ticket.created", "detail": {"id": "501"}}
    )
    return st.one_of(
        st.just(json.dumps(good)),
        (jira_input if source == "jira" else zendesk_input).map(json.dumps),
        text,
        st.builds(
            _repeat,
            st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=4),
            st.integers(MAX_BODY_BYTES - 3, MAX_BODY_BYTES + 3),
        ),
        st.builds(
            _repeat,
            st.sampled_from(["x", "\u00e9", "\U0001f600"]),
            st.integers(MAX_BODY_BYTES // 4, 2 * MAX_BODY_BYTES),
        ),
    )


def _base64_body() -> st.SearchStrategy[str]:
    """Bodies API Gateway would mark as base64: valid, valid but decoding past the limit, and not base64."""
    return st.one_of(
        st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
        st.integers(MAX_BODY_BYTES - 3, MAX_BODY_BYTES + 3).map(
            lambda n: base64.b64encode(b"{" * n).decode()
        ),
        st.sampled_from(["***", "e30", "e30=\n", "=", "\u00e9\u00e9==", " e30= "]),
        text,
        st.builds(_repeat, st.sampled_from(["QUFB", "!"]), st.integers(MAX_BODY_BYTES, 2 * MAX_BODY_BYTES)),
    )


@st.composite
def unsigned_events(draw: st.DrawFn, source: str) -> dict[str, Any]:
    """An HTTP API v2 event whose signature is missing, malformed, or made for another body or secret."""
    flagged = draw(st.booleans())
    body: Any = draw(_base64_body() if flagged else _body_for(source))
    if draw(st.integers(0, 9)) == 0:
        body = draw(
            st.none()
            | st.integers()
            | st.lists(st.integers(), max_size=3)
            | st.dictionaries(text, text, max_size=2)
            | st.just(b"{}")
        )
    headers = draw(hostile_headers | _near(time.time))
    forge = draw(st.sampled_from(["none", "other_body", "other_secret"]))
    if forge != "none":
        other_body = draw(bodies)
        secret = JIRA_SECRET if source == "jira" else ZENDESK_SECRET
        real = _raw_bytes(body, flagged)
        if forge == "other_secret":
            other_body = other_body if real is None else real
            secret = draw(secrets.filter(lambda s: s not in (JIRA_SECRET, ZENDESK_SECRET)))
        elif other_body == real:
            other_body += b" "
        sign = signatures.sign_jira if source == "jira" else signatures.sign_zendesk
        headers = {**headers, **sign(other_body, secret)}
    event = http_api_event("POST", f"/webhooks/{source}", b"", {})
    event["headers"] = headers
    event["body"] = body
    event["isBase64Encoded"] = (
        draw(st.sampled_from([True, 1, "true", "false"]))
        if flagged
        else draw(st.sampled_from([False, None, 0, ""]))
    )
    return event


def _assert_unsigned_refused(source: str, event: dict[str, Any]) -> int:
    """Call the handler with a sync service that must not be used; check the refusal; return its status."""
    sync, dynamodb = forbidden_sync(), Forbidden("DynamoDB")
    answer = _handler(source, sync, dynamodb)(event, context=None)
    _assert_json_error(answer, _expected_refusal(event))
    assert sync.touched == [] and dynamodb.touched == []
    return cast(int, answer["statusCode"])


def _raw_bytes(body: Any, flagged: Any) -> bytes | None:
    """The bytes a signature would be checked over, or None when the body is unusable as sent."""
    if body is None:
        return b""
    if not isinstance(body, str):
        return None
    if not flagged:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return None


def _expected_refusal(event: dict[str, Any]) -> tuple[int, ...]:
    """Size first (413), then the signature (401); a body that is not a string, or not the base64 it claims
    to be, is a 400 (or a 413 when it is also far too big)."""
    raw = _raw_bytes(event["body"], event["isBase64Encoded"])
    if raw is None:
        return (400,) if not isinstance(event["body"], str) else (400, 413)
    return (413,) if len(raw) > MAX_BODY_BYTES else (401,)


@pytest.mark.parametrize("source", ["jira", "zendesk"])
@settings(max_examples=100, deadline=None, suppress_health_check=SLOW_DATA)
@given(data=st.data())
def test_unsigned_requests_get_a_4xx_and_never_reach_sync(source: str, data: st.DataObject) -> None:
    """Without a valid signature the answer is 400, 401 or 413 with a JSON error, and sync is never used."""
    event = data.draw(unsigned_events(source))
    hypothesis_event(f"status {_assert_unsigned_refused(source, event)}")


@pytest.mark.parametrize("source", ["jira", "zendesk"])
@settings(max_examples=60, deadline=None)
@given(
    headers=st.one_of(
        st.lists(st.tuples(text, text), max_size=3),
        st.text(min_size=1),
        st.dictionaries(
            st.sampled_from([*JIRA_NAMES, *ZENDESK_NAMES]) | text,
            scalars | st.lists(text, max_size=2),
            max_size=4,
        ),
        st.dictionaries(st.integers() | st.none() | st.tuples(text), text, min_size=1, max_size=3),
    )
)
@example(
    headers={
        "x-hub-signature": 1,
        "x-zendesk-webhook-signature": ["a"],
        "x-zendesk-webhook-signature-timestamp": 1,
    }
)
@example(headers=[["x-hub-signature", "sha256=00"]])
def test_headers_of_the_wrong_shape_get_a_4xx(source: str, headers: Any) -> None:
    """Headers that are not a dict of strings carry no valid signature: a 4xx, not a 503 (retry me)."""
    event = http_api_event("POST", f"/webhooks/{source}", b"{}", {})
    event["headers"] = headers
    _assert_unsigned_refused(source, event)


def test_zendesk_digit_like_timestamp_gets_a_401() -> None:
    """The webhook-level effect of the timestamp bug: a forged request is told to retry instead of refused."""
    headers = {
        "X-Zendesk-Webhook-Signature": "bm90IHRoZSBzaWduYXR1cmU=",
        "X-Zendesk-Webhook-Signature-Timestamp": "\u00b2",
    }
    event = http_api_event("POST", "/webhooks/zendesk", b"{}", headers)
    _assert_unsigned_refused("zendesk", event)


def _without_delivery_id(payload: Any) -> Any:
    """Drop a Zendesk event id so the request takes the plain path, not the DynamoDB idempotency store."""
    if (
        isinstance(payload, dict)
        and "type" in payload
        and isinstance(payload.get("id"), str)
        and payload["id"]
    ):
        return {k: v for k, v in payload.items() if k != "id"}
    return payload


@pytest.mark.parametrize("source", ["jira", "zendesk"])
@settings(max_examples=120, deadline=None, suppress_health_check=SLOW_DATA)
@given(data=st.data(), base64_encode=st.booleans())
def test_signed_arbitrary_json_gets_2xx_or_a_json_400(
    source: str, data: st.DataObject, base64_encode: bool
) -> None:
    """A validly signed body is answered as its parser decides: 200 and the event handed to sync, or 400."""
    payload = _without_delivery_id(data.draw(jira_input if source == "jira" else zendesk_input))
    raw = json.dumps(payload).encode()
    # What the parser makes of the body as the handler sees it (json.loads of the raw bytes, NaN and all).
    if source == "jira":
        headers = signatures.sign_jira(raw, JIRA_SECRET)
        expected = _parse_or_error(parse_jira, _read_json(raw), ticket_field=TICKET_FIELD)
    else:
        headers = signatures.sign_zendesk(raw, ZENDESK_SECRET)
        expected = _parse_or_error(parse_zendesk, _read_json(raw), issue_field=ISSUE_FIELD)
    sync = AcceptingSync()
    event = http_api_event("POST", f"/webhooks/{source}", raw, headers, base64_encode=base64_encode)

    answer = _handler(source, sync)(event, context=None)

    hypothesis_event(f"status {answer['statusCode']}")
    if len(raw) > MAX_BODY_BYTES:
        _assert_json_error(answer, (413,))
        assert sync.handled == []
    elif isinstance(expected, InvalidPayloadError):
        body = _assert_json_error(answer, (400,))
        assert body["error"] == expected.message
        assert sync.handled == []
    elif isinstance(expected, JiraEvent) and _outside_the_window(expected):
        assert answer["statusCode"] == 200, answer  # a replay: Jira must not retry it
        assert json.loads(answer["body"])["ignored"]
        assert sync.handled == []
    else:
        assert answer["statusCode"] == 200, answer
        assert answer["headers"]["Content-Type"] == "application/json"
        assert json.loads(answer["body"]) == {"status": "accepted", "delivery_id": None}
        assert [repr(e) for e in sync.handled] == [repr(expected)]
    assert "SignatureFailures" not in sync.metrics.added
    assert len(sync.metrics.added) == 1  # the request's outcome, by source


def _read_json(raw: bytes) -> Any:
    """The payload as the handler reads it, or the 400 it answers (bodies nested too deeply among them)."""
    try:
        return parse_json(raw)
    except InvalidPayloadError as e:
        return _Refused(e)


class _Refused:
    """A payload the handler refuses before any parser sees it; parsing it re-raises the refusal."""

    def __init__(self, error: InvalidPayloadError) -> None:
        self.error = error


def _outside_the_window(event: JiraEvent) -> bool:
    """A signed Jira body older than the window (JIRA_EVENT_MAX_AGE_SECONDS), or from the future: ignored."""
    if event.timestamp is None:
        return False
    age = time.time() * 1000 - event.timestamp
    return age > SETTINGS.jira_event_max_age * 1000 or age < -5 * 60 * 1000


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


not_json = st.one_of(
    st.binary(max_size=200),
    text.map(str.encode),
    st.sampled_from(
        [b"", b"  \n", b"{", b"{'a': 1}", b"\xef\xbb\xbf[]", b"\xff\xfe{\x00}\x00", b"undefined"]
    ),
    st.integers(1, 20_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(4_301, 6_000).map(lambda n: b'{"webhookEvent": ' + b"1" * n + b"}"),
)


@pytest.mark.parametrize("source", ["jira", "zendesk"])
@settings(max_examples=80, deadline=None)
@given(raw=not_json, base64_encode=st.booleans())
def test_signed_bodies_that_are_not_json_objects_get_a_json_400(
    source: str, raw: bytes, base64_encode: bool
) -> None:
    """Signed garbage (binary, deep nesting, a 5000-digit number, a BOM) is a 400, never a 503."""
    with contextlib.suppress(ValueError, RecursionError):
        assume(not isinstance(json.loads(raw), dict))
    sign = (
        signatures.sign_jira(raw, JIRA_SECRET)
        if source == "jira"
        else signatures.sign_zendesk(raw, ZENDESK_SECRET)
    )
    sync = AcceptingSync()
    event = http_api_event(
        "POST", f"/webhooks/{source}", raw, sign, base64_encode=base64_encode or not _utf8(raw)
    )

    answer = _handler(source, sync)(event, context=None)

    _assert_json_error(answer, (400,))
    assert sync.handled == []


@pytest.mark.parametrize("source", ["jira", "zendesk"])
def test_a_bad_signature_is_counted_and_a_bad_body_is_not(source: str) -> None:
    """SignatureFailures counts refused signatures only: the metric an operator alarms on for forgeries."""
    sync = forbidden_sync()
    handler = _handler(source, sync)
    forged = http_api_event("POST", f"/webhooks/{source}", b"{}", {"X-Hub-Signature": "sha256=00"})
    assert handler(forged)["statusCode"] == 401
    refused = f"{source.capitalize()}WebhookRefused"
    assert sync.metrics.added == [refused, "SignatureFailures"]

    oversize = http_api_event("POST", f"/webhooks/{source}", b"x" * (300 * 1024), {})
    assert handler(oversize)["statusCode"] == 413
    assert sync.metrics.added == [refused, "SignatureFailures", refused]
