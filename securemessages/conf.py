"""The mailbox's settings, each read with its default (docs/mailbox.md §9; base.py reads them from the environment)."""

from __future__ import annotations

from django.conf import settings


def retention_days() -> int:
    """A thread is deleted this many days after its last message."""
    return int(getattr(settings, "MAILBOX_RETENTION_DAYS", 30))


def reply_days() -> int:
    """The reply time the visitor is told to expect, in working days."""
    return int(getattr(settings, "MAILBOX_REPLY_DAYS", 3))


def pow_bits() -> int:
    """Proof-of-work difficulty for every visitor request (the chat's puzzle, chat.pow)."""
    return int(getattr(settings, "MAILBOX_POW_BITS", 14))


def thread_max_messages() -> int:
    return int(getattr(settings, "MAILBOX_THREAD_MAX_MESSAGES", 100))


def thread_max_chars() -> int:
    """Ciphertext characters one thread may hold: about 25 messages of the longest kind, or 100 short ones."""
    return int(getattr(settings, "MAILBOX_THREAD_MAX_CHARS", 600_000))
