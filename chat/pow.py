"""Proof of work (protocol.md §9): what joining the queue and keeping a place cost, and the challenges.

The chat uses the PBKDF2 puzzle (chat.protocol.crypto.work_*): a page computes it with one native WebCrypto
call per attempt, so a native attacker has little edge over a visitor's phone. A place in the queue is paid
for by *rent*: while a chat waits and the queue is busy, its visitor's device solves a fresh puzzle every
CHAT_RENT_SECONDS, so holding N places costs N times the work, for as long as they are held
(docs/threat-model.md, flooding, has the economics). What a join or a rent period costs rises steeply with
the share of the queue already held, and a counsellor who ends a chat as abusive raises it to the top for a
while (`raise_for_abuse`, shared by every process through the cache).

Costs are written in seconds of work of a modelled mid-range phone (settings.CHAT_POW_PHONE_RATE: PBKDF2
iterations a second); `Schedule` turns them into a `Price` (iterations per attempt, leading zero bits).

The mailbox (securemessages, docs/mailbox.md §6) prices its requests with the same puzzle, at fixed prices
(`phone_price`), each challenge bound to the request it pays for (`make_work_challenge`'s kind).
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.core.cache import cache

from chat.protocol.crypto import WORK_MAX_BITS, WORK_MAX_ITERATIONS, b64d, b64e, work_check
from chat.tokens import TOKEN_BYTES, is_fresh, make_token, use_once

CHALLENGE_SECONDS: Final = 300
ABUSE_CACHE_KEY: Final = "chat:pow:abuse-raised-until"
# A join or rent challenge: iterations (uint32) ‖ bits (uint8) ‖ a chat.tokens token whose MAC covers both.
PARAMETER_BYTES: Final = 5
JOIN: Final = "join"


# --- prices and the schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """One PBKDF2 puzzle: attempts of `iterations` each until one has `bits` leading zero bits."""

    iterations: int
    bits: int

    @property
    def work(self) -> int:
        """Expected PBKDF2 iterations to solve it."""
        return int(self.iterations << self.bits)


def price_for_work(work: float) -> Price:
    """The puzzle whose expected work is closest to `work` iterations, with at most WORK_MAX_ITERATIONS per
    attempt (what checking an answer costs the server) and at least one bit (0 bits means free)."""
    bits = max(1, math.ceil(math.log2(max(work, 1) / WORK_MAX_ITERATIONS)))
    iterations = min(WORK_MAX_ITERATIONS, max(1, round(work / 2**bits)))
    return Price(iterations, bits)


def phone_price(seconds: float) -> Price:
    """The puzzle that costs the modelled phone (settings.CHAT_POW_PHONE_RATE) `seconds` of work on average; for
    0 seconds, one attempt that any nonce answers (the request is free, but still fetches and uses a challenge)."""
    if seconds <= 0:
        return Price(1, 0)
    return price_for_work(seconds * settings.CHAT_POW_PHONE_RATE)


@dataclass(frozen=True)
class Schedule:
    """What a join and a rent period cost at a given pressure, in seconds of the modelled phone's work.

    Pressure is 0 while fewer than `quiet_fill` of the queue's places are held (joining and waiting are
    free), 1 from `busy_fill` on (or while raised for abuse), and in between it rises in a straight line.
    """

    phone_rate: float  # PBKDF2 iterations a second of the modelled phone
    join_seconds: float  # a join's expected work at pressure 1
    rent_duty: float  # the share of each rent period the phone works, at pressure 1
    rent_seconds: float  # the rent period; 0 turns rent off
    quiet_fill: float = 0.1
    busy_fill: float = 0.2

    def pressure(self, held: int, capacity: int, raised: bool = False) -> float:
        if raised or capacity <= 0:
            return 1.0
        fill = held / capacity
        return min(1.0, max(0.0, (fill - self.quiet_fill) / (self.busy_fill - self.quiet_fill)))

    def join_price(self, pressure: float) -> Price | None:
        """None: joining is free."""
        return price_for_work(pressure * self.join_seconds * self.phone_rate) if pressure > 0 else None

    def rent_price(self, pressure: float) -> Price | None:
        """None: the next period is free (or rent is off)."""
        if pressure <= 0 or self.rent_seconds <= 0:
            return None
        return price_for_work(pressure * self.rent_duty * self.rent_seconds * self.phone_rate)

    def join_credit(self, pressure: float, solved: Price | None) -> float:
        """Seconds of place a join buys: what its work would have paid in rent at this pressure, at most two
        periods. Otherwise leaving and joining again would be a cheaper way to hold a place than rent."""
        most = 2 * self.rent_seconds
        rent = self.rent_price(pressure)
        if rent is None:
            return most
        if solved is None:
            return 0.0
        return min(most, self.rent_seconds * solved.work / rent.work)


def schedule() -> Schedule:
    return Schedule(phone_rate=settings.CHAT_POW_PHONE_RATE, join_seconds=settings.CHAT_POW_JOIN_SECONDS,
                    rent_duty=settings.CHAT_RENT_DUTY, rent_seconds=settings.CHAT_RENT_SECONDS)


def fixed_price() -> Price | None:
    """The price settings.CHAT_POW_BITS fixes (tests, operators) when it is not None: 0 makes joining and rent
    free; n > 0 asks n bits of one-iteration attempts."""
    bits = int(settings.CHAT_POW_BITS or 0)
    return Price(1, bits) if bits > 0 else None


def _pressure(held: int, moment: dt.datetime) -> float:
    return schedule().pressure(held, settings.MAX_QUEUE_LENGTH, abuse_raised(moment))


def join_price(held: int, moment: dt.datetime) -> Price | None:
    """What a join costs now, with `held` places held by others; None: it is free."""
    if settings.CHAT_POW_BITS is not None:
        return fixed_price()
    return schedule().join_price(_pressure(held, moment))


def rent_price(held: int, moment: dt.datetime) -> Price | None:
    """What the next rent period costs now, with `held` places held (the payer's included); None: it is free."""
    if settings.CHAT_RENT_SECONDS <= 0:
        return None
    if settings.CHAT_POW_BITS is not None:
        return fixed_price()
    return schedule().rent_price(_pressure(held, moment))


def join_credit(held: int, moment: dt.datetime, solved: Price | None) -> float:
    """Seconds of place a join with this solved price buys (rent is due when they run low)."""
    plan = schedule()
    if settings.CHAT_POW_BITS is not None:
        return 2 * plan.rent_seconds
    return plan.join_credit(_pressure(held, moment), solved)


# --- abuse raises the price for a while --------------------------------------------------------------------


def raise_for_abuse(moment: dt.datetime) -> None:
    """A counsellor ended a chat as abusive: prices stand at pressure 1 for CHAT_POW_ABUSE_SECONDS.

    The cache (Redis in the scaled mode) holds one value, the minute the raise ends; no chat, no visitor.
    """
    seconds = settings.CHAT_POW_ABUSE_SECONDS
    until = math.ceil((moment.timestamp() + seconds) / 60) * 60
    cache.set(ABUSE_CACHE_KEY, until, timeout=seconds + 60)


def abuse_raised(moment: dt.datetime) -> bool:
    until = cache.get(ABUSE_CACHE_KEY)
    return isinstance(until, int) and until > moment.timestamp()


# --- PBKDF2 challenges -------------------------------------------------------------------------------------


def rent_kind(chat_id: str) -> str:
    """A rent challenge is good for one chat only, and never for a join."""
    return f"rent {chat_id}"


def _purpose(kind: str, price: Price) -> str:
    return f"work\n{kind}\n{price.iterations}\n{price.bits}"


def make_work_challenge(kind: str, price: Price, seconds: int, now: float | None = None) -> str:
    """A challenge for `price`, good once for `seconds`: b64(iterations ‖ bits ‖ token), the token's MAC bound
    to the kind (join, or rent for one chat) and the price."""
    parameters = struct.pack(">IB", price.iterations, price.bits)
    return b64e(parameters + b64d(make_token(_purpose(kind, price), seconds, now)))


def parse_challenge(challenge: str) -> tuple[Price, str] | None:
    """The price a challenge asks and its token, if it has the shape of ours (authenticity is checked later)."""
    try:
        raw = b64d(challenge)
    except ValueError:
        return None
    if len(raw) != PARAMETER_BYTES + TOKEN_BYTES:
        return None
    iterations, bits = struct.unpack(">IB", raw[:PARAMETER_BYTES])
    if not 1 <= iterations <= WORK_MAX_ITERATIONS or bits > WORK_MAX_BITS:
        return None
    return Price(iterations, bits), b64e(raw[PARAMETER_BYTES:])


def check_work(kind: str, solution: Any, now: float | None = None) -> Price | None:
    """The price a `{challenge, nonce}` (already schema-checked) solved, once; None when it is not good.

    The challenge is used up before the answer is checked, wrong or right: each PBKDF2 check the server runs
    costs whoever asked one challenge it had to fetch first."""
    challenge, nonce = solution["challenge"], solution["nonce"]
    parsed = parse_challenge(challenge)
    if parsed is None:
        return None
    price, token = parsed
    if not is_fresh(_purpose(kind, price), token, now):
        return None
    if not use_once(_purpose(kind, price), token, now):
        return None
    return price if work_check(b64d(challenge), b64d(nonce), price.iterations, price.bits) else None


def pays_for(kind: str, solution: Any, price: Price, now: float | None = None) -> bool:
    """True once for an answer to a `kind` challenge worth at least half of `price` (the price may have risen a
    step while the device worked); like check_work, any answer uses its challenge up."""
    solved = check_work(kind, solution, now)
    return solved is not None and 2 * solved.work >= price.work


def places_affordable(plan: Schedule, capacity: int, rate: float) -> int:
    """How many places a solver doing `rate` PBKDF2 iterations a second keeps by paying rent when it alone
    holds the queue (the bound docs/threat-model.md states; `python -m bench --only attack` measures it)."""
    held = 0
    for places in range(1, capacity + 1):
        price = plan.rent_price(plan.pressure(places, capacity))
        if price is not None and places * price.work > rate * plan.rent_seconds:
            break
        held = places
    return held
