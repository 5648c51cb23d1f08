"""Per-socket limits as plain objects: a token-bucket rate limit and a count of wrong frames (strikes).

The chat consumers keep one of each per socket (docs/protocol.md, abuse limits); tests/unit/test_backpressure.py
proves the rate limit's rules without a socket.
"""

from __future__ import annotations

import time
from collections import deque


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
        self.times: deque[float] = deque()

    def add(self) -> bool:
        """Record one; True when the socket has now had too many."""
        moment = time.monotonic()
        self.times.append(moment)
        while self.times and self.times[0] < moment - self.window:
            self.times.popleft()
        return len(self.times) >= self.limit
