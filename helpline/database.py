"""Database work of the sockets: `on_database`, one kept connection per database thread, not one per socket.

Django keeps its connections per asyncio context under ASGI (asgiref's `Local`), and every websocket consumer
is a task with a context of its own: with Channels' `database_sync_to_async` each socket that touched the
database opened a connection of its own and kept it as long as the socket lived; every HTTP request did the
same (docs/performance.md, "one connection"). Requests now close theirs when they end (CONN_MAX_AGE 0, as
Django advises under ASGI, helpline/settings/base.py).

Every call here runs on the thread Channels uses for database work (asgiref's thread-sensitive thread: calls
never overlap and keep their order) inside one context kept for that thread, so the sockets share one connection, kept
open (KEPT_SECONDS) and checked as Django's request cycle checks one (`close_old_connections` before and
after each call: its age, and a connection left broken by an error is replaced). A pooled database
(PostgreSQL in the scaled mode) is left as configured: each call takes a connection from the pool and
gives it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, Final

from django.db import close_old_connections, connections

from helpline.upstream import database_thread, keep_connection

# How long the sockets' connection is kept before it is opened afresh (Django's CONN_MAX_AGE, for it alone).
KEPT_SECONDS: Final = 600

_threads = threading.local()


def in_database_context[Result](function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """Run `function(*args, **kwargs)` in this thread's one database context (made on first use)."""
    context = getattr(_threads, "context", None)
    if context is None:
        context = _threads.context = contextvars.Context()
        context.run(keep_connections)
    return context.run(_checked, function, args, kwargs)


def keep_connections() -> None:
    """Give this context's connections (Django makes them per context) a CONN_MAX_AGE of their own."""
    for alias in connections:
        keep_connection(connections[alias], KEPT_SECONDS)


def _checked[Result](function: Callable[..., Result], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Result:
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


async def on_database[Result](function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """Run the sync `function(*args, **kwargs)` on the database thread, on the connection every socket shares.

    Submitted straight to the thread asgiref's thread-sensitive calls use (`database_thread`): the answer comes
    back to the caller in two turns of the event loop, the thread handing it over and the caller waking. With
    `sync_to_async` it took three (its executor future, then `asyncio.shield`'s, then the task), and under load
    each turn waits behind every socket's frames: at 2,000 talking chats and half a core, 46-85 ms of an
    accept's trip was those turns (docs/performance.md). A caller cancelled meanwhile stops waiting; the call
    itself runs to its end (each action is one transaction), and its answer is dropped.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Result] = loop.create_future()

    def run() -> None:
        try:
            result = in_database_context(function, *args, **kwargs)
        except BaseException as error:  # every failure goes back to the caller, as sync_to_async did
            hand_over(loop, answer, None, error)
        else:
            hand_over(loop, answer, result, None)

    database_thread().submit(run)
    return await answer


def hand_over[Result](loop: asyncio.AbstractEventLoop, answer: asyncio.Future[Result], result: Result | None,
                      error: BaseException | None) -> None:
    """From the database thread: settle `answer` on its loop (unless its caller stopped waiting, or the loop
    has closed: a test's loop may end before a call it abandoned)."""

    def settle() -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # the loop is closed
        loop.call_soon_threadsafe(settle)
