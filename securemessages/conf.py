"""The mailbox's settings (helpline/settings/base.py, docs/mailbox.md §9), read at the moment they are needed."""

from __future__ import annotations

from django.conf import settings


def retention_days() -> int:
    """A thread is deleted this many days after its last message."""
    return int(settings.MAILBOX_RETENTION_DAYS)


def reply_days() -> int:
    """The reply time the visitor is told to expect, in working days."""
    return int(settings.MAILBOX_REPLY_DAYS)


def pow_bits() -> int:
    """Proof-of-work difficulty for every visitor request (the chat's puzzle, chat.pow)."""
    return int(settings.MAILBOX_POW_BITS)


def thread_max_messages() -> int:
    return int(settings.MAILBOX_THREAD_MAX_MESSAGES)


def thread_max_chars() -> int:
    """Ciphertext characters one thread may hold: about 25 messages of the longest kind, or 100 short ones."""
    return int(settings.MAILBOX_THREAD_MAX_CHARS)
