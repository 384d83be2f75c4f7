"""The decision for one pair, as a table: every state a pair's record can be in, and what comes next.

No AWS, no vendors: :func:`linksync.decision.decide` is a pure function. The rows cover each combination
the soak has produced: wanted or not, a link on record or not, no call in flight, a create or a delete in
flight (recent, old enough to have landed, or answered), held by another worker, and what a look found.
"""

from __future__ import annotations

import itertools

import pytest

from linksync.decision import (
    Busy,
    Create,
    Delete,
    Forget,
    InFlight,
    Keep,
    Look,
    PairView,
    Settled,
    WaitUntil,
    after_failure,
    decide,
    in_flight_for,
    needs_work,
)

NOW = 1_000_000.0
SETTLE = 12.0
RECENT = NOW - 3  # sent 3 s ago: may still land
OLD = NOW - 60  # long enough ago that it has landed or never will

CREATE_RECENT = InFlight("create", RECENT)
CREATE_OLD = InFlight("create", OLD)
CREATE_ANSWERED = InFlight("create", None)
DELETE_RECENT = InFlight("delete", RECENT, (7,))
DELETE_OLD = InFlight("delete", OLD, (7,))
DELETE_ANSWERED = InFlight("delete", None, (7,))
DELETE_MANY = InFlight("delete", None, (7, 8))

# (wanted, link_id, in_flight, held) -> the action
TABLE = [
    # nothing in flight: the record is the truth
    (True, None, None, False, Create()),
    (True, 7, None, False, Settled()),
    (False, 7, None, False, Delete((7,))),
    (False, None, None, False, Settled()),
    # someone else holds the pair, whatever the record says
    (True, None, None, True, Busy()),
    (False, 7, DELETE_OLD, True, Busy()),
    # a create that may still land: wait it out, then look for it
    (True, None, CREATE_RECENT, False, WaitUntil(RECENT + SETTLE)),
    (False, None, CREATE_RECENT, False, WaitUntil(RECENT + SETTLE)),
    (True, None, CREATE_OLD, False, Look(None)),
    (False, None, CREATE_OLD, False, Look(None)),
    (True, None, CREATE_ANSWERED, False, Look(None)),
    (False, None, CREATE_ANSWERED, False, Look(None)),
    # a delete that may have landed: the link on record can no longer be trusted (the bug of issue 9:
    # "desired, link id present" must not mean "nothing to do" while a delete of it is unresolved)
    (True, 7, DELETE_RECENT, False, WaitUntil(RECENT + SETTLE)),
    (True, 7, DELETE_OLD, False, Look(7)),
    (True, 7, DELETE_ANSWERED, False, Look(7)),
    # ...unless nobody wants the link: the DELETE is sent again at once (a 404 says the first landed)
    (False, 7, DELETE_RECENT, False, Delete((7,))),
    (False, 7, DELETE_OLD, False, Delete((7,))),
    (False, 7, DELETE_ANSWERED, False, Delete((7,))),
    # several links in flight (repeats being cleaned up): list them all, or delete them all again
    (True, 7, DELETE_MANY, False, Look(None)),
    (False, None, DELETE_MANY, False, Delete((7, 8))),
]


@pytest.mark.parametrize(("wanted", "link_id", "in_flight", "held", "expected"), TABLE)
def test_decide(
    wanted: bool, link_id: int | None, in_flight: InFlight | None, held: bool, expected: object
) -> None:
    view = PairView(wanted=wanted, link_id=link_id, in_flight=in_flight, held=held)
    assert decide(view, now=NOW, settle=SETTLE) == expected


# (wanted, found) -> the action after the look
AFTER_LOOK = [
    (True, (), Create()),
    (True, (7,), Keep(7)),
    (True, (9, 7, 8), Keep(7, (8, 9))),  # the oldest link stays, repeats go
    (False, (), Forget()),
    (False, (7,), Delete((7,))),
    (False, (8, 7), Delete((7, 8))),
]


@pytest.mark.parametrize(("wanted", "found", "expected"), AFTER_LOOK)
def test_decide_after_a_look(wanted: bool, found: tuple[int, ...], expected: object) -> None:
    for link_id, flight in itertools.product((None, 7), (None, CREATE_OLD, DELETE_ANSWERED)):
        view = PairView(wanted=wanted, link_id=link_id, in_flight=flight)
        assert decide(view, now=NOW, settle=SETTLE, found=found) == expected


def test_the_settle_window_ends_exactly_at_its_edge() -> None:
    view = PairView(wanted=True, in_flight=InFlight("create", NOW - SETTLE))
    assert decide(view, now=NOW, settle=SETTLE) == Look(None)
    assert decide(view, now=NOW - 0.001, settle=SETTLE) == WaitUntil(NOW)


