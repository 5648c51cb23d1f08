"""Limits as plain objects: per socket a token-bucket rate limit and a count of wrong frames (strikes); per
process the overload that sheds new work.

The chat consumers keep one of each per socket (docs/protocol.md, abuse limits), chat.process one `Overload`;
tests/unit/test_backpressure.py proves their rules without a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

# A relayed message that waited longer than this in the server before its turn came (the process is behind)
# is refused by name instead of delivered late: its sender shows it as not delivered and sends it again, and
# the messages after it are not held up behind it (docs/performance.md, overload). 0.1 s, not 0.25: at half
# speed under twice the saturation offer, refusing sooner also relayed more (2,210 messages/s against 1,998)
# with half the latency, since a refused message costs no receipt (`python -m bench`, 2026-12-02).
RELAY_DEADLINE_SECONDS: Final = 0.1
# Only a longer wait says the process itself is behind, not a moment's pause (a young collection takes 50-90
# ms at 2,000 chats): shedding new work at the relay deadline held chats back from counsellors during the
# set-up of 2,000 chats at half speed (connect p50 1.0 s against 0.83 s).
SHED_AFTER_SECONDS: Final = 0.25
# After such a wait the process counts as overloaded for this long, and sheds new work meanwhile: it offers
# no waiting chat to a counsellor (the chat stays in the queue, at its true place).
OVERLOAD_HOLD_SECONDS: Final = 3.0


class RateLimit:
    """A token bucket per socket: `rate` frames a second on average, bursts up to `burst`.

    The bucket sees frames when the server handles them, not when they were sent. While the server does
    not read a socket (backpressure, helpline.upstream.PausingInbox), a sender who keeps to the rate has
    frames waiting, and they arrive together when reading resumes: each second not read is credited
    `rate` frames beyond the burst, so they pass. The credit cannot let anyone past what the server
    reads, since it only accrues while the server is not reading them.
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, time.monotonic()
        self.credit, self.unread_seen = 0.0, 0.0

    def allow(self, unread_seconds: float = 0.0) -> bool:
        """One frame: may it pass? `unread_seconds`: the socket's running total of seconds not read."""
        moment = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (moment - self.last) * self.rate)
        self.last = moment
        if self.tokens >= self.burst:
            self.credit = 0.0  # a full bucket: whatever waited while unread has been handled
        if unread_seconds > self.unread_seen:
            # At most what a socket's receive buffer holds of chat frames; never a store to flood with later.
            self.credit = min(self.credit + (unread_seconds - self.unread_seen) * self.rate, self.rate * 30)
            self.unread_seen = unread_seconds
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        if self.credit >= 1:
            self.credit -= 1
            return True
        return False


class Strikes:
    """Wrong frames within a window; too many and the socket is closed."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        # A list, not a deque: nearly every socket keeps it empty, and an empty deque takes a 0.5 KiB block.
        self.times: list[float] = []

    def add(self) -> bool:
        """Record one; True when the socket has now had too many."""
        moment = time.monotonic()
        self.times = [at for at in self.times if at >= moment - self.window]
        self.times.append(moment)
        return len(self.times) >= self.limit


class Overload:
    """Whether this process is behind: a frame waited past `shed_after` within the last `hold` seconds."""

    def __init__(self, hold: float = OVERLOAD_HOLD_SECONDS, shed_after: float = SHED_AFTER_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.hold, self.shed_after, self.clock = hold, shed_after, clock
        self.until = 0.0

    def late(self, waited: float, deadline: float = RELAY_DEADLINE_SECONDS) -> bool:
        """A frame waited `waited` seconds for its turn: too late to relay? Past `shed_after` the process is
        overloaded too (it sheds new work for `hold` seconds)."""
        if waited > self.shed_after:
            self.until = self.clock() + self.hold
        return waited > deadline

    @property
    def active(self) -> bool:
        return self.clock() < self.until

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.until - self.clock())
