"""helpline/disk_privacy.py on its own: every SQLite connection zeroes what it deletes, whatever the build's default.

Debian builds SQLite with secure_delete on; other builds (python.org's, Homebrew's) leave it off, and then a
deleted chat stays readable in the database file's free space. The end-to-end promise is
tests/live/test_contract_nothing_left_on_disk.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper

CANARY = "deleted-chat-canary-5531"


def connection_to(path: Path, init_command: str) -> DatabaseWrapper:
    settings_dict = {**connections["default"].settings_dict, "NAME": str(path),
                     "OPTIONS": {"init_command": init_command}}
    return DatabaseWrapper(settings_dict, alias="disk-privacy-test")


def insert_and_delete_a_canary(connection: DatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE visit (id INTEGER PRIMARY KEY, note TEXT)")
        cursor.execute("INSERT INTO visit (note) VALUES (%s)", [CANARY * 20])
        cursor.execute("INSERT INTO visit (note) VALUES (%s)", ["a row that stays"])
        cursor.execute("DELETE FROM visit WHERE note = %s", [CANARY * 20])


def test_without_secure_delete_a_deleted_row_stays_in_the_file(tmp_path: Path) -> None:
    """The threat, shown with a plain connection on which secure_delete is off."""
    path = tmp_path / "plain.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA secure_delete = OFF")
        db.execute("CREATE TABLE visit (id INTEGER PRIMARY KEY, note TEXT)")
        db.execute("INSERT INTO visit (note) VALUES (?)", [CANARY * 20])
        db.execute("INSERT INTO visit (note) VALUES (?)", ["a row that stays"])
        db.execute("DELETE FROM visit WHERE note = ?", [CANARY * 20])
    assert CANARY.encode() in path.read_bytes()


def test_contract_every_connection_zeroes_what_it_deletes(tmp_path: Path, django_db_blocker: Any) -> None:
    """A database of the test's own (not the test database), on a build whose default is off."""
    path = tmp_path / "ours.sqlite3"
    connection = connection_to(path, "PRAGMA secure_delete = OFF;")
    with django_db_blocker.unblock():
        connect_and_delete(connection)
    assert CANARY.encode() not in path.read_bytes()


def connect_and_delete(connection: DatabaseWrapper) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete")
            assert cursor.fetchone() == (1,)
        insert_and_delete_a_canary(connection)
    finally:
        connection.close()