def test_every_call_that_can_change_zendesk_is_recorded_first() -> None:
    assert in_flight_for(Create(), now=NOW) == InFlight("create", NOW)
    assert in_flight_for(Delete((7, 8)), now=NOW) == InFlight("delete", NOW, (7, 8))
    assert in_flight_for(Keep(7, (8,)), now=NOW) == InFlight("delete", NOW, (8,))
    for harmless in (Keep(7), Forget(), Look(7), Look(None), Settled(), Busy(), WaitUntil(NOW)):
        assert in_flight_for(harmless, now=NOW) is None


FAILURES = [
    # no answer: the call may still land, so the record stays as written
    (PairView(True), Create(), CREATE_RECENT, None, CREATE_RECENT),
    (PairView(False, 7), Delete((7,)), DELETE_RECENT, None, DELETE_RECENT),
    # a 5xx: over, but maybe applied: look next time, without waiting
    (PairView(True), Create(), CREATE_RECENT, 500, CREATE_ANSWERED),
    (PairView(False, 7), Delete((7,)), DELETE_RECENT, 503, DELETE_ANSWERED),
    # a 2xx whose body could not be read: applied, most likely; look
    (PairView(True), Create(), CREATE_RECENT, 201, CREATE_ANSWERED),
    # a 4xx refused it, and the ledger already says what is true
    (PairView(True), Create(), CREATE_RECENT, 429, None),
    (PairView(False, 7), Delete((7,)), DELETE_RECENT, 403, None),
    # a 4xx, but what was being deleted came from a look, or some calls may have succeeded: look again
    (PairView(False, None), Delete((7,)), DELETE_RECENT, 429, DELETE_ANSWERED),
    (PairView(False, 7), Delete((7, 8)), InFlight("delete", RECENT, (7, 8)), 429, DELETE_MANY),
    (PairView(True, 7), Keep(7, (8,)), InFlight("delete", RECENT, (8,)), 429, InFlight("delete", None, (8,))),
]


@pytest.mark.parametrize(("view", "action", "flight", "status", "expected"), FAILURES)
def test_what_a_failed_call_leaves_on_record(
    view: PairView, action: object, flight: InFlight, status: int | None, expected: InFlight | None
) -> None:
    assert after_failure(view, action, flight, status=status) == expected  # type: ignore[arg-type]


def test_needs_work_is_the_decision_not_a_second_rule() -> None:
    for wanted, link_id, flight, held, expected in TABLE:
        view = PairView(wanted=wanted, link_id=link_id, in_flight=flight, held=held)
        assert needs_work(view, now=NOW, settle=SETTLE) is (expected != Settled())


def test_doubt_makes_a_settled_looking_pair_look_first() -> None:
    """Reconciliation saw Zendesk disagree with the ledger: the ledger's link id is not trusted."""
    for wanted, link_id in itertools.product((True, False), (None, 7)):
        view = PairView(wanted=wanted, link_id=link_id, doubt=True)
        assert decide(view, now=NOW, settle=SETTLE) == Look(None)
    held = PairView(wanted=True, link_id=7, doubt=True, held=True)
    assert decide(held, now=NOW, settle=SETTLE) == Busy()
    recent = PairView(wanted=True, doubt=True, in_flight=CREATE_RECENT)
    assert decide(recent, now=NOW, settle=SETTLE) == WaitUntil(RECENT + SETTLE)


def test_a_link_a_job_listed_is_adopted_only_where_nothing_of_ours_can_have_removed_it() -> None:
    """Reconciliation's listing stands in for a look for a wanted pair the ledger has never linked or
    unlinked, when it showed one link; everywhere else the pair is looked at under the claim."""
    fresh = PairView(wanted=True, doubt=True, seen=(4,), untouched=True)
    assert decide(fresh, now=NOW, settle=SETTLE) == Keep(4)
    for view in (
        PairView(
            wanted=True, doubt=True, seen=(4,)
        ),  # we linked or unlinked it once: maybe after the listing
        PairView(wanted=True, doubt=True, seen=(4, 9), untouched=True),  # repeats: which one is left now?
        PairView(wanted=True, link_id=7, doubt=True, seen=(4,), untouched=True),  # the ledger names another
        PairView(wanted=False, doubt=True, seen=(4,), untouched=True),  # not wanted: looked at, then deleted
        PairView(wanted=True, doubt=True, untouched=True),  # the listing showed nothing
    ):
        assert decide(view, now=NOW, settle=SETTLE) == Look(None), view
    flying = PairView(wanted=True, doubt=True, seen=(4,), untouched=True, in_flight=CREATE_RECENT)
    assert decide(flying, now=NOW, settle=SETTLE) == WaitUntil(RECENT + SETTLE)
    # without doubt the ledger is trusted, listing or not
    assert decide(PairView(wanted=True, seen=(4,), untouched=True), now=NOW, settle=SETTLE) == Create()
