"""The mailbox's settings (helpline/settings/base.py, docs/mailbox.md §10), read at the moment they are needed,
and what they make of them: the price of each visitor request."""

from __future__ import annotations

from typing import Final

from django.conf import settings

from chat import pow as proof_of_work

# The visitor requests that cost work, each paid for by a challenge made for it alone (docs/mailbox.md §9), and
# the setting that prices each. Deleting costs what opening does: both need the access secret, neither adds
# anything to keep.
POW_SETTINGS: Final = {"write": "MAILBOX_POW_WRITE_SECONDS", "reply": "MAILBOX_POW_REPLY_SECONDS",
                       "open": "MAILBOX_POW_OPEN_SECONDS", "delete": "MAILBOX_POW_OPEN_SECONDS"}


def retention_days() -> int:
    """A thread is deleted this many days after its last message."""
    return int(settings.MAILBOX_RETENTION_DAYS)


def reply_days() -> int:
    """The reply time the visitor is told to expect, in working days."""
    return int(settings.MAILBOX_REPLY_DAYS)


def pow_seconds(action: str) -> float:
    """What a request (a key of POW_SETTINGS) costs in seconds of the modelled phone's work, on average."""
    return float(getattr(settings, POW_SETTINGS[action]))


def pow_price(action: str) -> proof_of_work.Price:
    return proof_of_work.phone_price(pow_seconds(action))


def pow_kind(action: str) -> str:
    """What a mailbox challenge is bound to: one kind of request, never a chat's join or rent."""
    return f"mailbox {action}"


def thread_max_messages() -> int:
    return int(settings.MAILBOX_THREAD_MAX_MESSAGES)


def thread_max_chars() -> int:
    """Ciphertext characters one thread may hold: about 25 messages of the longest kind, or 100 short ones."""
    return int(settings.MAILBOX_THREAD_MAX_CHARS)
