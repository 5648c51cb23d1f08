"""chat.client.http.get_on_loop: the visitor's one GET, sent on the client's event loop (no worker thread).

Against a server on loopback in this process that answers with canned bytes: the status and body it
returns, the request it sends (no cookie, no keep-alive), and a clear error for what is not HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from chat.client.http import HttpError, get_on_loop


@contextlib.asynccontextmanager
async def answering(answer: bytes) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A loopback server that answers every request with `answer` and closes; (URL, requests received)."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/chat/pow/?x=1", received
    finally:
        server.close()
        await server.wait_closed()


async def test_the_status_and_body_come_back_and_the_request_carries_no_cookie() -> None:
    body = b'{"challenge": "abc", "iterations": 1, "bits": 0}'
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body
    async with answering(answer) as (url, received):
        status, text = await get_on_loop(url, {"Accept": "application/json"})
    assert (status, text) == (200, body.decode())
    request = received[0].decode("latin-1")
    assert request.startswith("GET /chat/pow/?x=1 HTTP/1.0\r\n")
    assert "Accept: application/json\r\n" in request
    assert "cookie" not in request.lower() and "keep-alive" not in request.lower()


async def test_an_error_status_is_returned_not_raised() -> None:
    async with answering(b"HTTP/1.1 503 Service Unavailable\r\n\r\nbusy") as (url, _received):
        assert await get_on_loop(url, {}) == (503, "busy")


async def test_what_is_not_http_is_a_clear_error() -> None:
    async with answering(b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as (url, _received):
        with pytest.raises(HttpError, match="answered 0"):
            await get_on_loop(url, {})
    with pytest.raises(ValueError, match="only http"):
        await get_on_loop("file:///etc/passwd", {})
