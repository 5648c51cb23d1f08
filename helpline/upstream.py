"""Everything this service takes from Daphne, Channels and asyncio beyond their public API, in one place.

Each piece below relies on how an upstream function is written today, not on a documented promise. So
each names the upstream code it relies on in `RELIES_ON`, and tests/unit/test_upstream.py compares the
installed source of each with the digest recorded here: an upgrade that changes any of them fails that
test, and whoever upgrades re-reads the piece before recording the new digest. The pins in pyproject.toml
keep to the tested minor versions.

The pieces:
- `allow_policy_close`: Daphne closes a websocket with 1008 (protocol.md §8) when asked.
- `HelplineServer` and `PausingInbox`: Daphne's `create_application` with a bounded inbox per websocket
  (backpressure), which also tells the consumer its backlog through the scope (`socket_inbox`).
- `DispatchWithoutConnectionCleanup`: Channels' consumer dispatch without a thread hop per message.
- `EmbeddedChannelLayer`: Channels' in-memory layer with its expiry sweep run once a second.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any, Final

from channels.consumer import get_handler_name
from channels.layers import InMemoryChannelLayer

# (module, qualified name) -> SHA-256 of `inspect.getsource` of the installed code this module relies on.
RELIES_ON: Final[dict[tuple[str, str], frozenset[str]]] = {
    # allow_policy_close replaces it and calls the original for every code but 1008 (daphne 4.2).
    ("daphne.ws_protocol", "WebSocketProtocol.serverClose"):
        frozenset({"8302150efac698d62de45c277e79a177c67ae5ea3c4f437064000bbdb6545a7b"}),
    # HelplineServer.create_application is a copy of it with a PausingInbox for its asyncio.Queue() (4.2).
    ("daphne.server", "Server.create_application"):
        frozenset({"f1e300b4ecf636c85e1a66250e32af2ebb67728f01919678d43e80c794a79a87"}),
    # DispatchWithoutConnectionCleanup.dispatch is a copy of it without `aclose_old_connections()` (4.3).
    ("channels.consumer", "AsyncConsumer.dispatch"):
        frozenset({"39f34e7d4fb0f6552de4ade665b943fe78137379702af6b58c79a14c49a75520"}),
    # EmbeddedChannelLayer overrides this private method; receive and group_send call it (4.3).
    ("channels.layers", "InMemoryChannelLayer._clean_expired"):
        frozenset({"604032dae1cc01d27a51d5b8faf45286c8881a14ce6f0abab7438087568ba6b6"}),
    # PausingInbox overrides put_nowait and get_nowait, which asyncio.Queue's put and get end in
    # (Python 3.12, 3.13).
    ("asyncio.queues", "Queue.get"): frozenset({"35cbd848cd945f22399d3f4590263fdfd9bcacfa592784a7b089d5342b3e2f35",
                                                "9cb239f233b0dc1cf94ab67afc544be540e32d6d55d0e064188443ef2a74c92a"}),
    ("asyncio.queues", "Queue.put"): frozenset({"b22b303fff5980e805a1844189db7155997c5cf21e2a497b35eef64e25a9d2f3",
                                                "3c10b1a4ff0bda54378eba202c68aba3e8526ad3858d57fa189d16343060bdb9"}),
}

CLOSE_POLICY: Final = 1008

# --- Daphne: closing with 1008 ----------------------------------------------------------------------------


def allow_policy_close() -> None:
    """Let Daphne send close code 1008, which protocol.md §8 asks for. Safe to call more than once.

    RFC 6455 §7.4.1 defines 1008 ("policy violation") for an endpoint to send, but Autobahn, under Daphne,
    lets an application close only with 1000 or 3000–4999 and raises otherwise (the client then sees 1011).
    For that one code we send the close frame Autobahn itself would have sent. Called where the ASGI
    application is built (helpline/asgi.py), so every server running it gets it.
    """
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - another ASGI server: it sends what the consumer asks for
        return
    original = WebSocketProtocol.serverClose
    if getattr(original, "allows_policy_close", False):
        return

    def server_close(protocol: Any, code: int | None = None) -> None:
        if code == CLOSE_POLICY:
            protocol.sendCloseFrame(code=code, isReply=False)
            return
        original(protocol, code)

    server_close.allows_policy_close = True  # type: ignore[attr-defined]
    server_close.replaces = original  # type: ignore[attr-defined]  # upstream_source_digest reads the original
    WebSocketProtocol.serverClose = server_close


def upstream_source_digest(module: str, qualified_name: str) -> str:
    """SHA-256 of the installed source of one `RELIES_ON` entry (the original, if this module replaced it)."""
    import hashlib
    import importlib
    import inspect

    target: Any = importlib.import_module(module)
    for part in qualified_name.split("."):
        target = getattr(target, part)
    target = getattr(target, "replaces", target)
    return hashlib.sha256(inspect.getsource(target).encode()).hexdigest()


# --- Daphne: a bounded inbox per websocket (backpressure) -------------------------------------------------

# Backpressure (docs/performance.md, overload; docs/decisions). Daphne reads every socket as fast as data
# arrives and queues the frames for the consumer without limit: a process past its capacity then spends its
# time reading and refusing frames it cannot relay, and relays less the more it is offered. With a bound, a
# socket whose consumer has UNREAD_PAUSE_AT frames waiting is not read until it is down to UNREAD_RESUME_AT;
# the rest wait in the kernel, and TCP slows the sender. Reads of at most SOCKET_READ_BYTES keep one read
# from queueing far past the bound (a 64 KiB read holds ~150 chat frames); a larger frame takes several.
UNREAD_PAUSE_AT: Final = 8
UNREAD_RESUME_AT: Final = 2
SOCKET_READ_BYTES: Final = 4096
# Where our server puts a websocket's inbox in its scope (an ASGI extension of ours).
INBOX_EXTENSION: Final = "helpline.inbox"


class PausingInbox(asyncio.Queue[dict[str, Any]]):
    """A websocket's frames waiting for its consumer: past a bound, the socket is not read until it drains.

    `unread_seconds` adds up the time the socket was not read, so a rate limit can tell a sender who kept
    to it from one who did not: frames a sender sent while the server was not reading arrive together once
    it reads again (chat.limits.RateLimit).
    """

    def __init__(self, transport: Any, pause_at: int = UNREAD_PAUSE_AT, resume_at: int = UNREAD_RESUME_AT) -> None:
        super().__init__()
        self.transport = transport
        self.pause_at, self.resume_at = pause_at, resume_at
        self.paused_since: float | None = None
        self.unread_total = 0.0

    @property
    def unread_seconds(self) -> float:
        """Seconds this socket has not been read, in total, including a pause still going on."""
        ongoing = time.monotonic() - self.paused_since if self.paused_since is not None else 0.0
        return self.unread_total + ongoing

    def put_nowait(self, item: dict[str, Any]) -> None:
        super().put_nowait(item)
        if self.paused_since is None and self.qsize() >= self.pause_at and item.get("type") == "websocket.receive":
            self.paused_since = time.monotonic()
            self.transport.pauseProducing()

    def get_nowait(self) -> dict[str, Any]:  # asyncio.Queue.get ends here too
        item = super().get_nowait()
        if self.paused_since is not None and self.qsize() <= self.resume_at:
            self.unread_total += time.monotonic() - self.paused_since
            self.paused_since = None
            self.transport.resumeProducing()  # a no-op once the connection is closing
        return item


def socket_inbox(scope: Any) -> asyncio.Queue[Any] | None:
    """The queue of frames waiting for this websocket's consumer, as our server puts it in the scope (a test's
    communicator may put its own there); None under any other server, where nothing bounds a socket's backlog
    but `overloaded` in chat.consumers, which then sees no backlog."""
    inbox = scope.get("extensions", {}).get(INBOX_EXTENSION) if isinstance(scope, dict) else None
    return inbox if isinstance(inbox, asyncio.Queue) else None


def unread_seconds(inbox: asyncio.Queue[Any] | None) -> float:
    """Seconds a socket has not been read in all (PausingInbox), 0 for an inbox that never pauses."""
    return inbox.unread_seconds if isinstance(inbox, PausingInbox) else 0.0


def daphne_server_class() -> type:
    # Imported here, not at the top: importing daphne.server installs Twisted's asyncio reactor, which
    # must not happen to every process that imports this module (the bench, the unit tests).
    from daphne.server import Server

    class HelplineServer(Server):  # type: ignore[misc]  # daphne has no type stubs
        """Daphne, with a bounded inbox for every websocket (PausingInbox); HTTP is as Daphne does it."""

        def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
            transport: Any = getattr(protocol, "transport", None)
            if scope.get("type") != "websocket" or not hasattr(transport, "pauseProducing"):
                return super().create_application(protocol, scope)  # HTTP, or a transport that cannot pause
            # Daphne's own create_application (RELIES_ON), with the bounded inbox for its asyncio.Queue().
            assert "application_instance" not in self.connections[protocol]
            transport.bufferSize = SOCKET_READ_BYTES  # Twisted's TCP and unix transports read up to this at once
            inbox = PausingInbox(transport)
            scope.setdefault("asgi", {"version": "3.0"})
            scope.setdefault("extensions", {})[INBOX_EXTENSION] = inbox
            instance = self.application(scope=scope, receive=inbox.get, send=partial(self.handle_reply, protocol))
            if protocol not in self.connections:
                return None
            self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
            return inbox

    return HelplineServer


# --- Channels: dispatch without a thread hop per message --------------------------------------------------


class DispatchWithoutConnectionCleanup:
    """Channels' `AsyncConsumer.dispatch` without its `aclose_old_connections()` before every handler.

    That call is a thread hop per frame and per relayed message (a tenth of the server's time under load,
    docs/performance.md). Every database call of the chat consumers goes through `database_sync_to_async`,
    which closes old connections around the call itself, so skipping it leaves nothing stale.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


# --- Channels: the embedded in-memory layer -----------------------------------------------------------------

CLEAN_EVERY_SECONDS: Final = 1.0


class EmbeddedChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]  # channels has no type stubs
    """Channels' in-memory layer with its expiry sweep made cheap (the embedded default's layer).

    `InMemoryChannelLayer` walks every channel with queued messages and every member of every group on *each*
    receive and group send (`_clean_expired`). A chat socket receives once per relayed message, and every
    open socket of a busy process waits on a receive, so the work per message grew with the number of
    sockets: at a few hundred chats that walk was most of the server's CPU (docs/performance.md). Expiry is a
    coarse limit (messages live `expiry` seconds, 30 here); checking it once a second keeps it as useful.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.cleaned_at = 0.0

    def _clean_expired(self) -> None:
        moment = time.monotonic()
        if moment - self.cleaned_at < CLEAN_EVERY_SECONDS:
            return
        self.cleaned_at = moment
        super()._clean_expired()
