"""What the server leaves on disk: its files only its own, and nothing of a row once that row is deleted.

SQLite (the embedded default) keeps a deleted row in two places: the free space of its page in the database
file, and every earlier version of that page in the write-ahead log, which is only overwritten, never
cleared, until a checkpoint truncates it. `secure_delete` (set on every connection here) zeroes the free
space; `forget_on_disk()` then copies the zeroed pages into the database file and truncates the log.
A chat's row is forgotten this way when it is deleted (its end), and so are the counters a chat's end,
feedback and late wrap-up add to (an older version of a counter row would show one chat's codes).

Call `forget_on_disk()` after deleting (or changing) anything else that must not outlive it on disk (a
mailbox message, say). PostgreSQL keeps dead rows until vacuum and in its own log: docs/deployment.md says what the
deployment does about that; nothing can be done per delete.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def forget_on_disk(using: str = DEFAULT_DB_ALIAS) -> None:
    """After the current transaction commits (at once outside one): no file keeps a row it deleted, or an
    earlier version of a row it changed.

    SQLite: the log is checkpointed into the database file and truncated to nothing. Other databases: no-op.
    """
    transaction.on_commit(partial(_checkpoint_and_truncate_log, using), using=using, robust=True)


def _checkpoint_and_truncate_log(using: str) -> None:
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _log_frames, _checkpointed = cursor.fetchone()
    if busy:
        # Another process held the database past the busy timeout; the next forget truncates the log.
        logger.warning("the write-ahead log could not be truncated (database busy); it will be at the next end")


def zero_deleted_content(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created: every SQLite connection overwrites what it deletes with zeros."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def forget_deleted_chat(sender: Any, **kwargs: Any) -> None:
    """post_delete of a Chat: its end (actions.end) is the only place chat rows are deleted."""
    forget_on_disk(kwargs.get("using") or DEFAULT_DB_ALIAS)


def connect() -> None:
    """Called once from HelplineConfig.ready."""
    from django.db.models.signals import post_delete

    from chat.models import Chat

    connection_created.connect(zero_deleted_content, dispatch_uid="helpline.disk_privacy.secure_delete")
    post_delete.connect(forget_deleted_chat, sender=Chat, dispatch_uid="helpline.disk_privacy.chat")


def make_private(folder: Path) -> None:
    """`folder` and everything in it readable by this user only: folders 0700, files 0600 (links left alone).

    For the embedded default's var/ at start, which older versions made readable by everyone.
    """
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(PRIVATE_FOLDER)
    for root, folders, files in os.walk(folder):
        for name in folders:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(PRIVATE_FOLDER)
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(PRIVATE_FILE)
