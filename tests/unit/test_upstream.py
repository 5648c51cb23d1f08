"""helpline.upstream: what we rely on in Daphne, Channels and asyncio is still what the installed versions do.

Each entry of `RELIES_ON` names upstream code that a piece of helpline.upstream copies, overrides or replaces.
If an upgrade changes that code, the digest test below fails: re-read the upstream change against the piece,
mend the piece if needed, then record the new digest. The behaviour itself is tested against a real Daphne
in tests/live (1008 closes, backpressure) and here where it needs no server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpline import upstream


@pytest.mark.parametrize(("module", "name"), sorted(upstream.RELIES_ON))
def test_the_upstream_code_we_rely_on_is_unchanged(module: str, name: str) -> None:
    digest = upstream.upstream_source_digest(module, name)
    assert digest in upstream.RELIES_ON[(module, name)], (
        f"{module}.{name} changed upstream (sha256 {digest}): re-read it against helpline/upstream.py, then "
        "record the new digest in RELIES_ON")


def test_the_digest_reads_the_original_of_what_we_replaced() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    upstream.allow_policy_close()
    upstream.allow_policy_close()  # twice: still one wrapper
    assert getattr(WebSocketProtocol.serverClose, "allows_policy_close", False)
    assert not getattr(WebSocketProtocol.serverClose.replaces, "allows_policy_close", False)
    assert upstream.upstream_source_digest("daphne.ws_protocol", "WebSocketProtocol.serverClose") in \
        upstream.RELIES_ON[("daphne.ws_protocol", "WebSocketProtocol.serverClose")]


def test_a_policy_close_sends_1008_and_other_codes_go_to_daphne() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    upstream.allow_policy_close()
    sent: list[Any] = []

    class Protocol:
        def sendCloseFrame(self, code: int, isReply: bool) -> None:
            sent.append(("close frame", code))

        def sendClose(self, code: int) -> None:  # what Daphne's own serverClose calls
            sent.append(("daphne", code))

    WebSocketProtocol.serverClose(Protocol(), 1008)
    WebSocketProtocol.serverClose(Protocol(), 4409)
    WebSocketProtocol.serverClose(Protocol())
    assert sent == [("close frame", 1008), ("daphne", 4409), ("daphne", 1000)]


def test_the_inbox_is_found_only_where_a_server_put_it() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    assert upstream.socket_inbox({"type": "websocket", "extensions": {upstream.INBOX_EXTENSION: queue}}) is queue
    assert upstream.socket_inbox({"type": "websocket"}) is None
    assert upstream.socket_inbox({"type": "websocket", "extensions": {upstream.INBOX_EXTENSION: "nope"}}) is None
    assert upstream.unread_seconds(queue) == 0.0
    assert upstream.unread_seconds(None) == 0.0


async def test_dispatch_skips_the_connection_cleanup_and_refuses_unknown_types(monkeypatch: Any) -> None:
    import channels.consumer

    cleaned: list[bool] = []

    async def record_cleanup() -> None:
        cleaned.append(True)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", record_cleanup)
    handled: list[dict[str, Any]] = []

    class Consumer(upstream.DispatchWithoutConnectionCleanup):
        async def chat_thing(self, message: dict[str, Any]) -> None:
            handled.append(message)

    await Consumer().dispatch({"type": "chat.thing"})
    assert handled == [{"type": "chat.thing"}]
    assert cleaned == []
    with pytest.raises(ValueError, match="No handler"):
        await Consumer().dispatch({"type": "chat.other"})


class BufferingTransport:
    """What send_at_once reads of Twisted's TCP transport, over a real socket; `write` records what it buffers."""

    def __init__(self, sock: Any) -> None:
        self.socket = sock
        self.connected = True
        self._writeDisconnected = False
        self.dataBuffer = b""
        self._tempDataBuffer: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._tempDataBuffer.append(data)


