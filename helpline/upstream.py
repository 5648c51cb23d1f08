"""Everything this service takes from Daphne, Channels and asyncio beyond their public API, in one place.

Each piece below relies on how an upstream function is written today, not on a documented promise. So
each names the upstream code it relies on in `RELIES_ON`, and tests/unit/test_upstream.py compares the
installed source of each with the digest recorded here: an upgrade that changes any of them fails that
test, and whoever upgrades re-reads the piece before recording the new digest. The pins in pyproject.toml
keep to the tested minor versions.

The pieces:
- `run_daphne_on`: Daphne's reactor on the event loop we choose (uvloop's), without asyncio's policy.
- `forget_handshakes_once_open`: Daphne's websocket protocol drops the opening request once the socket is open.
- `allow_policy_close`: Daphne closes a websocket with 1008 (protocol.md §8) when asked.
- `defer_autobahn_log_formatting`: autobahn's per-frame debug log arguments formatted only when logged.
- `hand_socket_events_over_directly`: the asyncio reactor calls a socket's reads and writes without setting up
  a log context for each.
- `read_and_send_frames_directly`: a whole small text frame read, and a message sent, in one step instead of
  Autobahn's fifteen calls each way.
- `HelplineServer` and `PausingInbox`: Daphne's `create_application` with a bounded inbox per websocket
  (backpressure), which also tells the consumer its backlog through the scope (`socket_inbox`), and the
  server's own send for the socket (`socket_sender`).
- `send_at_once`: Twisted's TCP write, trying the socket at once when nothing waits to be written.
- `DispatchWithoutConnectionCleanup`: Channels' consumer dispatch without a thread hop per message.
- `OneInboxConsumer`: Channels' consumer loop with the channel layer's messages for the socket put into the
  socket's inbox, read in order with its frames, and websocket messages sent straight to the server.
- `EmbeddedChannelLayer`: Channels' in-memory layer with its expiry sweep run once a second, which puts
  messages for a socket straight into that socket's inbox.
- `keep_connection`: one Django database connection kept longer than the settings say (the sockets' one,
  helpline/database.py).
- `database_thread`: the one thread asgiref runs thread-sensitive code on outside a request, where the
  sockets' database work runs (helpline/database.py), without asgiref's three turns of the loop per answer.
- `LocalFirstPubSubLayer`: channels-redis's Pub/Sub layer, with a message for a socket of the same process put
  straight into that socket's inbox; Redis carries only what crosses processes, published in batches
  (`PublishBatches`) instead of one round trip at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final, Protocol

from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull, StopConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

# (module, qualified name) -> SHA-256 of `inspect.getsource` of the installed code this module relies on.
RELIES_ON: Final[dict[tuple[str, str], frozenset[str]]] = {
    # allow_policy_close replaces it and calls the original for every code but 1008 (daphne 4.2).
    ("daphne.ws_protocol", "WebSocketProtocol.serverClose"):
        frozenset({"8302150efac698d62de45c277e79a177c67ae5ea3c4f437064000bbdb6545a7b"}),
    # run_daphne_on: Server.run makes the installed reactor's loop the thread's and runs that reactor (4.2).
    ("daphne.server", "Server.run"):
        frozenset({"447c6bd42c62e98cda21fbd603a045ff72abbccabd2b234d8b40c18d366cb7db"}),
    # forget_handshakes_once_open replaces onOpen and calls it first; onConnect reads the headers, the later
    # handlers the request's path only (daphne 4.2); Autobahn reads the handshake's headers and bytes while it
    # is processed and answered, and onOpen is called at the end of that (autobahn 26.11).
    ("daphne.ws_protocol", "WebSocketProtocol.onOpen"):
        frozenset({"6be066589e00abb0a30b58b1d236a4ef7dd24486174928ef449591297a3c6c10"}),
    ("daphne.ws_protocol", "WebSocketProtocol.onConnect"):
        frozenset({"b1ce2efc1874b9b5835b9e5741fa0aab39740e98ef0f0aaa80c5c3e2f50a8bc7"}),
    ("autobahn.websocket.protocol", "WebSocketServerProtocol.processHandshake"):
        frozenset({"0055f4d3499376738a0a710fc56b499befa39d90e2060ee1dabefda36bedb483"}),
    ("autobahn.websocket.protocol", "WebSocketServerProtocol.succeedHandshake"):
        frozenset({"fb43d387929cf20640844b409a55bdfc0a643b20bb987af9a96c795f9678a9e8"}),
    # let_go_of_the_upgrade_request: process hands the connection to the websocket, sets the request's transport
    # to None and calls protocol_disconnected; Twisted's HTTPChannel does nothing as a producer while it handles
    # a request (daphne 4.2, Twisted 26.10).
    ("daphne.http_protocol", "WebRequest.process"):
        frozenset({"e9babd1c97ce710bda699578b21feafd1f490df6ad8bec45960eba4bbb31e306"}),
    ("twisted.web.http", "HTTPChannel.pauseProducing"):
        frozenset({"8fe306cf284ba8e71b43a4e4219986e3521ddc9b8766d2101e9984b3090bf6ed"}),
    ("twisted.web.http", "HTTPChannel.resumeProducing"):
        frozenset({"561ac237d3468e84939ec6c3d856dd7a556d3df459dd02969d43543105fb54fb"}),
    ("twisted.web.http", "HTTPChannel.stopProducing"):
        frozenset({"4a69f745d6382f0ad17fddfec31ddc1c669f92d7600eb276044c12b06025d170"}),
    # HelplineServer.create_application is a copy of it with a PausingInbox for its asyncio.Queue() (4.2);
    # Daphne's websocket protocol only ever calls put_nowait on it.
    ("daphne.server", "Server.handle_reply"):  # HelplineServer.reply_now does what it does, as a plain function
        frozenset({"9d9dbaea6de0657aab6d5eaa7e38781b5fd80924c5ddf334bada16aebed09413"}),
    ("daphne.server", "Server.create_application"):
        frozenset({"f1e300b4ecf636c85e1a66250e32af2ebb67728f01919678d43e80c794a79a87"}),
    # defer_autobahn_log_formatting: sendData, the per-frame caller, uses hltype and hlval as log arguments only.
    ("autobahn.websocket.protocol", "WebSocketProtocol.sendData"):
        frozenset({"5dcca425b048b07eb27d56a625a790d7a8e48fbe958753074cb1e55e174b2423"}),
    # ... and the Twisted adapter's dataReceived likewise, which reading_without_a_debug_line skips to
    # _dataReceived when txaio has made debug a no-op (autobahn 26.11, txaio 26.6).
    ("autobahn.twisted.websocket", "WebSocketAdapterProtocol.dataReceived"):
        frozenset({"7997f762de21843361fe9d6bc8df40f6517cafe310d76eb61b292aa8cecf9661"}),
    ("txaio.tx", "Logger._set_log_level"):
        frozenset({"674ffbcc3702cd3724fb042839487d2be6cdbce54e2c4e697d60694577723a34"}),
    # hand_socket_events_over_directly: the asyncio reactor registers each reader and writer with the loop
    # through its module's callWithLogger (Twisted 26.10), which call_without_log_context stands in for.
    ("twisted.internet.asyncioreactor", "AsyncioSelectorReactor.addReader"):
        frozenset({"61b77f35b35cd2e5379cb722fbbec5f9bb1c0d5a2d736df8a638222e065de415"}),
    ("twisted.internet.asyncioreactor", "AsyncioSelectorReactor.addWriter"):
        frozenset({"dd13a0098bb09d365c0a72961b99516ba269d8edbc8d565cc5f508faa0d3fe12"}),
    ("twisted.python.log", "callWithLogger"):
        frozenset({"802f8564bca3531fe46ea2098450b784ad60ff5bf0365c9fb06dda1c7ff668a6"}),
    # read_and_send_frames_directly does for a whole masked text frame what processData and the handlers it
    # calls do (frame checks, limits, unmasking, UTF-8, counters, the ping timer, then _onMessage), and for a
    # message sent as one unmasked frame what sendMessage, sendFrame and sendData do (autobahn 26.11).
    ("autobahn.websocket.protocol", "WebSocketProtocol.processData"):
        frozenset({"25b9c1387a46ab258a5ead2b4837253bb3582c51883ee3d70497e4eaa89e00f2"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.onFrameBegin"):
        frozenset({"9537027007767ae495d07103c89090c7ec80abe69f904b0c57bc7ee5dafbd8a3"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.onFrameData"):
        frozenset({"b39b40e3d17022738f71777d79f18c6eabb8cafdc061bff5354fa974a6423a38"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.onFrameEnd"):
        frozenset({"c45a45b9bf3334175aaa329ca90a6c6e3c2e12b8a040076d800f80d2a4f59d88"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.onMessageFrameBegin"):
        frozenset({"68c4eae4de95e1fbf9a932f8e5bc8b7262120f1a37c104c7ebbd18c3a5d731e7"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.onMessageEnd"):
        frozenset({"efff2a43ca8540d0dabcd5755f67d209532b8c8a2ec3dd4429ac2fb8257b63d1"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.sendMessage"):
        frozenset({"048d6bcf0d71230997c4b4225086c891ed1247eed9307e58546b1bfb5b174443"}),
    ("autobahn.websocket.protocol", "WebSocketProtocol.sendFrame"):
        frozenset({"89cc8b024c413aa09943880cb5bcf0667bc2cce07b6cb3c9c864bba04fe9e659"}),
    # DispatchWithoutConnectionCleanup.dispatch is a copy of it without `aclose_old_connections()` (4.3).
    ("channels.consumer", "AsyncConsumer.dispatch"):
        frozenset({"39f34e7d4fb0f6552de4ade665b943fe78137379702af6b58c79a14c49a75520"}),
    # EmbeddedChannelLayer overrides this private method; receive and group_send call it (4.3).
    ("channels.layers", "InMemoryChannelLayer._clean_expired"):
        frozenset({"604032dae1cc01d27a51d5b8faf45286c8881a14ce6f0abab7438087568ba6b6"}),
    # EmbeddedChannelLayer.send and group_send do what these do, for a socket's inbox instead of a layer queue.
    ("channels.layers", "InMemoryChannelLayer.send"):
        frozenset({"a4dab1cd8aff886ec3763192f62126736e59801b4a3661f20db47e92651323e1"}),
    ("channels.layers", "InMemoryChannelLayer.group_send"):
        frozenset({"693c3172deb6431bc7f4995484071ccc24a03eaf0f6c783fe3e0349fe2a7c6d7"}),
    # OneInboxConsumer.__call__ is a copy of it with one queue for frames and layer messages (4.3).
    ("channels.consumer", "AsyncConsumer.__call__"):
        frozenset({"e52238720872dbc3f854519bc971aa7eb41553e63c8729081549ce42465ee419"}),
    # send_at_once relies on what write buffers (dataBuffer, _tempDataBuffer), when it refuses to write
    # (connected, _writeDisconnected), and on doWrite sending what is buffered first (Twisted 26.10).
    ("twisted.internet.abstract", "FileDescriptor.write"):
        frozenset({"3e46c97fc173bc7e227065420969c27688f24903c27dcc165b63166a605d688c"}),
    ("twisted.internet.abstract", "FileDescriptor.doWrite"):
        frozenset({"a986d7b1b1054e431495d50528824683fa7ebb1ffcf3e57333bdd6f37f603141"}),
    ("twisted.internet._newtls", "ConnectionMixin.write"):
        frozenset({"ea311df0946d3f997a11838e59692e33a6734dcd42a0f29b3331e7ad3ca8117a"}),
    # keep_connection relies on a connection reading CONN_MAX_AGE from its own settings_dict when it connects
    # (close_at) and on close_if_unusable_or_obsolete closing it by close_at alone (Django 6.1).
    ("django.db.backends.base.base", "BaseDatabaseWrapper.connect"):
        frozenset({"65ad70c3f9c2250fbdb67cb6f7de934dd9b343f99755632f36a6c32b8ecb26bc"}),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.close_if_unusable_or_obsolete"):
        frozenset({"6b6ae12ebd80c4bdd00b54247e47cc185b9777763950fb9d86a56b309327001c"}),
    # LocalFirstPubSubLayer.send calls what the layer proxies `send` to, the loop layer's own (4.3).
    ("channels_redis.pubsub", "RedisPubSubChannelLayer.__getattr__"):
        frozenset({"b4e95df4c57ad00b4b44fe614adaf7debe14c4e01c4d351e3489248af83767dc"}),
    ("channels_redis.pubsub", "RedisPubSubChannelLayer._get_layer"):
        frozenset({"1862b87a25ac72b2512da2fa30e56f87ca4b37f6874f1385d2ceb5e8b442079c"}),
    # ... and publishes what they publish, where they publish it (4.3): PublishBatches does for a batch what
    # the shard's publish does for one message (its lock, its client), LocalFirstPubSubLayer.publish picks
    # the shard and serializes as send and group_send do.
    ("channels_redis.pubsub", "RedisSingleShardConnection.publish"):
        frozenset({"5a18093dbcb440f569f9c0315b94f34bc473319f653b54953c43128c69148d76"}),
    ("channels_redis.pubsub", "RedisSingleShardConnection._ensure_redis"):
        frozenset({"ba228d3cee7116dcb07e59698f384ca9c24a1a4d3b9b542ad84a15168e3816b2"}),
    ("channels_redis.pubsub", "RedisPubSubLoopLayer.send"):
        frozenset({"549a0535395c584ae6eb4b3a85cfe8ed0107f47ffa4ff62a8494fc58be8dd027"}),
    ("channels_redis.pubsub", "RedisPubSubLoopLayer.group_send"):
        frozenset({"5d5f908ce40f335b7c401ff9cd35a2baf020e835f32a6d39964eecdb54f8f699"}),
    # OneReaderQueue stands in for the asyncio.Queue `_subscribe_to_channel` makes: the reader's
    # `_receive_message` puts into it, `receive` gets from it and, when cancelled, forgets it (4.3).
    ("channels_redis.pubsub", "RedisPubSubLoopLayer._subscribe_to_channel"):
        frozenset({"3da2e955db06450f59a634cc90dcfe4a804e703d61d93250fae532ba91875425"}),
    ("channels_redis.pubsub", "RedisSingleShardConnection._receive_message"):
        frozenset({"2f5f46af28e8ed76a78c8dabe8831ee21e2b061f32d15e90e5a0ddd94c63c54f"}),
    ("channels_redis.pubsub", "RedisPubSubLoopLayer.receive"):
        frozenset({"2d3fa7938ba6e0a67de22b47d7af2b6e492bbbdacce4725868239d854b845de4"}),
    # KeptThreadsASGIHandler.__call__ is a copy of it with a kept executor for the request's context (6.1).
    ("django.core.handlers.asgi", "ASGIHandler.__call__"):
        frozenset({"f756809e9c9308dcccb78a301fccf09196e80cdc4745690f80384d09b69dd102"}),
    # helpline/asgi.py does what this does (setup, then the handler), with that handler (6.1).
    ("django.core.asgi", "get_asgi_application"):
        frozenset({"5f47704332ead684b772c1d321232112231737bee23d89288bddfeacba0f6cf5"}),
    # RequestThreads relies on a context given an executor using it and leaving it running (asgiref 3.13).
    ("asgiref.sync", "ThreadSensitiveContext.__aenter__"):
        frozenset({"b0355bf6b275a7c21e22e80892e0aa84438fc1485469d0e75e333ea955c127f4"}),
    ("asgiref.sync", "ThreadSensitiveContext.__aexit__"):
        frozenset({"5571fec562fa6e843ccb08e60deb367905ecfdf621077e952430d9a52401f0b5"}),
    # database_thread: outside a request's context and a sync caller, thread-sensitive code runs on the class's
    # single_thread_executor (asgiref 3.13).
    ("asgiref.sync", "SyncToAsync.__call__"):
        frozenset({"6376e33c6d3d94c58df80c3f2386c38401d19a543d08626a34721abe309845f6"}),
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


# --- Daphne: a websocket's handshake forgotten once it is open ----------------------------------------------


def forget_handshakes_once_open() -> None:
    """Once a websocket is open, Daphne's protocol forgets the request that opened it. Safe to call more than once.

    Daphne and Autobahn keep the opening request for the socket's life: Daphne its cleaned headers and
    Autobahn's request object (whose headers are a dict of them all), Autobahn the parsed headers again and
    the request and response as bytes: 2.5 KiB a socket (tracemalloc), two sockets a chat, and with them what
    the browser sent (User-Agent included, which helpline.asgi_privacy keeps from the application) where a
    memory dump would find it. Nothing reads them after the handshake: Daphne's onConnect reads the headers
    and later only the request's path, Autobahn's processHandshake and succeedHandshake are done with them
    (RELIES_ON). Called by daphne_server_class, so every server of ours does it.
    """
    from daphne.ws_protocol import WebSocketProtocol

    original = WebSocketProtocol.onOpen
    if getattr(original, "forgets_the_handshake", False):
        return

    def on_open(protocol: Any) -> None:
        original(protocol)
        forget_the_handshake(protocol)

    on_open.forgets_the_handshake = True  # type: ignore[attr-defined]
    on_open.replaces = original  # type: ignore[attr-defined]  # upstream_source_digest reads the original
    WebSocketProtocol.onOpen = on_open


def forget_the_handshake(protocol: Any) -> None:
    protocol.clean_headers = []
    protocol.http_headers = {}
    protocol.http_request_data = b""
    protocol.http_response_data = b""
    request = getattr(protocol, "request", None)
    if request is not None:
        request.headers = {}


# --- Autobahn: debug log arguments formatted only when logged ------------------------------------------------


class Formatted:
    """A log argument computed when the log line is written, not when the call is made."""

    __slots__ = ("args", "function", "kwargs")

    def __init__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.function, self.args, self.kwargs = function, args, kwargs

    def __str__(self) -> str:
        return str(self.function(*self.args, **self.kwargs))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def defer_autobahn_log_formatting() -> None:
    """Autobahn formats debug log arguments for every frame it sends (`sendData`) and every read from a socket
    (the Twisted adapter's `dataReceived`): `hltype` and `hlval`, qualified names with terminal colours,
    whether or not debug logging is on: 3 % of the server's CPU each way when relaying (docs/performance.md,
    first and tenth passes). Here they are formatted only if a log line is written. Safe to call more than
    once; both modules use the two only as log arguments."""
    from autobahn.twisted import websocket as twisted_adapter
    from autobahn.websocket import protocol

    for module in (protocol, twisted_adapter):
        for name in ("hltype", "hlval"):
            original = getattr(module, name)
            if getattr(original, "deferred", False):
                continue

            def deferred(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Formatted:
                return Formatted(_original, *args, **kwargs)

            deferred.deferred = True  # type: ignore[attr-defined]
            setattr(module, name, deferred)


# --- Twisted: a socket's events handed to it without a log context -------------------------------------------


def call_without_log_context(logger: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Twisted's `callWithLogger` (RELIES_ON) without the log context it sets up around every call.

    The asyncio reactor hands every read and write event of a socket to it: it asks the connection for its
    log prefix and copies and pushes a context dict so that old-style log lines written during the call
    name the connection, 5 % of the server's CPU when relaying (docs/performance.md, tenth pass). Nothing we
    run writes old-style log lines (Daphne and we use `logging`, Twisted's reactor its new `Logger`), and the
    prefix names the client's address, which this service keeps out of its logs anyway. What it promises
    is kept: an exception is logged with the prefix and goes no further; KeyboardInterrupt does."""
    try:
        return function(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException:
        from twisted.python import log

        log.err(system=log_prefix(logger))  # type: ignore[no-untyped-call]  # Twisted leaves it untyped
        return None


def log_prefix(logger: Any) -> str:
    """As callWithLogger finds it (RELIES_ON), only when there is something to log."""
    try:
        return str(logger.logPrefix())
    except Exception:
        return "(buggy logPrefix method)"


def hand_socket_events_over_directly() -> None:
    """The asyncio reactor's readers and writers registered from now on are called through
    `call_without_log_context`. Safe to call more than once; called by daphne_server_class."""
    from twisted.internet import asyncioreactor

    asyncioreactor.callWithLogger = call_without_log_context  # type: ignore[attr-defined,assignment]  # a module global; the same call


# --- Autobahn: a whole small text frame read, and a message sent, in one step --------------------------------

# RFC 6455 §5.2: first byte FIN + opcode, second byte MASK + payload length (126: a 16-bit length follows).
FIN_TEXT: Final = 0x81
FIN_BINARY: Final = 0x82
MASKED: Final = 0x80
LENGTH_16_BITS: Final = 126
LARGEST_16_BIT_LENGTH: Final = 0xFFFF


def read_and_send_frames_directly() -> None:
    """Autobahn handles each frame in ~15 calls each way, and most of them are for what a chat frame never is:
    fragmented, compressed, a control frame, logged or timed. A received frame that is a whole masked text
    frame already in the buffer (a chat frame always is) is read here in one step, and a message sent as
    one unmasked frame; the CPU that took was a fifth of the server's when relaying (docs/performance.md,
    ninth pass). Anything else (and any frame that breaks a rule: bad UTF-8, over a size limit, not minimally
    encoded) goes Autobahn's own way, unchanged, which fails the connection as it did. tests/unit/
    test_websocket_frames.py feeds the same byte streams to both ways and compares all they deliver, write
    and do.
    Safe to call more than once; called by daphne_server_class, so every server of ours does it."""
    from daphne.ws_protocol import WebSocketProtocol

    if getattr(WebSocketProtocol.processData, "reads_whole_text_frames", False):
        return
    WebSocketProtocol.processData = reading_whole_text_frames(WebSocketProtocol.processData)
    WebSocketProtocol.sendMessage = sending_single_frames(WebSocketProtocol.sendMessage)
    WebSocketProtocol.dataReceived = reading_without_a_debug_line(WebSocketProtocol.dataReceived)


def reading_without_a_debug_line(original: Callable[[Any, bytes], None]) -> Callable[[Any, bytes], None]:
    """Autobahn's Twisted dataReceived (RELIES_ON) writes a debug line for every read, then hands the bytes to
    `_dataReceived`. With debug logging off txaio makes the logger's `debug` a no-op (RELIES_ON), but the
    line's three arguments were still made for it, 3 % of the server's CPU when relaying (docs/performance.md,
    tenth pass): then the bytes go straight on. With debug logging on, Autobahn's own way."""
    from txaio.tx import _no_op as debug_is_off  # the no-op txaio puts in place of a level that is off

    def data_received(protocol: Any, data: bytes) -> None:
        if protocol.log.debug is debug_is_off:
            protocol._dataReceived(data)
        else:
            original(protocol, data)

    data_received.replaces = original  # type: ignore[attr-defined]  # upstream_source_digest reads the original
    return data_received


def reading_whole_text_frames(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """Autobahn's processData (RELIES_ON) with a fast path; returns what it returns: whether to go on reading."""
    import struct

    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn

    open_state = Autobahn.STATE_OPEN
    unpack_length = struct.Struct("!H").unpack_from

    def process_data(protocol: Any) -> bool:
        data = protocol.data
        if (len(data) < 6 or data[0] != FIN_TEXT or not data[1] & MASKED or protocol.current_frame is not None
                or protocol.inside_message or protocol.state != open_state or protocol.failedByMe
                or protocol._perMessageCompress is not None or not protocol.applyMask or protocol.logFrames
                or protocol.trackedTimings or protocol._listeners is not None):
            return original(protocol)
        length = data[1] & 0x7F
        if length < LENGTH_16_BITS:
            start = 6
        elif length == LENGTH_16_BITS and len(data) >= 8:
            (length,) = unpack_length(data, 2)
            start = 8
            if length < LENGTH_16_BITS:  # not the minimal encoding: Autobahn fails the connection
                return original(protocol)
        else:
            return original(protocol)  # a 64-bit length, or the header not all here yet
        end = start + length
        if len(data) < end or 0 < protocol.maxFramePayloadSize < length or \
                0 < protocol.maxMessagePayloadSize < length:
            return original(protocol)  # not all here yet (Autobahn reads it in parts), or over a limit
        payload = unmasked(data, start, end)
        if protocol.utf8validateIncoming and not payload.isascii():  # ASCII is UTF-8: chat frames always are
            validator = protocol.utf8validator  # Autobahn's own, as onFrameBegin and onFrameData use it
            validator.reset()
            valid, ended, *_ = validator.validate(payload)
            if not (valid and ended):
                return original(protocol)  # which fails the connection with 1007
        protocol.data = data[end:]
        stats = protocol.trafficStats
        stats.incomingOctetsWebSocketLevel += length
        stats.incomingOctetsAppLevel += length
        stats.incomingWebSocketFrames += 1
        stats.incomingWebSocketMessages += 1
        if protocol.autoPingTimeoutCall and protocol.autoPingRestartOnAnyTraffic:
            protocol._cancelAutoPingTimeoutCall()
        protocol._onMessage(payload, False)
        return len(protocol.data) > 0

    process_data.reads_whole_text_frames = True  # type: ignore[attr-defined]
    process_data.replaces = original  # type: ignore[attr-defined]  # upstream_source_digest reads the original
    return process_data


def unmasked(data: bytes, start: int, end: int) -> bytes:
    """The payload `data[start:end]` of a client's frame, unmasked with the 4-byte mask just before `start`.

    XOR as one integer operation: for a chat frame (~500 bytes) half the CPU of Autobahn's native masker,
    which allocates a masker and two buffers through cffi for each frame (docs/performance.md, tenth pass)."""
    length = end - start
    if not length:
        return b""
    mask = (data[start - 4:start] * ((length + 3) // 4))[:length]
    return (int.from_bytes(data[start:end], "little") ^ int.from_bytes(mask, "little")).to_bytes(length, "little")


def sending_single_frames(original: Callable[..., None]) -> Callable[..., None]:
    """Autobahn's sendMessage (RELIES_ON) with a fast path for a message that goes as one unmasked frame."""
    import struct

    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn

    open_state = Autobahn.STATE_OPEN
    header_16 = struct.Struct("!BBH").pack

    def send_message(protocol: Any, payload: bytes, isBinary: bool = False, fragmentSize: int | None = None,
                     sync: bool = False, doNotCompress: bool = False) -> None:
        length = len(payload)
        if (type(payload) is not bytes or type(isBinary) is not bool or type(doNotCompress) is not bool
                or length > LARGEST_16_BIT_LENGTH or fragmentSize is not None or sync
                or protocol.state != open_state or protocol._perMessageCompress is not None
                or protocol.trackedTimings or 0 < protocol.autoFragmentSize < length
                or 0 < protocol.maxMessagePayloadSize < length or protocol.maskServerFrames
                or protocol.send_queue or protocol.logFrames or protocol.logOctets):
            original(protocol, payload, isBinary, fragmentSize, sync, doNotCompress)
            return
        first = FIN_BINARY if isBinary else FIN_TEXT
        header = bytes((first, length)) if length < LENGTH_16_BITS else header_16(first, LENGTH_16_BITS, length)
        frame = header + payload
        protocol.transport.write(frame)
        stats = protocol.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingOctetsAppLevel += length
        stats.outgoingOctetsWebSocketLevel += length
        stats.outgoingWebSocketFrames += 1
        stats.outgoingOctetsWireLevel += len(frame)

    send_message.replaces = original  # type: ignore[attr-defined]
    return send_message


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
# Where our server puts a websocket's inbox in its scope (an ASGI extension of ours): the queue the socket's
# `receive` reads from, so whatever is put there reaches the consumer in order with the socket's frames.
INBOX_EXTENSION: Final = "helpline.inbox"
# And the server's own `send` for the socket: the consumer sends websocket messages with it directly, past
# Channels' session middleware, whose `send` wrapper only ever acts on HTTP responses.
SENDER_EXTENSION: Final = "helpline.send"
# The same, as a plain function (its coroutine never waits): for what a socket handles at once (`at_once`).
SEND_NOW_EXTENSION: Final = "helpline.send_now"


class Inbox(Protocol):
    """What a socket's inbox offers: the server and the layer put, the socket's one loop gets (asyncio.Queue is one)."""

    def put_nowait(self, item: dict[str, Any]) -> None: ...

    async def get(self) -> dict[str, Any]: ...

    def qsize(self) -> int: ...


class OneReaderQueue:
    """A queue for one reader and any number of writers that never wait, in a list: what channels-redis uses of
    an asyncio.Queue for a channel (RELIES_ON: its reader's `put_nowait`, `get` in the loop layer's `receive`),
    and the base of a websocket's inbox (PausingInbox). 0.1 KiB where an asyncio.Queue, with its three deques
    and an event, takes 3.2 KiB (tracemalloc): 6 KiB per chat in the scaled mode, one per socket's channel.

    For a channel, LocalFirstPubSubLayer.deliver_into puts one in place of channels-redis's. The forwarding task
    per socket stays (`forward_into`), and with it the order in which the loop wakes what: with the
    subscription reader putting messages straight into the sockets' inboxes instead (4-5 KiB less per chat
    again), conversations under twice the saturating offer waited 100 ms or less at the median in one run of
    eight, against three of four without it and two of six with this (docs/performance.md, seventh pass: that
    row swings between runs for every variant, so the effect is not settled)."""

    __slots__ = ("items", "reader")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.reader: asyncio.Future[None] | None = None  # set while the reader waits for an item

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        self.wake_reader()

    def wake_reader(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)

    async def get(self) -> Any:
        while not self.items:
            self.reader = asyncio.get_running_loop().create_future()
            try:
                await self.reader
            finally:
                self.reader = None
        return self.get_nowait()

    def get_nowait(self) -> Any:
        if not self.items:
            raise asyncio.QueueEmpty
        return self.items.pop(0)

    def qsize(self) -> int:
        return len(self.items)

    def empty(self) -> bool:
        return not self.items


class PausingInbox(OneReaderQueue):
    """A websocket's frames waiting for its consumer: past a bound, the socket is not read until it drains.

    `unread_seconds` adds up the time the socket was not read, so a rate limit can tell a sender who kept
    to it from one who did not: frames a sender sent while the server was not reading arrive together once
    it reads again (chat.limits.RateLimit).

    `waited` is how long the item taken last had been waiting: since it was read from the socket (or put
    here by the layer), or, for a frame that was already in TCP's buffer when reading resumed, since reading
    paused. It tells the consumer that the process is behind (chat.limits.Overload).

    A queue for one reader (the socket's loop) and any number of writers that never wait, with each item's
    arrival kept beside it: one list per socket, where an asyncio.Queue keeps three deques (memory per chat,
    docs/performance.md).

    `at_once`: a message the socket registered a handler for is handled by it at once when the socket is idle,
    in the turn of whoever put it here (the sender's, or the server's read of the socket), instead of waking the
    socket's loop for it: one turn of the loop less for every relayed message (docs/performance.md, tenth and
    eleventh passes). Only when idle: then nothing is queued before it and no handler of the socket is part-way
    through, so it is handled in the order it would have been.
    """

    def __init__(self, transport: Any, pause_at: int = UNREAD_PAUSE_AT, resume_at: int = UNREAD_RESUME_AT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.pause_at, self.resume_at = pause_at, resume_at
        self.clock = clock
        # Its items are (arrival, item), oldest first. A list, not a deque: a deque allocates a block of 64 slots
        # up front, 1.3 KiB per chat in all (tracemalloc), and this queue holds a few items (the layer's capacity).
        super().__init__()
        self.paused_since: float | None = None
        self.unread_total = 0.0
        self.waited = 0.0
        # Bytes TCP held when reading resumed, and since when: the frames read from them are dated then.
        self.held_bytes, self.held_since = 0, 0.0
        # Message type -> what the socket does with one at once, in the turn of whoever puts it here, when the
        # socket is idle (its loop waits on this inbox, nothing queued); it returns False to have it queued.
        # Set by the socket once it is set up, None again once its loop ends (OneInboxConsumer).
        self.at_once: dict[str, Callable[[dict[str, Any]], bool]] | None = None

    @property
    def unread_seconds(self) -> float:
        """Seconds this socket has not been read, in total, including a pause still going on."""
        ongoing = self.clock() - self.paused_since if self.paused_since is not None else 0.0
        return self.unread_total + ongoing

    def put_nowait(self, item: dict[str, Any]) -> None:
        received = item.get("type") == "websocket.receive"
        if self.at_once and not self.items and self.reader is not None and not self.reader.done():
            handler = self.at_once.get(item.get("type"))  # type: ignore[arg-type]
            # A frame read from bytes TCP held while the socket was paused is dated back to the pause (below):
            # it waited, so it waits its turn, where the consumer sees how long.
            if handler is not None and not (received and self.held_bytes > 0) and handler(item):
                return
        moment = self.clock()
        if self.held_bytes > 0 and received:
            self.held_bytes -= frame_bytes(item)
            self.items.append((self.held_since, item))
        else:
            self.items.append((moment, item))
        self.wake_reader()
        if self.paused_since is None and received and len(self.items) >= self.pause_at:
            self.paused_since = moment
            self.transport.pauseProducing()

    async def put(self, item: dict[str, Any]) -> None:  # as asyncio.Queue's (asgiref's test communicator uses it)
        self.put_nowait(item)

    def get_nowait(self) -> dict[str, Any]:
        entry: tuple[float, dict[str, Any]] = super().get_nowait()
        arrived, item = entry
        moment = self.clock()
        self.waited = moment - arrived
        if self.paused_since is not None and len(self.items) <= self.resume_at:
            self.unread_total += moment - self.paused_since
            self.held_bytes, self.held_since = bytes_waiting(self.transport), self.paused_since
            self.paused_since = None
            self.transport.resumeProducing()  # a no-op once the connection is closing
        return item


# A websocket frame's bytes beyond its text: header (2-4 bytes for chat frames) and the client's mask (4).
FRAME_OVERHEAD_BYTES: Final = 8


def frame_bytes(item: dict[str, Any]) -> int:
    """About how many bytes of TCP a received frame took (text frames of chat JSON are ASCII)."""
    payload = item.get("text") or item.get("bytes") or ""
    return len(payload) + FRAME_OVERHEAD_BYTES


def bytes_waiting(transport: Any) -> int:
    """Bytes in the socket's receive buffer (FIONREAD), 0 where that cannot be asked."""
    import fcntl
    import struct
    import termios

    try:
        answer = fcntl.ioctl(transport.socket.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (AttributeError, OSError, ValueError):
        return 0
    return int(struct.unpack("i", answer)[0])


def socket_inbox(scope: Any) -> Inbox | None:
    """The queue of frames waiting for this websocket's consumer, as our server puts it in the scope (a test's
    communicator may put its own there); None under any other server, where nothing bounds a socket's backlog
    but `overloaded` in chat.consumers, which then sees no backlog."""
    inbox = scope.get("extensions", {}).get(INBOX_EXTENSION) if isinstance(scope, dict) else None
    return inbox if isinstance(inbox, PausingInbox | asyncio.Queue) else None


def unread_seconds(inbox: Inbox | None) -> float:
    """Seconds a socket has not been read in all (PausingInbox), 0 for an inbox that never pauses."""
    return inbox.unread_seconds if isinstance(inbox, PausingInbox) else 0.0


def waited_seconds(inbox: Inbox | None) -> float:
    """How long the frame being handled waited in the server (PausingInbox.waited), 0 where unknown."""
    return inbox.waited if isinstance(inbox, PausingInbox) else 0.0


Send = Callable[[dict[str, Any]], Awaitable[None]]


def socket_sender(scope: Any) -> Send | None:
    """The server's own send for this websocket, where our server put it in the scope; None elsewhere."""
    sender = scope.get("extensions", {}).get(SENDER_EXTENSION) if isinstance(scope, dict) else None
    return sender if callable(sender) else None


def socket_sender_now(scope: Any) -> Callable[[dict[str, Any]], None] | None:
    """The server's send for this websocket as a plain function, where our server put it; None elsewhere."""
    sender = scope.get("extensions", {}).get(SEND_NOW_EXTENSION) if isinstance(scope, dict) else None
    return sender if callable(sender) else None


def send_at_once(transport: Any) -> None:
    """Have a Twisted TCP transport write to its socket at once when nothing else waits to be written.

    Twisted's `write` only buffers: it registers the socket for writability, and the reactor's next pass
    sends and unregisters it. For a relayed frame that is two epoll changes and a loop pass on top of the
    send (a sixth of the server's CPU at saturation, docs/performance.md); asyncio's own transports try the
    socket first, as this does. Whatever the socket does not take, or any error, goes Twisted's way, which
    then sends it after everything already buffered, and finds out about a failing connection as it would.
    """
    if getattr(transport, "TLS", False) or not hasattr(transport, "socket") or \
            getattr(transport.write, "sends_at_once", False):
        return  # TLS (Twisted encrypts in write), a transport of another kind, or done already
    buffered_write = transport.write
    sock = transport.socket

    def write(data: bytes) -> None:
        if (data and transport.connected and not transport._writeDisconnected and not transport.dataBuffer
                and not transport._tempDataBuffer and isinstance(data, bytes)):
            try:
                sent = sock.send(data)
            except OSError:  # full (EWOULDBLOCK) or failing: the buffered write finds out which
                sent = 0
            data = data[sent:]
        if data:
            buffered_write(data)

    write.sends_at_once = True  # type: ignore[attr-defined]
    transport.write = write


def twisted_reactor_installed() -> bool:
    """Whether this process has a Twisted reactor already (importing daphne.server installs one)."""
    return "twisted.internet.reactor" in sys.modules


def run_daphne_on(loop: asyncio.AbstractEventLoop) -> None:
    """Install Twisted's asyncio reactor on `loop`, before daphne.server is imported, so Daphne runs on it.

    Daphne installs that reactor itself when daphne.server is imported, on a loop it makes then with
    asyncio.new_event_loop(), and keeps one that is installed already; Server.run then makes the reactor's
    loop the thread's (RELIES_ON). Choosing the loop's kind through asyncio's event loop policy instead is
    deprecated from Python 3.14 and goes in 3.16; this way no policy is touched."""
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)  # type: ignore[no-untyped-call]  # Twisted leaves it untyped


def daphne_event_loop() -> Any:
    """The loop Daphne's reactor runs on: the one given to `run_daphne_on`, or else the one daphne.server made
    (tests/live/test_serve_event_loop.py fails if Daphne stops keeping a reactor installed before it)."""
    import daphne.server  # noqa: F401  # installs the reactor where nothing did
    from twisted.internet import reactor

    return reactor._asyncioEventloop  # as Server.run reads it


def close_daphnes_spare_loop() -> None:
    """daphne.server made a loop of its own at import; with another one given to `run_daphne_on` nothing uses
    it, and closing it gives back its selector and wake-up sockets."""
    import daphne.server

    if daphne.server.twisted_loop is not daphne_event_loop() and not daphne.server.twisted_loop.is_closed():
        daphne.server.twisted_loop.close()


def daphne_server_class() -> type:
    # Imported here, not at the top: importing daphne.server installs Twisted's asyncio reactor, which
    # must not happen to every process that imports this module (the bench, the unit tests).
    from daphne.server import Server

    forget_handshakes_once_open()
    read_and_send_frames_directly()
    hand_socket_events_over_directly()

    class HelplineServer(Server):  # type: ignore[misc]  # daphne has no type stubs
        """Daphne, with a bounded inbox for every websocket (PausingInbox); HTTP is as Daphne does it."""

        def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
            transport: Any = getattr(protocol, "transport", None)
            if scope.get("type") != "websocket" or not hasattr(transport, "pauseProducing"):
                return super().create_application(protocol, scope)  # HTTP, or a transport that cannot pause
            # Daphne's own create_application (RELIES_ON), with the bounded inbox for its asyncio.Queue().
            assert "application_instance" not in self.connections[protocol]
            transport.bufferSize = SOCKET_READ_BYTES  # Twisted's TCP and unix transports read up to this at once
            send_at_once(transport)
            inbox = PausingInbox(transport)
            send = partial(self.handle_reply, protocol)
            scope.setdefault("asgi", {"version": "3.0"})
            scope.setdefault("extensions", {}).update({INBOX_EXTENSION: inbox, SENDER_EXTENSION: send,
                                                       SEND_NOW_EXTENSION: partial(self.reply_now, protocol)})
            instance = self.application(scope=scope, receive=inbox.get, send=send)
            if protocol not in self.connections:
                return None
            self.connections[protocol]["application_instance"] = asyncio.ensure_future(instance)
            return inbox

        def reply_now(self, protocol: Any, message: dict[str, Any]) -> None:
            """Daphne's handle_reply (RELIES_ON) as a plain function: that coroutine never waits."""
            if protocol not in self.connections or self.connections[protocol].get("disconnected", None):
                return
            self.check_headers_type(message)  # only acts on an HTTP response's start, which a socket never sends
            protocol.handle_reply(message)

        def protocol_disconnected(self, protocol: Any) -> None:
            super().protocol_disconnected(protocol)
            let_go_of_the_upgrade_request(protocol)

    return HelplineServer


def let_go_of_the_upgrade_request(request: Any) -> None:
    """Once Daphne has handed a connection to its websocket, let go of the HTTP request that asked for it.

    Daphne's WebRequest.process moves the transport to the websocket protocol, sets the request's `transport`
    to None and calls protocol_disconnected with the request (RELIES_ON). Twisted's HTTP channel of that
    connection stays registered as the transport's producer, and keeps the request, with both its header sets
    and body buffer, in its list: 3.8 KiB a socket (tracemalloc), as long as the socket lives, for nothing.
    The calls the transport makes of its producer (pauseProducing and resumeProducing as its write buffer
    fills and drains, stopProducing when the connection is lost) do nothing on that channel while a request is
    being handled, which the upgraded one is for good; autobahn unregisters the producer itself when it drops
    a connection. A request that finished or lost its connection keeps its
    transport, and is left to Twisted."""
    channel: Any = getattr(request, "channel", None)
    if channel is None or getattr(request, "transport", True) is not None:
        return
    transport = getattr(channel, "transport", None)
    if transport is not None and getattr(transport, "producer", None) is channel:
        transport.unregisterProducer()
    if request in channel.requests:
        channel.requests.remove(request)


# --- Channels: dispatch without a thread hop per message --------------------------------------------------


class DispatchWithoutConnectionCleanup:
    """Channels' `AsyncConsumer.dispatch` without its `aclose_old_connections()` before every handler.

    That call is a thread hop per frame and per relayed message (a tenth of the server's time under load,
    docs/performance.md). Every database call of the chat consumers goes through `helpline.database.on_database`,
    which checks its connection around the call itself, so skipping it leaves nothing stale.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        name = HANDLER_NAMES.get(message.get("type"))  # type: ignore[arg-type]
        if name is None:
            name = get_handler_name(message)  # checks the type; then remembered (a handful of types)
            HANDLER_NAMES[message["type"]] = name
        handler = getattr(self, name, None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


HANDLER_NAMES: dict[str, str] = {}  # message type -> handler name, as get_handler_name answers


# --- Channels: one inbox per socket ---------------------------------------------------------------------------


class OneInboxConsumer:
    """Channels' `AsyncConsumer.__call__`, with the socket's channel-layer messages put into its inbox.

    Channels waits on two things per socket, the websocket and the layer, with `asyncio.wait` over two tasks,
    and starts a new task for every message taken (`await_many_dispatch`): per relayed message that was more
    than the relay itself. Where our server gives the socket an inbox (`socket_inbox`, the queue `receive`
    reads from), the layer's messages for the socket go into that inbox instead, and one loop reads both, in
    the order they arrived: the embedded layer puts them there itself (`EmbeddedChannelLayer.deliver_into`),
    any other layer through one task per socket that takes them from the layer as they come. Websocket
    messages go straight to the server (`socket_sender`). Elsewhere (another server) it is Channels' own.
    """

    channel_layer_alias: str

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        inbox = socket_inbox(scope)
        layer = get_channel_layer(self.channel_layer_alias)
        if inbox is None or layer is None:
            await super().__call__(scope, receive, send)  # type: ignore[misc]
            return
        # From here to the loop as AsyncConsumer.__call__ (RELIES_ON), but for the two awaited sources.
        self.scope = scope
        self.channel_layer = layer
        self.channel_name = await layer.new_channel()
        self.channel_receive = partial(layer.receive, self.channel_name)
        self.base_send = socket_sender(scope) or send
        stop_forwarding = forward_into(layer, self.channel_name, inbox)
        try:
            while True:
                message = await receive()
                if message["type"] == LAYER_FAILED:
                    raise message["error"]  # as Channels' loop raises what the layer's receive raised
                await self.dispatch(message)  # type: ignore[attr-defined]
        except StopConsumer:
            pass
        finally:
            stop_forwarding()
            if isinstance(inbox, PausingInbox):
                # What the socket registered to handle at once holds the socket, which holds the inbox: let go,
                # so that a closed socket is freed when Daphne drops it, not by a full collection, which
                # helpline.serve makes rare (docs/decisions/0008).
                inbox.at_once = None


# Put into a socket's inbox when its layer's receive failed (Redis went away): the consumer's loop raises it.
LAYER_FAILED: Final = "helpline.layer_failed"


def forward_into(layer: Any, channel: str, inbox: Inbox) -> Callable[[], None]:
    """Have the layer's messages for `channel` put into `inbox`; returns what stops it."""
    deliver_into = getattr(layer, "deliver_into", None)  # SocketInboxes'
    if deliver_into is not None:
        deliver_into(channel, inbox)
        if getattr(layer, "delivers_every_message", False):  # the embedded layer: there is no other way in
            return partial(layer.stop_delivering, channel)

    async def forward() -> None:
        try:
            while True:
                inbox.put_nowait(await layer.receive(channel))
        except Exception as error:
            inbox.put_nowait({"type": LAYER_FAILED, "error": error})

    task = asyncio.ensure_future(forward())

    def stop() -> None:
        task.cancel()
        if deliver_into is not None:
            layer.stop_delivering(channel)

    return stop


# --- Channels: the embedded in-memory layer -----------------------------------------------------------------

CLEAN_EVERY_SECONDS: Final = 1.0


class SocketInboxes:
    """A layer's register of the inboxes of this process's open sockets (OneInboxConsumer registers each):
    a message for one of them can go straight in (`put_into_inbox`)."""

    inboxes: dict[str, Inbox]  # channel -> the inbox of the socket that reads it, while the socket is open
    # True: every message for a registered socket goes into its inbox (one process); False: only those sent
    # from this process, and the socket also reads the layer for what comes from elsewhere.
    delivers_every_message = False

    def deliver_into(self, channel: str, inbox: Inbox) -> None:
        """From now on put messages for `channel` into `inbox` (the socket's own queue)."""
        self.inboxes[channel] = inbox

    def stop_delivering(self, channel: str) -> None:
        self.inboxes.pop(channel, None)

    def inbox_capacity(self, channel: str) -> int:
        """How many items a socket's inbox may hold before a send to it from this process is refused."""
        return LOCAL_CAPACITY

    def inbox_with_room(self, channel: str) -> Inbox | None:
        """The inbox of `channel`'s socket when that socket is in this process and its inbox has room: where
        `send` would put a message at once; None where `send` would go elsewhere, or refuse it (ChannelFull)."""
        inbox = self.inboxes.get(channel)
        if inbox is None or inbox.qsize() >= self.inbox_capacity(channel):
            return None
        return inbox


class EmbeddedChannelLayer(SocketInboxes, InMemoryChannelLayer):  # type: ignore[misc]  # channels has no stubs
    """Channels' in-memory layer with its expiry sweep made cheap (the embedded default's layer).

    `InMemoryChannelLayer` walks every channel with queued messages and every member of every group on *each*
    receive and group send (`_clean_expired`). A chat socket receives once per relayed message, and every
    open socket of a busy process waits on a receive, so the work per message grew with the number of
    sockets: at a few hundred chats that walk was most of the server's CPU (docs/performance.md). Expiry is a
    coarse limit (messages live `expiry` seconds, 30 here); checking it once a second keeps it as useful.
    """

    delivers_every_message = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.cleaned_at = 0.0
        self.inboxes = {}

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """As Channels' `send` (RELIES_ON), straight into the socket's inbox where it has one.

        The capacity counts the socket's waiting frames too; a message never expires there, since the socket
        reads it or closes. The message is copied one level deep, not deeply: the layer's copy keeps a sender
        that changes a message after sending it from changing what the receiver gets, and no socket changes
        an event (a queue listing sent to every console is one list, read by all).
        """
        inbox = self.inboxes.get(channel)
        if inbox is None:
            await super().send(channel, message)
            return
        put_into_inbox(inbox, channel, message, self.inbox_capacity(channel))

    def inbox_capacity(self, channel: str) -> int:
        return int(self.get_capacity(channel))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """As Channels' `group_send` (RELIES_ON), without a task per member: sending to an inbox never waits."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, {})):
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)


    def _clean_expired(self) -> None:
        moment = time.monotonic()
        if moment - self.cleaned_at < CLEAN_EVERY_SECONDS:
            return
        self.cleaned_at = moment
        super()._clean_expired()


# --- Django: one connection kept longer than CONN_MAX_AGE says ---------------------------------------------


def keep_connection(connection: Any, seconds: int) -> None:
    """Have this one connection kept `seconds` (its own CONN_MAX_AGE); the others keep the settings' value.

    A pooled connection (the `pool` option) is left alone: Django refuses a pool with persistent connections.
    Each connection object keeps the settings dict it was made with, and reads CONN_MAX_AGE from it when it
    connects (RELIES_ON), so a copy with another value changes this connection alone.
    """
    if "pool" not in connection.settings_dict.get("OPTIONS", {}):
        connection.settings_dict = {**connection.settings_dict, "CONN_MAX_AGE": seconds}


# --- channels-redis: a message between two sockets of one process stays in the process -------------------

# What a socket's inbox may hold before a local send is refused (ChannelFull), as the embedded layer's capacity.
LOCAL_CAPACITY: Final = 200


def put_into_inbox(inbox: Inbox, channel: str, message: dict[str, Any], capacity: int) -> None:
    """A layer's send into a socket's own inbox: refused past `capacity` (the socket's waiting frames count),
    and copied one level deep (EmbeddedChannelLayer.send says why)."""
    assert isinstance(message, dict), "message is not a dict"
    if inbox.qsize() >= capacity:
        raise ChannelFull(channel)
    inbox.put_nowait(dict(message))


class LocalFirstPubSubLayer(SocketInboxes, RedisPubSubChannelLayer):  # type: ignore[misc]  # no type stubs
    """channels-redis's Pub/Sub layer (the scaled mode's), with messages for this process's sockets kept here,
    and what goes to Redis published in batches.

    Every message went through Redis, even between two sockets of the same process: a publish, the process's
    subscription reader, msgpack both ways and a forwarding task per socket, about twice the CPU per relayed
    frame of the embedded default (docs/performance.md, scaled mode). A socket's channel whose inbox is
    registered here (`deliver_into`, while its consumer runs) gets what is sent to it from this process
    straight into its inbox, as the embedded layer does; Redis carries what crosses processes, and groups,
    through each shard's `PublishBatches`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inboxes = {}
        # One per shard of each event loop's layer; forgotten with the loop's layer.
        self.batches: weakref.WeakKeyDictionary[Any, PublishBatches] = weakref.WeakKeyDictionary()

    def deliver_into(self, channel: str, inbox: Inbox) -> None:
        """As SocketInboxes', with the asyncio.Queue the loop layer made for the channel (RELIES_ON) swapped for a
        `OneReaderQueue`, whatever it held moved over: its socket's forwarding task is its only reader."""
        super().deliver_into(channel, inbox)
        channels = self._get_layer().channels
        queue = channels.get(channel)
        if isinstance(queue, asyncio.Queue):
            light = OneReaderQueue()
            while not queue.empty():
                light.put_nowait(queue.get_nowait())
            channels[channel] = light

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        inbox = self.inboxes.get(channel)
        if inbox is None:
            await self.publish(channel, message)
            return
        put_into_inbox(inbox, channel, message, self.inbox_capacity(channel))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        layer = self._get_layer()
        await self.publish(layer._get_group_channel_name(group), message)

    async def publish(self, name: str, message: dict[str, Any]) -> None:
        """What the loop layer's `send` and `group_send` do (RELIES_ON), through the shard's batches."""
        shard = self._get_layer()._get_shard(name)
        batches = self.batches.get(shard)
        if batches is None:
            batches = self.batches[shard] = PublishBatches(shard)
        await batches.publish(name, self.serialize(message))


class PublishBatches:
    """One Redis shard's publishes, sent together: what was published while a batch was on its way goes as
    the next batch, in one pipeline (one write to Redis, one read of its answers).

    channels-redis publishes one message at a time under the shard's lock (RELIES_ON), each waiting for Redis's
    answer before the next may start: every socket of a busy process that relayed a frame to another process
    queued on that lock for a round trip each, which held the scaled mode's relays back while its processes
    still had CPU to spare (docs/performance.md, scaled mode, sixth pass). A quiet process sends batches of
    one; a busy one sends as many as arrived during the last round trip. Each sender still waits until its
    message is with Redis, and hears Redis's error if the batch failed; the batches go in order, one at a
    time under the shard's lock, so the order of one socket's messages is kept.
    """

    def __init__(self, shard: Any) -> None:
        self.shard = shard
        self.waiting: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self.sending: asyncio.Task[None] | None = None
        self.batches_sent = 0

    async def publish(self, channel: str, payload: bytes) -> None:
        answered = asyncio.get_running_loop().create_future()
        self.waiting.append((channel, payload, answered))
        if self.sending is None or self.sending.done():
            self.sending = asyncio.ensure_future(self.send_waiting())
        await answered

    async def send_waiting(self) -> None:
        while self.waiting:
            batch, self.waiting = self.waiting, []
            try:
                await self.send(batch)
            except asyncio.CancelledError:
                # Every sender still waiting hears the cancel; their messages must not go out later with the
                # next batch, when each may have been sent again another way.
                abandoned, self.waiting = batch + self.waiting, []
                for *_, answered in abandoned:
                    answered.cancel()
                raise
            except Exception as error:
                for *_, answered in batch:
                    if not answered.done():
                        answered.set_exception(error)
            else:
                for *_, answered in batch:
                    if not answered.done():
                        answered.set_result(None)

    async def send(self, batch: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        """As RedisSingleShardConnection.publish does for one message (RELIES_ON), for a batch."""
        async with self.shard._lock:
            self.shard._ensure_redis()
            if len(batch) == 1:
                await self.shard._redis.publish(batch[0][0], batch[0][1])
            else:
                async with self.shard._redis.pipeline(transaction=False) as pipeline:
                    for channel, payload, _ in batch:
                        pipeline.publish(channel, payload)
                    await pipeline.execute()
        self.batches_sent += 1


# --- asgiref: the thread-sensitive thread ----------------------------------------------------------------------


def database_thread() -> Any:
    """The executor whose one thread runs asgiref's thread-sensitive code outside a request (SyncToAsync.__call__,
    RELIES_ON): Channels' `database_sync_to_async` and the sockets' database work share it, so SQLite sees
    one writing thread for all of them. helpline.database submits to it directly."""
    from asgiref.sync import SyncToAsync

    return SyncToAsync.single_thread_executor


# --- Django: requests on kept threads -------------------------------------------------------------------------


class RequestThreads:
    """Single-thread executors kept for requests: one per request at a time, made when none is free.

    Django gives each request a thread-sensitive context of its own (asgiref's ThreadSensitiveContext), and
    with it a new thread that the event loop starts, and waits for, and shuts down again when the request
    ends; on a busy server that start and stop waited for the interpreter each time. asgiref lets the caller
    own the executor instead ("it is not shut down on exit, so the executor can be used again"). At most
    `kept` of them are kept; more requests at once get one of their own, shut down when they end.
    """

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.idle: list[Any] = []
        self.made = 0

    def take(self) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        if self.idle:
            return self.idle.pop()
        self.made += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: Any) -> None:
        if len(self.idle) < self.kept:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


REQUEST_THREADS_KEPT: Final = 8


def kept_threads_asgi_handler() -> Any:
    """Django's ASGI handler, each request's sync code on a kept thread (RequestThreads), not a new one."""
    from asgiref.sync import ThreadSensitiveContext
    from django.core.handlers.asgi import ASGIHandler

    class KeptThreadsASGIHandler(ASGIHandler):
        threads = RequestThreads(REQUEST_THREADS_KEPT)

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            # ASGIHandler.__call__ (RELIES_ON) with an executor of our own for the request's context.
            if scope["type"] != "http":
                raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
            executor = self.threads.take()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self.handle(scope, receive, send)
            finally:
                self.threads.give_back(executor)

    return KeptThreadsASGIHandler()
