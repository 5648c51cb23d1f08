"""Deleting so that nothing stays readable on disk (docs/mailbox.md §8), for SQLite, the embedded default.

SQLite leaves deleted rows in free space and in the write-ahead log until pages are reused. Two things close
that: `secure_delete` on *every* connection (rows moved by a page split on a connection without it leave old
copies behind, so setting it only for the delete is not enough), and, after a deletion, a TRUNCATE checkpoint,
which copies the zeroed pages into the database file and empties the WAL file. PostgreSQL has no equivalent
short of VACUUM FULL; there the limit is written down in docs/mailbox.md.
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.backends.signals import connection_created


def _secure_delete(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def connect() -> None:
    """Turn on secure_delete for every SQLite connection this process opens (called from AppConfig.ready)."""
    connection_created.connect(_secure_delete, dispatch_uid="securemessages.secure_delete")


def checkpoint_after_commit() -> None:
    """After a deletion: once the transaction has committed (at once outside one), checkpoint (below)."""
    transaction.on_commit(checkpoint)


def checkpoint() -> bool:
    """Copy every WAL frame into the database file and truncate the WAL; True if that completed.

    A reader holding an old snapshot makes SQLite stop short (busy); the next deletion or sweep tries again.
    A no-op (True) on other databases.
    """
    if connection.vendor != "sqlite":
        return True
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cursor.fetchone()
    except OperationalError:
        return False
    return row is None or int(row[0]) == 0
