"""Proof of work (protocol.md §9): challenges are single-use tokens (chat.tokens); difficulty follows load."""

from __future__ import annotations

from typing import Any, Final

from django.conf import settings

from chat.protocol.crypto import b64d, pow_check
from chat.queue import pow_bits_for_load
from chat.tokens import is_fresh, make_token, use_once

PURPOSE: Final = "pow"
CHALLENGE_SECONDS: Final = 300


def make_challenge(now: float | None = None) -> str:
    """A fresh challenge, good once for CHALLENGE_SECONDS."""
    return make_token(PURPOSE, CHALLENGE_SECONDS, now)


def check_solution(solution: Any, bits: int, now: float | None = None) -> bool:
    """True once for a `{challenge, nonce}` (already schema-checked) that meets `bits`; uses the challenge up."""
    challenge, nonce = solution["challenge"], solution["nonce"]
    if not is_fresh(PURPOSE, challenge, now):
        return False
    if not pow_check(b64d(challenge), b64d(nonce), bits):
        return False
    return use_once(PURPOSE, challenge, now)


def current_bits(waiting_count: int) -> int:
    """The difficulty asked for now; settings.CHAT_POW_BITS (tests, operators) overrides the load rule."""
    override = settings.CHAT_POW_BITS
    if override is not None:
        return int(override)
    return pow_bits_for_load(waiting_count, settings.MAX_QUEUE_LENGTH)
