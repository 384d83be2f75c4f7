"""Every timeout, and every deadline derived from one, in one place.

A vendor call may take up to ``connect + read`` seconds. Two facts follow from that, and everything that
waits or hurries in this package reads them from a :class:`Timeouts`:

- ``settle``: a request that got no answer may still be applied a little later. Until ``settle`` seconds
  after it was sent, not finding its effect is not proof that it failed (twice the read timeout, plus
  slack for a busy server: the soak found one margin too thin).
- ``reserve``: an invocation that has less than two slow calls' worth of time left queues its work rather
  than starting a call that Lambda's timeout could cut off half way.
- A webhook answers within its sender's patience (``webhook_answer_seconds``, 5 s by default: Zendesk
  gives up after about 10): its deadline is the earlier of the two, every vendor call it makes is cut to
  what is left (:func:`linksync.apiclient.calls_end_by`), and what does not fit goes to the retry queue.

An invocation's own time limit travels as a :class:`Deadline`, passed explicitly to whatever must watch it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timeouts:
    connect: float = 3.05
    read: float = 5.0
    # When a pair or ticket is held by someone else: look again after this long.
    contention_retry: float = 5.0

    @property
    def http(self) -> tuple[float, float]:
        """The (connect, read) pair requests takes."""
        return (self.connect, self.read)

    @property
    def slow_call(self) -> float:
        return self.connect + self.read

    @property
    def settle(self) -> float:
        return 2 * self.read + 2

    @property
    def reserve(self) -> float:
        return 2 * self.slow_call + 1

    @property
    def claim_lease(self) -> float:
        """How long one worker holds a pair: a look, a change and a repeat's cleanup (three slow calls),
        plus slack. If the worker dies, the pair is free again after this long (about 30 s by default)."""
        return 3 * self.slow_call + 5

    @property
    def ticket_lock(self) -> float:
        """How long one worker holds a ticket while it reads the ticket and resolves its keys (about a
        minute by default)."""
        return 6 * self.slow_call + 10


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class Deadline:
    """The time one invocation has left, and how much of it to keep in hand."""

    remaining: Callable[[], float]
    reserve: float = DEFAULT_TIMEOUTS.reserve

    def has_time(self) -> bool:
        """True while another step (a pair's look and change, by default) can still finish in time."""
        return self.remaining() >= self.reserve

    def ends_at(self) -> float:
        """The end, on the ``time.monotonic`` clock."""
        return time.monotonic() + self.remaining()

    def within(self, seconds: float, *, reserve: float) -> Deadline:
        """This deadline, or ``seconds`` from now if that comes first (a sender's patience), keeping
        ``reserve`` in hand."""
        end = time.monotonic() + seconds
        return Deadline(lambda: min(self.remaining(), end - time.monotonic()), reserve)

    @classmethod
    def of(cls, context: Any, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> Deadline:
        """From a Lambda context; unlimited when there is none (a script, a test)."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            return cls(lambda: context.get_remaining_time_in_millis() / 1000, timeouts.reserve)
        return cls.unlimited()

    @classmethod
    def unlimited(cls) -> Deadline:
        return cls(lambda: float("inf"))