def test_a_write_goes_to_the_socket_at_once_when_nothing_waits_and_twisteds_way_otherwise() -> None:
    import socket

    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        transport = BufferingTransport(ours)
        upstream.send_at_once(transport)
        upstream.send_at_once(transport)  # twice: still one wrapper
        transport.write(b"first")
        assert transport._tempDataBuffer == []
        assert theirs.recv(100) == b"first"
        # Something already waits to be written: the next write queues behind it, in order.
        transport.dataBuffer = b"waiting"
        transport.write(b"second")
        assert transport._tempDataBuffer == [b"second"]
        transport.dataBuffer, transport._tempDataBuffer = b"", []
        # The socket takes only part (its buffer is full): the rest is buffered, nothing is lost.
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        big = bytes(range(256)) * 4096
        transport.write(big)
        assert transport._tempDataBuffer, "the socket cannot have taken a MiB at once"
        taken = len(big) - len(transport._tempDataBuffer[0])
        assert big[taken:] == transport._tempDataBuffer[0]
        # A closed connection writes nothing itself; Twisted's write decides (it drops the data).
        transport._tempDataBuffer = []
        transport.connected = False
        transport.write(b"late")
        assert transport._tempDataBuffer == [b"late"]


async def test_the_embedded_layer_puts_a_sockets_messages_into_its_inbox_up_to_the_capacity() -> None:
    from channels.exceptions import ChannelFull

    layer = upstream.EmbeddedChannelLayer(capacity=3)
    channel = await layer.new_channel()
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.receive", "text": "a frame"})
    layer.deliver_into(channel, inbox)
    event = {"type": "chat.relay", "text": "x"}
    await layer.send(channel, event)
    event["text"] = "changed after sending"
    await layer.group_add("queue", channel)
    await layer.group_send("queue", {"type": "queue.changed"})
    with pytest.raises(ChannelFull):  # the frame counts: three things wait
        await layer.send(channel, {"type": "chat.relay", "text": "y"})
    await layer.group_send("queue", {"type": "queue.changed"})  # a full member is skipped, as Channels does
    assert [inbox.get_nowait() for _ in range(inbox.qsize())] == [
        {"type": "websocket.receive", "text": "a frame"}, {"type": "chat.relay", "text": "x"},
        {"type": "queue.changed"}]
    assert layer.channels == {}  # nothing went through the layer's own queues
    layer.stop_delivering(channel)
    await layer.send(channel, {"type": "chat.relay", "text": "z"})
    assert inbox.empty()
    assert await layer.receive(channel) == {"type": "chat.relay", "text": "z"}


async def test_one_loop_reads_frames_and_layer_messages_in_the_order_they_came() -> None:
    from channels.exceptions import StopConsumer
    from channels.generic.websocket import AsyncWebsocketConsumer

    handled: list[str] = []
    sent: list[dict[str, Any]] = []

    class Socket(upstream.OneInboxConsumer, upstream.DispatchWithoutConnectionCleanup, AsyncWebsocketConsumer):
        async def websocket_connect(self, message: dict[str, Any]) -> None:
            handled.append("connect")
            await self.send(text_data="hello")

        async def websocket_receive(self, message: dict[str, Any]) -> None:
            handled.append(message["text"])
            await self.channel_layer.send(self.channel_name, {"type": "chat.echo", "text": message["text"]})

        async def chat_echo(self, event: dict[str, Any]) -> None:
            handled.append("echo " + event["text"])

        async def websocket_disconnect(self, message: dict[str, Any]) -> None:
            # Channels' own closes old database connections first: a unit test has no database.
            raise StopConsumer

    async def never_send(message: dict[str, Any]) -> None:
        raise AssertionError("websocket messages go to the server's own send")

    async def server_send(message: dict[str, Any]) -> None:
        sent.append(message)

    inbox: asyncio.Queue[Any] = asyncio.Queue()
    scope = {"type": "websocket", "extensions": {upstream.INBOX_EXTENSION: inbox,
                                                 upstream.SENDER_EXTENSION: server_send}}
    for message in ({"type": "websocket.connect"}, {"type": "websocket.receive", "text": "one"},
                    {"type": "websocket.receive", "text": "two"}):
        inbox.put_nowait(message)
    consumer = Socket()
    running = asyncio.ensure_future(consumer(scope, inbox.get, never_send))
    while len(handled) < 5:
        await asyncio.sleep(0.01)
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(running, 5)
    assert handled == ["connect", "one", "two", "echo one", "echo two"]
    assert sent == [{"type": "websocket.send", "text": "hello"}]
    assert isinstance(consumer.channel_layer, upstream.EmbeddedChannelLayer)  # the test settings' layer
    assert consumer.channel_name not in consumer.channel_layer.inboxes  # the socket stopped reading its channel


