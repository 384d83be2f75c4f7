"""The one rule for a pair's whole life: given what the ledger knows, what happens next. No I/O.

Webhooks, the retry worker and reconciliation all bring an (issue, ticket) pair to what is wanted through
:func:`decide`, so they cannot disagree. Its input is a :class:`PairView` (is the link wanted, which link
the ledger believes exists, which call may have changed Zendesk without our knowing the result, and
whether someone else holds the pair) and the time; optionally what a look at Zendesk found. Its output is
one :class:`Action`.

The one subtle part is a call *in flight*. Every call that can change Zendesk is written to the ledger
before it is sent (write-ahead). If the process dies, or the answer is lost, that record remains, and the
ledger's link id can no longer be trusted: the next decision looks at Zendesk first. A call that got no
answer at all may still land for a while (``settle`` seconds), during which not finding its effect proves
nothing, so the decision waits that out before it looks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CallKind = Literal["create", "delete"]


@dataclass(frozen=True)
class InFlight:
    """A call that may have changed Zendesk for this pair, recorded before it was sent.

    ``sent_at`` (epoch seconds) is when it was sent; None once an answer came back, even an error: the call
    is then over and nothing of it can land later. ``link_ids`` are the links a delete targets.
    """

    call: CallKind
    sent_at: float | None
    link_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class PairView:
    """What the ledger knows of one pair, as the decision needs it."""

    wanted: bool  # some field wants the link, and neither the issue nor the ticket is deleted
    link_id: int | None = None  # the link the ledger believes exists
    in_flight: InFlight | None = None
    held: bool = False  # another worker's claim on the pair is live
    # Someone who read Zendesk (reconciliation) saw it disagree with the ledger: look before trusting it.
    doubt: bool = False
    # What that read showed: the pair's links in Zendesk, maybe a while ago (a job lists the whole account
    # first). See _trust_seen for when it stands in for a look.
    seen: tuple[int, ...] = ()
    untouched: bool = False  # no call for the pair ever finished: the ledger has never linked or unlinked it


# ----------------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Settled:
    """Nothing to do: Zendesk has what is wanted, as far as anyone can know."""


@dataclass(frozen=True)
class Busy:
    """Another worker is calling Zendesk for this pair right now: come back shortly."""


@dataclass(frozen=True)
class WaitUntil:
    """A call without an answer may still land until ``at`` (epoch seconds): come back then."""

    at: float


@dataclass(frozen=True)
class Look:
    """Read Zendesk before acting: whether ``link_id`` still exists, or (None) which links the pair has."""

    link_id: int | None = None


@dataclass(frozen=True)
class Create:
    """POST a link for the pair."""


@dataclass(frozen=True)
class Delete:
    """DELETE these links of the pair."""

    link_ids: tuple[int, ...]


@dataclass(frozen=True)
class Keep:
    """Zendesk has ``link_id`` for the pair: record it (and delete ``extras``, repeats of the same pair)."""

    link_id: int
    extras: tuple[int, ...] = ()


@dataclass(frozen=True)
class Forget:
    """Zendesk has no link for the pair and none is wanted: record it as unlinked."""


Action = Settled | Busy | WaitUntil | Look | Create | Delete | Keep | Forget
# Actions that send a request to Zendesk, so they wait for a claim and spend from the call budget.
CALLS_ZENDESK = (Look, Create, Delete)


def decide(view: PairView, *, now: float, settle: float, found: tuple[int, ...] | None = None) -> Action:
    """The next action for a pair.

    ``found`` is the answer of the :class:`Look` this decision asked for, made under the pair's claim: the
    ids of the pair's links in Zendesk (for a look at one link: that id, or nothing).
    """
    if found is not None:
        return _after_look(view.wanted, tuple(sorted(found)))
    if view.held:
        return Busy()
    if view.in_flight is not None:
        return _resolve(view.in_flight, wanted=view.wanted, now=now, settle=settle)
    if view.doubt:
        return Keep(view.seen[0]) if _trust_seen(view) else Look(None)
    if view.wanted:
        return Settled() if view.link_id is not None else Create()
    return Delete((view.link_id,)) if view.link_id is not None else Settled()


def _trust_seen(view: PairView) -> bool:
    """Whether the links a job listed earlier can stand in for a look: one link, for a wanted pair the
    ledger has never linked or unlinked (nothing of ours can have removed that link since the listing).

    Anything else looks under the claim: a pair we once linked or unlinked (our own delete may have come
    after the listing), and repeats (keeping one and deleting the others on an old listing could delete
    the one left after an agent removed the other). A link an agent deletes after the listing is the
    same drift as one deleted after any look: the ledger names it until a full job repairs it."""
    return len(view.seen) == 1 and view.untouched and view.wanted and view.link_id is None


def _resolve(flight: InFlight, *, wanted: bool, now: float, settle: float) -> WaitUntil | Look | Delete:
    """A call may have changed Zendesk: wait until it can no longer land, then look.

    Except a DELETE of links nobody wants any more: it is sent again at once, without a look (a repeat
    changes nothing, and a 404 says the first one landed)."""
    if flight.call == "delete" and flight.link_ids and not wanted:
        return Delete(flight.link_ids)
    if flight.sent_at is not None and now < flight.sent_at + settle:
        return WaitUntil(flight.sent_at + settle)
    # A delete of one known link is checked with one read; anything else, by listing the pair's links.
    one = flight.link_ids[0] if flight.call == "delete" and len(flight.link_ids) == 1 else None
    return Look(one)


def _after_look(wanted: bool, found: tuple[int, ...]) -> Action:
    if wanted:
        # Oldest first: if Zendesk ever accepted a repeat, the first link is the one agents have seen.
        return Keep(found[0], found[1:]) if found else Create()
    return Delete(found) if found else Forget()


def in_flight_for(action: Action, *, now: float) -> InFlight | None:
    """What to write to the ledger before carrying out ``action`` (None: it cannot change Zendesk)."""
    match action:
        case Create():
            return InFlight("create", now)
        case Delete(link_ids):
            return InFlight("delete", now, link_ids)
        case Keep(_, extras) if extras:
            return InFlight("delete", now, extras)
    return None


def after_failure(view: PairView, action: Action, flight: InFlight, *, status: int | None) -> InFlight | None:
    """What the ledger should say after ``action``'s call failed with HTTP ``status`` (None: no answer).

    - No answer (a timeout, a dropped connection): the call may still land. The record stays as written, so
      the next decision waits out ``settle`` and then looks.
    - A 5xx (or a 2xx whose body could not be read): the call is over, but it may have been applied; the
      next decision looks, without waiting.
    - A 4xx refused the request. If the ledger alone already says what is true (a create that did not
      happen, a delete of the ledger's own link that did not happen), nothing is in flight any more.
      Otherwise (links found by a look, several calls of which some may have succeeded) the next decision
      looks again.
    """
    if status is None:
        return flight
    if 400 <= status < 500:
        match action:
            case Create():
                return None
            case Delete(link_ids) if link_ids == (view.link_id,):
                return None
    return InFlight(flight.call, None, flight.link_ids)


def needs_work(view: PairView, *, now: float, settle: float) -> bool:
    """True when the record alone shows the pair is not (or may not be) as wanted."""
    return not isinstance(decide(view, now=now, settle=settle), Settled)
