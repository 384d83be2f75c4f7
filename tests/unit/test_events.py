"""Webhook payload parsing: routing, ids, and clear errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from linksync.errors import InvalidPayloadError
from linksync.events import parse_jira, parse_zendesk
from linksync.times import epoch_ms
from local.payloads import jira_issue, zendesk_event, zendesk_trigger

FIELD = "customfield_10100"


def test_jira_routes_on_webhook_event_even_without_type_name() -> None:
    body = jira_issue("jira:issue_deleted", "10001", "PROJ-1")
    body.pop("issue_event_type_name", None)
    event = parse_jira(body, ticket_field=FIELD)
    assert (event.action, event.issue_id, event.issue_key) == ("delete", "10001", "PROJ-1")


def test_jira_created_carries_the_field_value_and_timestamp() -> None:
    event = parse_jira(
        jira_issue("jira:issue_created", "10001", "PROJ-1", tickets=[1, 2], timestamp=5), ticket_field=FIELD
    )
    assert (event.action, event.field_value, event.timestamp) == ("sync", [1, 2], 5)


def test_jira_numeric_issue_id_is_accepted_as_string() -> None:
    body = jira_issue("jira:issue_created", "10001", "PROJ-1")
    body["issue"]["id"] = 10001
    assert parse_jira(body, ticket_field=FIELD).issue_id == "10001"


def test_jira_update_only_acts_when_our_field_changed() -> None:
    changed = parse_jira(jira_issue("jira:issue_updated", "1", "A-1", tickets="5"), ticket_field=FIELD)
    other = parse_jira(
        jira_issue("jira:issue_updated", "1", "A-1", tickets="5", changed=False), ticket_field=FIELD
    )
    elsewhere = parse_jira(
        jira_issue("jira:issue_updated", "1", "A-1", field="customfield_1"), ticket_field=FIELD
    )
    assert (changed.action, other.action, elsewhere.action) == ("sync", "ignore", "ignore")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        1,
        {"webhookEvent": None},
        {"webhookEvent": "jira:issue_created"},
        {"webhookEvent": "jira:issue_created", "issue": {"id": "0", "key": "A-1"}},
        {"webhookEvent": "jira:issue_created", "issue": {"id": "\u0661\u0662", "key": "A-1"}},
        {"webhookEvent": "jira:issue_created", "issue": {"id": "1", "key": ""}},
    ],
)
def test_jira_bad_payloads(body: Any) -> None:
    with pytest.raises(InvalidPayloadError):
        parse_jira(body, ticket_field=FIELD)


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        ("ticket.created", "sync"),
        ("ticket.soft_deleted", "delete"),
        ("ticket.permanently_deleted", "delete"),
        ("ticket.merged", "delete"),
        ("ticket.status_changed", "ignore"),
        ("ticket.comment_added", "ignore"),
    ],
)
def test_zendesk_routing(kind: str, action: str) -> None:
    event = parse_zendesk(zendesk_event(kind, "35436", event_id="e1"), issue_field="360001")
    assert (event.action, event.ticket_id) == (action, "35436")


def test_zendesk_custom_field_changed_only_for_our_field() -> None:
    ours = parse_zendesk(
        zendesk_event("ticket.custom_field_changed", "5", field_id="360001"), issue_field="360001"
    )
    numeric = zendesk_event("ticket.custom_field_changed", "5")
    numeric["event"]["custom_field"]["id"] = 360001
    theirs = parse_zendesk(
        zendesk_event("ticket.custom_field_changed", "5", field_id="1"), issue_field="360001"
    )
    assert ours.action == "sync"
    assert parse_zendesk(numeric, issue_field="360001").action == "sync"
    assert theirs.action == "ignore"


def test_zendesk_trigger_body() -> None:
    event = parse_zendesk(zendesk_trigger("77", "PROJ-1 PROJ-2"), issue_field="360001")
    assert (event.action, event.event_type, event.ticket_id) == ("sync", "trigger", "77")
    assert parse_zendesk(zendesk_trigger("77", ""), issue_field="360001").ticket_id == "77"


# --------------------------------------------------------------------------- ticket.merged


def test_zendesk_merge_deletes_the_links_of_the_ticket_merged_away() -> None:
    body = zendesk_event("ticket.merged", "35436", target_ticket_id="35437")

    event = parse_zendesk(body, issue_field="360001")

    assert body["event"] == {"target_ticket_id": "35437"}
    assert (event.action, event.ticket_id, event.target_ticket_id) == ("delete", "35436", "35437")


def test_zendesk_merge_of_a_ticket_into_itself_is_ignored() -> None:
    same = zendesk_event("ticket.merged", "35436", target_ticket_id="35436")
    numeric = zendesk_event("ticket.merged", "35436")
    numeric["event"]["target_ticket_id"] = 35436

    for body in (same, numeric):
        event = parse_zendesk(body, issue_field="360001")
        assert (event.action, event.ticket_id, event.target_ticket_id) == ("ignore", "35436", "35436")
        assert "itself" in event.reason


@pytest.mark.parametrize("event", [{}, {"target_ticket_id": None}, {"target_ticket_id": ""}, [], None, "x"])
def test_zendesk_merge_without_a_readable_target_still_deletes_the_ticket_in_detail(event: Any) -> None:
    body = zendesk_event("ticket.merged", "35436")
    body["event"] = event

    parsed = parse_zendesk(body, issue_field="360001")

    assert (parsed.action, parsed.ticket_id, parsed.target_ticket_id) == ("delete", "35436", "")


# --------------------------------------------------------------------------- ticket.custom_field_changed


@pytest.mark.parametrize(
    "event",
    [
        None,  # no event object at all
        "PROJ-1",
        {"current": "PROJ-1", "previous": None},  # no custom_field at all
        {"custom_field": None},
        {"custom_field": "360001"},  # not an object
        {"custom_field": ["360001"]},
        {"custom_field": {}},  # no id in it
        {"custom_field": {"id": None}},
        {"custom_field": {"id": ""}},
        {"custom_field": {"id": True}},
        {"custom_field": {"title": "Jira issues"}, "custom_field_id": "360001"},  # the id elsewhere
    ],
)
def test_zendesk_field_change_without_the_field_id_where_expected_is_synced_from_the_ticket(
    event: Any,
) -> None:
    body = zendesk_event("ticket.custom_field_changed", "5")
    body["event"] = event

    parsed = parse_zendesk(body, issue_field="360001")

    assert (parsed.action, parsed.ticket_id) == ("sync", "5")
    assert parsed.event_type == "ticket.custom_field_changed"


@pytest.mark.parametrize("field_id", ["1", 1, "360002", " 360002 ", "customfield_360001"])
def test_zendesk_field_change_naming_another_field_stays_ignored(field_id: Any) -> None:
    body = zendesk_event("ticket.custom_field_changed", "5")
    body["event"]["custom_field"]["id"] = field_id

    parsed = parse_zendesk(body, issue_field="360001")

    assert parsed.action == "ignore"
    assert "not ours" in parsed.reason


@pytest.mark.parametrize(
    ("current", "previous"),
    [
        ({"value": "PROJ-1 PROJ-2"}, {"value": "PROJ-1"}),  # objects with a value (seen in real payloads)
        ({"value": None, "id": "7", "relationship_target": "x"}, {}),
        ("PROJ-1 PROJ-2", "PROJ-1"),  # bare values
        (None, None),
        ([1, 2], 3),
    ],
)
def test_zendesk_field_change_accepts_either_shape_of_current_and_previous(
    current: Any, previous: Any
) -> None:
    for field_id, action in (("360001", "sync"), (" 360001 ", "sync"), (360001, "sync"), ("9", "ignore")):
        body = zendesk_event("ticket.custom_field_changed", "5", field_id="360001")
        body["event"].update(current=current, previous=previous)
        body["event"]["custom_field"]["id"] = field_id
        assert parse_zendesk(body, issue_field="360001").action == action


def test_sample_payloads_carry_the_shapes_the_parser_reads() -> None:
    changed = zendesk_event("ticket.custom_field_changed", "5", current="PROJ-2", previous="PROJ-1")
    assert changed["event"]["current"] == {"value": "PROJ-2"}
    assert changed["event"]["previous"] == {"value": "PROJ-1"}
    assert zendesk_event("ticket.merged", "41")["event"] == {"target_ticket_id": "42"}


@pytest.mark.parametrize(
    ("current", "carried"),
    [
        ({"value": "PROJ-1 PROJ-2"}, "PROJ-1 PROJ-2"),  # an object with a value (seen in real payloads)
        ("PROJ-1", "PROJ-1"),  # a bare value
        ({"value": None}, None),  # the field cleared
        ({"value": ""}, None),
        (None, None),
    ],
)
def test_zendesk_field_change_carries_our_fields_new_value_with_the_event_time(
    current: Any, carried: str | None
) -> None:
    body = zendesk_event("ticket.custom_field_changed", "5", field_id="360001")
    body["event"]["current"] = current
    body["time"] = "2025-01-08T10:12:07.672717030Z"

    parsed = parse_zendesk(body, issue_field="360001")

    assert parsed.action == "sync" and parsed.carried is not None
    assert parsed.carried.value == carried
    assert parsed.carried.time_ms == 1736331127672


@pytest.mark.parametrize(
    "change",
    [
        {"current": {"id": "7"}},  # an object without a value
        {"current": ["PROJ-1"]},  # not text
        {"current": 5},
        {"current": {"value": {"text": "PROJ-1"}}},
        {"time": "yesterday"},
        {"time": None},
        {"time": "2025-01-08 10:12:07"},  # no zone: not RFC 3339
    ],
)
def test_zendesk_field_change_whose_value_or_time_cannot_be_read_is_synced_from_the_ticket(
    change: dict[str, Any],
) -> None:
    body = zendesk_event("ticket.custom_field_changed", "5", field_id="360001", current="PROJ-1")
    if "current" in change:
        body["event"]["current"] = change["current"]
    if "time" in change:
        body["time"] = change["time"]
    del_current = zendesk_event("ticket.custom_field_changed", "5", field_id="360001")
    del del_current["event"]["current"]

    for payload in (body, del_current):
        parsed = parse_zendesk(payload, issue_field="360001")
        assert (parsed.action, parsed.carried) == ("sync", None)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2099-07-04T05:33:18Z", 4086826398000),  # the docs' example, to the second
        ("2025-01-08T10:12:07.6+01:00", 1736327527600),
        ("2025-01-08T10:12:07.123456789-00:30", 1736332927123),
    ],
)
def test_event_times_are_read_to_the_millisecond(text: str, ms: int) -> None:
    assert epoch_ms(text, zone_required=True) == ms


def test_sample_zendesk_events_carry_nanosecond_times() -> None:
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", zendesk_event("ticket.created", "5")["time"]
    )