def test_autobahns_log_arguments_are_formatted_only_when_a_line_is_written() -> None:
    from autobahn.util import hltype, hlval
    from autobahn.websocket import protocol

    upstream.defer_autobahn_log_formatting()
    upstream.defer_autobahn_log_formatting()  # twice: still one wrapper
    argument = protocol.hltype(test_autobahns_log_arguments_are_formatted_only_when_a_line_is_written)
    assert isinstance(argument, upstream.Formatted)
    assert f"{argument}" == hltype(test_autobahns_log_arguments_are_formatted_only_when_a_line_is_written)
    assert "{v}".format(v=protocol.hlval(42, color="red")) == hlval(42, color="red")
    from autobahn.twisted import websocket as twisted_adapter  # the per-read log line's arguments too

    assert isinstance(twisted_adapter.hltype(hltype), upstream.Formatted)
    assert isinstance(twisted_adapter.hlval(7), upstream.Formatted)
    assert str(twisted_adapter.hlval(7)) == hlval(7)


class Connection:
    """What the reactor hands a socket's events to: a log prefix, and a call that may fail."""

    def __init__(self, prefix: str = "HTTPChannel,3,127.0.0.1") -> None:
        self.prefix = prefix

    def logPrefix(self) -> str:  # Twisted's name
        return self.prefix


def outcome_of(call_with: Any, function: Any) -> tuple[str, Any, list[str]]:
    """What `call_with(connection, function)` returns or lets through, and the systems of the errors it logs."""
    from twisted.logger import globalLogPublisher

    logged: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("isError") or event.get("log_failure") is not None:
            logged.append(str(event.get("system", event.get("log_system"))))

    globalLogPublisher.addObserver(observe)
    try:
        try:
            result = ("returned", call_with(Connection(), function))
        except BaseException as error:  # what goes through is part of what is compared
            result = ("raised", type(error))
    finally:
        globalLogPublisher.removeObserver(observe)
    return result[0], result[1], logged


def answer() -> int:
    return 42


def fails() -> None:
    raise ValueError("a reader failed")


def exits() -> None:
    raise SystemExit(3)


def interrupted() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("function", [answer, fails, exits, interrupted])
def test_a_socket_event_without_a_log_context_ends_as_twisteds_call_with_logger(function: Any) -> None:
    from twisted.python.log import callWithLogger

    assert outcome_of(upstream.call_without_log_context, function) == outcome_of(callWithLogger, function)
    if function is fails:  # logged, with the connection's prefix, and not raised
        assert outcome_of(upstream.call_without_log_context, function) == \
            ("returned", None, ["HTTPChannel,3,127.0.0.1"])


def test_the_reactor_hands_a_sockets_reads_over_without_a_log_context() -> None:
    import socket

    from twisted.internet import asyncioreactor
    from twisted.python import context, log

    upstream.hand_socket_events_over_directly()
    upstream.hand_socket_events_over_directly()  # twice: the same
    assert asyncioreactor.callWithLogger is upstream.call_without_log_context  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
    reactor = asyncioreactor.AsyncioSelectorReactor(loop)  # not installed: a reactor of this test's own
    ours, theirs = socket.socketpair()
    seen: list[object] = []

    class Reader(Connection):
        def fileno(self) -> int:
            return ours.fileno()

        def doRead(self) -> None:  # Twisted's name
            seen.append(ours.recv(100))
            seen.append(context.get(log.ILogContext)["system"])  # the default: no context was pushed
            loop.stop()

    try:
        reader = Reader()
        reactor.addReader(reader)
        theirs.send(b"frame")
        loop.call_later(5, loop.stop)
        loop.run_forever()
        reactor.removeReader(reader)
    finally:
        ours.close()
        theirs.close()
        loop.close()
    assert seen == [b"frame", "-"]
