"""helpline.database.on_database: the sockets' database work shares one kept connection, whichever task asks."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection

from helpline.database import KEPT_SECONDS, on_database

pytestmark = pytest.mark.django_db(transaction=True)


def current_connection() -> tuple[object, object]:
    connection.ensure_connection()
    return connection.connection, connection.settings_dict["CONN_MAX_AGE"]


async def test_every_task_gets_the_same_kept_connection() -> None:
    # Each consumer is a task with a context of its own; Django keeps connections per context. The answers
    # hold the connection objects themselves, so a closed one's identity cannot be reused by a new one.
    answers = await asyncio.gather(*(asyncio.create_task(on_database(current_connection)) for _ in range(5)))
    assert all(answer[0] is answers[0][0] for answer in answers)
    assert answers[0][1] == KEPT_SECONDS
    later = await asyncio.create_task(on_database(current_connection))
    assert later[0] is answers[0][0]


async def test_an_error_in_a_call_leaves_the_connection_usable() -> None:
    def fail() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="no_such_table"):
        await on_database(fail)

    def one() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return int(cursor.fetchone()[0])

    assert await on_database(one) == 1
