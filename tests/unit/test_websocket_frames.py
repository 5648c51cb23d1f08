"""helpline.upstream.read_and_send_frames_directly: the same bytes in give the same result as Autobahn's own way.

Our Daphne reads a whole masked text frame and sends a message in one step each (docs/performance.md, ninth
pass); everything else goes Autobahn's own way. Here two of Daphne's websocket protocols, one with the fast
paths and one without, are fed the same byte streams, whole and cut at every kind of boundary, and must
deliver the same messages, write the same bytes, count the same traffic and end in the same state: bad
UTF-8, frames over a limit, fragments, control frames and broken encodings included.
"""

from __future__ import annotations

import queue
import random
import struct
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpline import upstream

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
CHAT_FRAME = (b'{"type":"msg","chat":"c0ffee","seq":7,"ct":"' + b"A" * 360 + b'","iv":"abcdefghijklmnop"}')


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0,
          length_bytes: int | None = None, mask: bytes = b"\x37\xfa\x21\x3d") -> bytes:
    """One frame as a client puts it on the wire; `length_bytes` forces a (non-minimal) 2- or 8-byte length."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    if length_bytes is None:
        length_bytes = 0 if length < 126 else 2 if length < 65536 else 8
    mask_bit = 0x80 if masked else 0
    if length_bytes == 0:
        header = bytes((first, mask_bit | length))
    elif length_bytes == 2:
        header = bytes((first, mask_bit | 126)) + struct.pack("!H", length)
    else:
        header = bytes((first, mask_bit | 127)) + struct.pack("!Q", length)
    if not masked:
        return header + payload
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


STREAMS: dict[str, bytes] = {
    "chat frame": frame(TEXT, CHAT_FRAME),
    "three chat frames": frame(TEXT, CHAT_FRAME) * 3,
    "empty text": frame(TEXT, b""),
    "one byte": frame(TEXT, b"x"),
    "125 bytes": frame(TEXT, b"a" * 125),
    "126 bytes": frame(TEXT, b"b" * 126),
    "65535 bytes": frame(TEXT, b"c" * 65535),
    "65536 bytes": frame(TEXT, b"d" * 65536),
    "non-ASCII": frame(TEXT, "hallo, wereld, ünïcödé €😀".encode()),
    "bad UTF-8": frame(TEXT, b"ok\xff"),
    "a surrogate in UTF-8": frame(TEXT, b"\xed\xa0\x80"),
    "overlong UTF-8": frame(TEXT, b"\xc0\xaf"),
    "cut-off UTF-8": frame(TEXT, b"\xe2\x82"),
    "bad UTF-8 after a good frame": frame(TEXT, CHAT_FRAME) + frame(TEXT, b"\xff"),
    "unmasked": frame(TEXT, b"hello", masked=False),
    "binary": frame(BINARY, b"\x00\x01\x02"),
    "reserved bits": frame(TEXT, b"hello", rsv=4),
    "reserved opcode": frame(3, b"hello"),
    "fragments": frame(TEXT, b"hel", fin=False) + frame(CONTINUATION, b"lo", fin=False) + frame(CONTINUATION, b"!"),
    "a ping between fragments": frame(TEXT, b"hel", fin=False) + frame(PING, b"p") + frame(CONTINUATION, b"lo"),
    "continuation outside a message": frame(CONTINUATION, b"lo"),
    "text inside a fragmented message": frame(TEXT, b"hel", fin=False) + frame(TEXT, b"lo"),
    "bad UTF-8 split over fragments": frame(TEXT, b"\xe2", fin=False) + frame(CONTINUATION, b"\x28\xa1"),
    "ping then text": frame(PING, b"are you there") + frame(TEXT, CHAT_FRAME),
    "pong": frame(PONG, b""),
    "close": frame(CLOSE, struct.pack("!H", 1000) + b"bye") + frame(TEXT, b"after the close"),
    "close with one byte": frame(CLOSE, b"\x03"),
    "non-minimal 16-bit length": frame(TEXT, b"short", length_bytes=2),
    "64-bit length": frame(TEXT, b"e" * 200, length_bytes=8),
    "garbage": bytes(random.Random(19).randrange(256) for _ in range(300)),
}

LIMITS = {
    "no limits": {},
    "limits of 300 bytes": {"maxFramePayloadSize": 300, "maxMessagePayloadSize": 300},
    "limit of 400 bytes a message": {"maxMessagePayloadSize": 400},
    "limit of 300 bytes a frame": {"maxFramePayloadSize": 300},
}


def open_protocol(options: dict[str, Any], *, fast: bool) -> Any:
    """Daphne's websocket protocol, open, on Twisted's in-memory test transport, its frames put in a queue."""
    from autobahn.twisted.websocket import WebSocketServerFactory
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet.testing import StringTransport

    upstream.read_and_send_frames_directly()
    factory = WebSocketServerFactory()
    factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0, **options)
    protocol = WebSocketProtocol()
    protocol.factory = factory
    protocol.transport = StringTransport()
    protocol.transport.registerProducer(protocol, True)  # as Autobahn's Twisted adapter does on connecting
    protocol._connectionMade()
    protocol.state = Autobahn.STATE_OPEN  # as succeedHandshake leaves it
    protocol.websocket_version = 13
    protocol.inside_message = False
    protocol.current_frame = None
    protocol.muted = False
    protocol.client_addr = None
    protocol.application_queue = queue.SimpleQueue()
    if not fast:  # Autobahn's own way, for this protocol only
        protocol.processData = types.MethodType(WebSocketProtocol.processData.replaces, protocol)
        protocol.sendMessage = types.MethodType(WebSocketProtocol.sendMessage.replaces, protocol)
        protocol.dataReceived = types.MethodType(WebSocketProtocol.dataReceived.replaces, protocol)
    return protocol


def outcome(protocol: Any) -> dict[str, Any]:
    delivered = []
    while not protocol.application_queue.empty():
        delivered.append(protocol.application_queue.get_nowait())
    return {
        "delivered": delivered,
        "written": protocol.transport.value(),
        "disconnecting": protocol.transport.disconnecting,
        "state": protocol.state,
        "buffered": protocol.data,
        "failed": protocol.failedByMe,
        "close": (protocol.localCloseCode, protocol.localCloseReason),
        "traffic": vars(protocol.trafficStats),
    }


def feed(protocol: Any, stream: bytes, cuts: list[int]) -> dict[str, Any]:
    start = 0
    for cut in [*cuts, len(stream)]:
        if start < cut:
            protocol.dataReceived(stream[start:cut])
        start = cut
    return outcome(protocol)


def cuttings(stream: bytes) -> dict[str, list[int]]:
    """Whole; after the first byte, after the header, and one byte short of the end; and at random places."""
    chance = random.Random(len(stream))
    return {
        "whole": [],
        "header cut": [1, 3, 7],
        "one byte short": [len(stream) - 1],
        "random": sorted(chance.sample(range(1, len(stream)), min(6, len(stream) - 1))) if len(stream) > 1 else [],
    }


@pytest.mark.parametrize("limits", sorted(LIMITS))
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_stream_read_either_way_gives_the_same_result(name: str, limits: str) -> None:
    stream = STREAMS[name]
    for cutting, cuts in cuttings(stream).items():
        fast = feed(open_protocol(LIMITS[limits], fast=True), stream, cuts)
        autobahn = feed(open_protocol(LIMITS[limits], fast=False), stream, cuts)
        assert fast == autobahn, f"{name}, {cutting}, {limits}"


def test_a_whole_chat_frame_is_read_in_one_step() -> None:
    protocol = open_protocol({}, fast=True)

    def autobahns_way(*args: Any) -> None:
        raise AssertionError("a whole text frame went Autobahn's way")

    protocol.onFrameBegin = autobahns_way
    protocol.dataReceived(frame(TEXT, CHAT_FRAME) * 2)
    assert [protocol.application_queue.get_nowait()["text"] for _ in range(2)] == [CHAT_FRAME.decode()] * 2
    assert protocol.data == b""
    # and a frame that is not whole yet goes Autobahn's way, which reads it as it comes
    protocol.onFrameBegin = types.MethodType(type(protocol).onFrameBegin, protocol)
    stream = frame(TEXT, CHAT_FRAME)
    protocol.dataReceived(stream[:100])
    protocol.dataReceived(stream[100:])
    assert protocol.application_queue.get_nowait()["text"] == CHAT_FRAME.decode()


SENT = {
    "chat frame": (CHAT_FRAME, False),
    "empty": (b"", False),
    "125 bytes": (b"a" * 125, False),
    "126 bytes": (b"b" * 126, False),
    "65535 bytes": (b"c" * 65535, False),
    "65536 bytes": (b"d" * 65536, False),
    "binary": (b"\x00\xff", True),
}


@pytest.mark.parametrize("limits", sorted(LIMITS))
@pytest.mark.parametrize("name", sorted(SENT))
def test_a_message_sent_either_way_puts_the_same_bytes_on_the_wire(name: str, limits: str) -> None:
    payload, binary = SENT[name]
    results = []
    for fast in (True, False):
        protocol = open_protocol(LIMITS[limits], fast=fast)
        try:
            protocol.sendMessage(payload, binary)
            error = None
        except Exception as raised:  # over a limit: both must raise the same
            error = type(raised)
        results.append((error, outcome(protocol)))
    assert results[0] == results[1]
    assert results[0][0] is not None or results[0][1]["written"].endswith(payload)


def test_a_message_waits_behind_what_waits_to_be_sent_and_is_refused_once_closed() -> None:
    from autobahn.exception import Disconnected
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn

    for fast in (True, False):
        protocol = open_protocol({}, fast=fast)
        protocol.send_queue.append((b"queued first", True))
        protocol.triggered = True  # its write is under way (Autobahn's _send, on a timer)
        protocol.sendMessage(b"then this")
        assert protocol.send_queue[0] == (b"queued first", True)
        assert len(protocol.send_queue) == 2, fast  # behind it, not past it
        protocol.state = Autobahn.STATE_CLOSED
        with pytest.raises(Disconnected):
            protocol.sendMessage(b"too late")


def test_arguments_of_the_wrong_type_are_refused_as_autobahn_refuses_them() -> None:
    for fast in (True, False):
        protocol = open_protocol({}, fast=fast)
        with pytest.raises(AssertionError):
            protocol.sendMessage(b"x", 1)
        with pytest.raises(AssertionError):
            protocol.sendMessage(b"x", False, doNotCompress=None)
        assert protocol.transport.value() == b"", fast


def test_installing_twice_wraps_once() -> None:
    from daphne.ws_protocol import WebSocketProtocol

    upstream.read_and_send_frames_directly()
    upstream.read_and_send_frames_directly()
    assert getattr(WebSocketProtocol.processData, "reads_whole_text_frames", False)
    assert not getattr(WebSocketProtocol.processData.replaces, "reads_whole_text_frames", False)
    assert not hasattr(WebSocketProtocol.sendMessage.replaces, "replaces")


@settings(max_examples=2000, deadline=None)
@given(data=st.binary(max_size=70_000), mask=st.binary(min_size=4, max_size=4), before=st.binary(max_size=9))
def test_unmasking_gives_what_autobahns_masker_gives(data: bytes, mask: bytes, before: bytes) -> None:
    """`unmasked` XORs as one integer; Autobahn's masker (processData's own) is the independent answer."""
    from autobahn.websocket.xormasker import create_xor_masker  # type: ignore[attr-defined]

    buffer = before + mask + data + b"after"
    start = len(before) + 4
    expected = create_xor_masker(mask, len(data)).process(data) if data else b""
    assert upstream.unmasked(buffer, start, start + len(data)) == expected


def test_a_read_writes_autobahns_debug_line_only_when_debug_logging_is_on(monkeypatch: Any) -> None:
    """reading_without_a_debug_line: straight on while txaio's debug is off, Autobahn's own way when it is on."""
    from autobahn.twisted import websocket as twisted_adapter

    protocol = open_protocol({}, fast=True)
    lines: list[str] = []
    protocol.log = types.SimpleNamespace(debug=lambda line, **arguments: lines.append(line))  # debug on
    protocol.dataReceived(frame(TEXT, b"one"))
    assert len(lines) == 1 and "received" in lines[0]
    made: list[object] = []  # the line's arguments, made or not
    monkeypatch.setattr(twisted_adapter, "hlval", lambda value, **options: made.append(value))
    protocol.log = type(protocol).log  # txaio's, at the level the process runs at: debug off
    protocol.dataReceived(frame(TEXT, b"two"))
    assert len(lines) == 1 and made == []
    assert [protocol.application_queue.get_nowait()["text"] for _ in range(2)] == ["one", "two"]
