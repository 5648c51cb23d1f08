"""What both clients share: one websocket, a reader task that turns frames into events, and waiting for events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat.client.events import Event, ServerError, SocketClosed

E = TypeVar("E", bound=Event)

MAX_FRAME_BYTES = 64 * 1024  # protocol.md §7


class ChatClientError(RuntimeError):
    """The client could not do what it was asked (not connected, no such chat, timed out waiting)."""


class ClientBase:
    """A websocket to one endpoint of the chat server, with an event buffer.

    Subclasses implement ``handle_frame`` (turn one decoded frame into zero or more events) and say
    which path they connect to. Events are kept in arrival order until a ``wait_for`` takes them, so a
    caller can wait for one kind of event without losing the others.
    """

    path = "/"

    def __init__(self, base_url: str, *, extra_headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.ws_url = "ws" + self.base_url[len("http"):] + self.path
        self._extra_headers = dict(extra_headers or {})
        self._socket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._events: list[Event] = []
        self._arrived = asyncio.Condition()
        self.sent_frames: list[dict[str, Any]] = []
        self.received_frames: list[dict[str, Any]] = []

    # --- connection -------------------------------------------------------

    async def open(self) -> None:
        """Open the websocket and start reading; the Origin header is the site's own, as in a browser."""
        if self._socket is not None:
            raise ChatClientError("already connected")
        self._socket = await connect(
            self.ws_url, origin=self.base_url, additional_headers=self._extra_headers,  # type: ignore[arg-type]
            max_size=MAX_FRAME_BYTES, user_agent_header=None, open_timeout=20, proxy=None,
        )
        self._reader = asyncio.create_task(self._read(self._socket))

    async def close(self) -> None:
        """Close the websocket (without telling the chat anything: see ``leave``/``end`` for that)."""
        socket, reader = self._socket, self._reader
        self._socket, self._reader = None, None
        if socket is not None:
            await socket.close()
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def drop(self) -> None:
        """Lose the connection abruptly, as a closed laptop lid or a dead network would."""
        socket, reader = self._socket, self._reader
        self._socket, self._reader = None, None
        if socket is not None:
            socket.transport.abort()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    @property
    def connected(self) -> bool:
        return self._socket is not None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send one frame as a JSON text frame."""
        if self._socket is None:
            raise ChatClientError("not connected")
        self.sent_frames.append(frame)
        await self._socket.send(json.dumps(frame, separators=(",", ":")))

    async def _read(self, socket: ClientConnection) -> None:
        code: int | None = None
        try:
            async for raw in socket:
                if not isinstance(raw, str):
                    continue  # binary frames are not part of the protocol
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                    continue
                self.received_frames.append(frame)
                events = await self.handle_frame(frame)
                for event in events:
                    await self._emit(event)
        except ConnectionClosed:
            pass
        finally:
            code = socket.close_code
            if self._socket is socket:
                self._socket = None
            await self._emit(SocketClosed(chat="", code=code))

    # --- events -----------------------------------------------------------

    async def handle_frame(self, frame: dict[str, Any]) -> list[Event]:
        """Turn one frame into events; the base handles only ``error``."""
        if frame["type"] == "error":
            seq = frame.get("seq")
            return [ServerError(chat=str(frame.get("chat", "")), code=str(frame.get("code", "")),
                                message=str(frame.get("message", "")),
                                seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None)]
        return []

    async def _emit(self, event: Event) -> None:
        async with self._arrived:
            self._events.append(event)
            self._arrived.notify_all()

    @property
    def pending_events(self) -> list[Event]:
        """Events not yet taken by ``wait_for`` (a copy)."""
        return list(self._events)

    async def wait_for(self, kind: type[E], predicate: Callable[[E], bool] | None = None,
                       timeout: float = 20.0) -> E:
        """Take and return the oldest buffered event of ``kind`` (and matching ``predicate``), waiting if needed.

        Raises ChatClientError on timeout, naming the events that did arrive.
        """

        def take() -> E | None:
            for index, event in enumerate(self._events):
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    del self._events[index]
                    return event
            return None

        async def wait() -> E:
            async with self._arrived:
                while (found := take()) is None:
                    await self._arrived.wait()
                return found

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = ", ".join(type(event).__name__ for event in self._events) or "none"
            raise ChatClientError(f"no {kind.__name__} within {timeout}s (pending events: {seen})") from None
