"""Under ASGI a request crosses from the event loop to a thread a fixed, small number of times, on a kept thread.

Django's own middleware, run as async, put each of their hooks on a thread of its own (MiddlewareMixin): a
request went to a thread and back eighteen times, and on a busy server each trip waited behind the chat
sockets (helpline.middleware.OneThreadMiddleware, docs/performance.md). The count is what the promise is
about, so it is counted: every SyncToAsync call made while Django's ASGI handler answers one request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref import sync
from django.core.handlers.asgi import ASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


async def get(handler: Any, path: str) -> int:
    """The status of one GET of `path` through `handler`, an ASGI application."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected (Django listens for a disconnect meanwhile)
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": [(b"host", b"testserver")],
             "server": ("testserver", 80), "client": None, "scheme": "http", "root_path": ""}
    await handler(scope, receive, send)
    return int(sent[0]["status"])


async def hops_for(path: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(thread trips, status) of one GET of `path` through Django's ASGI handler and every middleware."""
    trips: list[Any] = []
    original = sync.SyncToAsync.__call__

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(self.func)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    status = await get(ASGIHandler(), path)
    return len(trips), status


@pytest.mark.parametrize("path", ["/chat/pow/", "/en/help/modules/"])
async def test_a_request_crosses_to_a_thread_a_few_times_not_once_per_middleware(
        path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    trips, status = await hops_for(path, monkeypatch)
    assert status == 200
    # Django's own: the request_started signal, the chain (one trip for every middleware), CSRF's process_view,
    # the view, closing the response. It was 17, a trip each way for most middleware hooks.
    assert trips <= 5, trips


async def test_requests_run_on_kept_threads_not_a_new_thread_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django starts a thread for every request and stops it again after (asgiref's ThreadSensitiveContext);
    ours keeps them (helpline.upstream.RequestThreads): one request after another, the same thread."""
    import threading

    from chat import actions
    from helpline.asgi import django_http

    threads: list[str] = []
    counted = actions.waiting_count

    def waiting_count(*args: Any) -> int:
        threads.append(threading.current_thread().name)
        return counted(*args)

    monkeypatch.setattr(actions, "waiting_count", waiting_count)
    made = django_http.threads.made
    for _ in range(3):
        assert await get(django_http, "/chat/pow/") == 200
    assert len(threads) == 3 and len(set(threads)) == 1 and threads[0].startswith("request"), threads
    assert django_http.threads.made <= made + 1
