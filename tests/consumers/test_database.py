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


def loop_handles_scheduled_while(loop: asyncio.AbstractEventLoop) -> list[int]:
    """Count every callback put on `loop`'s queue (call_soon, and call_soon_threadsafe from a thread): each
    runs in a later turn of the loop than the one that queued it."""
    count = [0]
    for name in ("call_soon", "call_soon_threadsafe"):
        original = getattr(loop, name)

        def counting(*args: object, _original=original, **kwargs: object) -> object:  # type: ignore[no-untyped-def]
            count[0] += 1
            return _original(*args, **kwargs)

        setattr(loop, name, counting)
    return count


async def test_an_answer_reaches_its_caller_in_two_turns_of_the_loop() -> None:
    # Under load every turn of the event loop waits behind every socket's frames: with asgiref's sync_to_async
    # the answer took three (the executor's future, asyncio.shield's, then the task), and at 2,000 talking
    # chats and half a core those turns were 46-85 ms of an accept's 17 ms trip (docs/performance.md).
    # Now: the thread hands the answer to the loop (one turn), which wakes the caller (the next).
    def answer() -> int:
        return 42

    await on_database(answer)  # the thread and its connection exist; only the trip is counted below
    loop = asyncio.get_running_loop()
    count = loop_handles_scheduled_while(loop)
    try:
        assert await on_database(answer) == 42
    finally:
        for name in ("call_soon", "call_soon_threadsafe"):
            vars(loop).pop(name, None)
    assert count[0] <= 2, f"{count[0]} turns of the loop between the answer and its caller"


async def test_the_sockets_database_thread_is_the_one_thread_sensitive_code_shares() -> None:
    # Channels' database_sync_to_async and asgiref's thread-sensitive calls outside a request run on one
    # thread; the sockets' database work stays on it (SQLite: one writer thread for all of them).
    import threading

    from asgiref.sync import sync_to_async

    ours = await on_database(threading.get_ident)
    theirs = await sync_to_async(threading.get_ident, thread_sensitive=True)()
    assert ours == theirs


async def test_an_error_reaches_the_caller_and_a_cancelled_caller_leaves_the_thread_working() -> None:
    def broken() -> None:
        raise LookupError("nothing here")

    with pytest.raises(LookupError, match="nothing here"):
        await on_database(broken)

    import threading

    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait(5)
        finished.set()
        return 1

    waiting = asyncio.create_task(on_database(slow))
    await asyncio.to_thread(started.wait, 5)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    # The call ran to its end (each action is one transaction: never cut off halfway), and the thread goes on.
    assert await on_database(lambda: 2) == 2
    assert finished.is_set()
