"""Property-based fuzzing of both chat sockets through the real ASGI application (protocol.md §7-§8).

Hypothesis throws random JSON, valid frames of every type mutated field by field, non-JSON text, binary
frames and oversized frames at a fresh visitor socket and at a fresh counsellor socket of a staff member
who is not party to any chat. For every input:

* every frame the socket gets back is a valid server frame (chat/schema.py), so any `error` carries a §8
  code; an input the schema refuses gets `bad_frame`; a frame naming someone else's chat gets
  `unknown_chat`;
* the application is still running afterwards and ends without an exception when the socket closes;
* a bystander chat (a visitor and a counsellor in an active, accepted chat) is unchanged: every chat row
  that existed before is identical, and a message each way between the bystanders still relays, with
  nothing from the fuzzed socket arriving before it.

A last property sends only wrong frames and checks the 1008 close of §8.

Every input goes to a fresh socket, so the rate limit and the strike count (5 wrong frames a minute) never
mix one example's answer with another's. The end of the answer to an input is found with a fence: a wrong
frame with a field name the generators never make, whose `bad_frame` message names that field.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Chat
from chat.protocol.crypto import b64e, sign_handshake
from chat.schema import (
    COUNSELLOR_TO_SERVER,
    ERROR_CODES,
    MAX_FRAME_BYTES,
    MAX_SAFE_INTEGER,
    SERVER_TO_COUNSELLOR,
    SERVER_TO_VISITOR,
    VISITOR_TO_SERVER,
    Frame,
    validate_frame,
)
from helpline.accounts.roles import COUNSELLOR

from .conftest import (
    ORIGIN,
    Counsellor,
    Socket,
    Visitor,
    application,
    certified_device,
    join_frame,
    make_staff,
    new_key,
    resume_frame,
    staff_cookie,
)

pytestmark = pytest.mark.django_db(transaction=True)

CT = b64e(bytes(272))
FENCE_PREFIX = "fence-"
# Sane for CI: an example (a socket, its answer, the bystander checks) takes about 40 ms on a 2-core machine.
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
fence_numbers = itertools.count()

# --- what the generators draw from ----------------------------------------------------------------------------

# JSON scalars at and past the schema's limits; NaN and the infinities are not JSON and must be refused too.
EDGE_SCALARS = [None, True, False, 0, -1, 1, MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, 2**63, -(2**63), 2**64,
                0.5, -0.0, 1e308, math.inf, -math.inf, math.nan, "", "queue", "0", "1", "999999999999",
                "9" * 13, "\u0000", "\ud800", "\U0001f600" * 50, "é", "A" * 22, "=" * 4]
HUGE_STRING = "x" * (MAX_FRAME_BYTES + 10)
field_names = st.text(max_size=12).filter(lambda name: name != "type" and not name.startswith(FENCE_PREFIX))

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
                | st.sampled_from(EDGE_SCALARS))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)

# Texts that are not one acceptable JSON object, each reaching a different refusal in chat.schema.
RAW_TEXTS = [
    "", " ", "{", "}", "null", "[]", '"type"', "{not json", '{"type": "msg"', "\ufeff{}",
    '{"type": NaN}', '{"type": Infinity}', '{"type": "leave", "chat": 1e999999}',
    '{"type": "leave", "chat": ' + "1" * 5000 + "}",  # past Python's integer-digits limit
    '{"type": "typing", "chat": ' + "[" * 20000 + "]" * 20000 + "}",  # past the parser's recursion limit
    "\ud800", '{"type": "leave", "chat": "\udc00"}', "{}" * 3, '{"type": "typing"} trailing',
]


def duplicate_key(frame: dict[str, Any], name: str, value: Any) -> str:
    """A frame whose `name` appears twice (two readers could take different values)."""
    text = json.dumps(frame)
    return text[:-1] + f", {json.dumps(name)}: {json.dumps(value)}" + "}"


def padded(frame: dict[str, Any], size: int) -> str:
    return json.dumps(frame)[:-1] + ', "pad": "' + "x" * size + '"}'


@dataclass
class Context:
    """The chat ids a fuzzed frame may name, and the counsellor device that can sign a real accept."""

    bystander_chat: str
    other_chats: list[str]
    # The fuzzed counsellor's device (key, id): an accept it signs is valid in every field but the chat.
    device: tuple[Any, str] | None = None

    def chat_ids(self) -> st.SearchStrategy[str]:
        return st.sampled_from([self.bystander_chat, *self.other_chats]) | st.binary(min_size=16, max_size=16).map(b64e)


def valid_frames(context: Context, chat: str) -> dict[str, dict[str, Any]]:
    """One valid frame of every inbound type of both sockets, naming `chat`."""
    frames: dict[str, dict[str, Any]] = {
        "join": join_frame("en"),
        "join+pow": join_frame("nl", pow={"challenge": b64e(bytes(32)), "nonce": b64e(bytes(8))}),
        "resume": resume_frame(b64e(bytes(32))),
        "msg": {"type": "msg", "chat": chat, "epoch": 0, "seq": 0, "ct": CT},
        "typing": {"type": "typing", "chat": chat, "on": True},
        "leave": {"type": "leave", "chat": chat},
        "available": {"type": "available", "on": True},
        "transfer": {"type": "transfer", "chat": chat, "to": "queue"},
        "end": {"type": "end", "chat": chat, "wrapup": {"contact": "self", "action": ["crisis_info"]}},
    }
    if context.device is not None:
        key, device = context.device
        vk, ck = new_key(), new_key()
        frames["accept"] = {"type": "accept", "chat": chat, "epoch": 0, "ck": ck,
                            "sig": sign_handshake(key, chat, 0, vk, ck), "device": device}
    else:
        frames["accept"] = {"type": "accept", "chat": chat, "epoch": 0, "ck": new_key(), "sig": b64e(bytes(64)),
                            "device": b64e(bytes(16))}
    return frames


def field_value(context: Context) -> st.SearchStrategy[Any]:
    """Anything a field could be set to: wrong types, nested values, limits, unicode, other chats' ids."""
    return (json_values | context.chat_ids() | st.just(HUGE_STRING) | st.text(min_size=1000, max_size=3000)
            | st.binary(max_size=40).map(b64e) | st.sampled_from([new_key(), CT, b64e(bytes(64))]))


@st.composite
def mutated_frame(draw: st.DrawFn, context: Context) -> str:
    """A valid frame of any type (either direction), then changed field by field, as a text frame."""
    chat = draw(context.chat_ids())
    frame = dict(draw(st.sampled_from(sorted(valid_frames(context, chat).items())))[1])
    for _ in range(draw(st.integers(0, 3))):
        names = sorted(frame)
        if not names:
            break
        how = draw(st.sampled_from(["replace", "delete", "add", "duplicate", "other chat"]))
        name = draw(st.sampled_from(names))
        if how == "replace":
            frame[name] = draw(field_value(context))
        elif how == "delete":
            frame.pop(name)
        elif how == "add":
            frame[draw(field_names)] = draw(field_value(context))
        elif how == "other chat":
            frame["chat"] = draw(context.chat_ids())
        else:
            return duplicate_key(frame, name, draw(field_value(context)))
    if draw(st.booleans()) and draw(st.booleans()):
        return padded(frame, MAX_FRAME_BYTES)  # the same frame, past 64 KiB
    return json.dumps(frame)


class Input:
    """One frame to send: text or binary. Not a dataclass, so that Hypothesis prints it with our short repr."""

    def __init__(self, text: str | None = None, data: bytes | None = None) -> None:
        self.text, self.data = text, data

    def __repr__(self) -> str:  # falsifying examples can be 64 KiB long; show their start and their length
        shown = self.text if self.text is not None else self.data
        return f"Input({shown[:300]!r}{'...' if shown and len(shown) > 300 else ''}, {len(shown or '')} long)"


def inputs(context: Context) -> st.SearchStrategy[Input]:
    texts = (json_values.map(json.dumps)  # random JSON values, objects or not
             | mutated_frame(context)
             | st.sampled_from(RAW_TEXTS)
             | st.text(max_size=200)  # non-JSON text, mostly
             | st.just(HUGE_STRING))
    return texts.map(lambda text: Input(text=text)) | st.binary(max_size=300).map(lambda data: Input(data=data))


def schema_refuses(direction: str, item: Input) -> bool:
    """The schema's own verdict: binary frames and texts it does not accept are `bad_frame` (§7, §8)."""
    if item.text is None:
        return True
    return not isinstance(validate_frame(direction, item.text), Frame)


# --- sockets and the bystander chat ---------------------------------------------------------------------------


@dataclass
class Bystanders:
    visitor: Visitor
    counsellor: Counsellor
    seq: int = 0

    @property
    def chat(self) -> str:
        return self.visitor.chat

    async def still_talk(self) -> None:
        """A message each way relays unchanged, and nothing else reached either of them first."""
        self.seq += 1
        sent = await self.visitor.send({"type": "msg", "chat": self.chat, "epoch": 0, "seq": self.seq, "ct": CT})
        assert await self.counsellor.expect_text(sent)
        sent = await self.counsellor.send({"type": "msg", "chat": self.chat, "epoch": 0, "seq": self.seq, "ct": CT})
        assert await self.visitor.expect_text(sent)


def chat_rows() -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in Chat.objects.values()}


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> None:
    """The bystanders send a message each way per example, faster than 10 a second for longer than the
    burst of 30: with the real limit they would be refused `rate_limited`. The limit has its own tests
    (test_chat_frames.py); here every fuzzed socket is fresh, so it would never come into play anyway.
    Autouse, so it is set before the bystanders' sockets read it."""
    settings.CHAT_FRAMES_PER_SECOND = 10_000
    settings.CHAT_FRAME_BURST = 10_000


@pytest.fixture
async def bystanders(open_visitor: Any, open_counsellor: Any) -> Bystanders:
    """An active, accepted chat between a visitor and a counsellor who then stops taking new chats."""
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor("bystander-counsellor")
    await counsellor.take(visitor)
    await counsellor.send({"type": "available", "on": False})
    await visitor.drain()
    await counsellor.drain()
    pair = Bystanders(visitor, counsellor)
    await pair.still_talk()  # the relay works before any fuzzing, so a later failure means something
    return pair


@pytest.fixture
async def waiting_chat(open_visitor: Any) -> str:
    """A second chat, queued: another id a fuzzed frame may name (nobody takes it, nobody is available)."""
    visitor = await open_visitor()
    await visitor.join()
    return visitor.chat


async def open_fuzzed(path: str, direction: str, headers: list[tuple[bytes, bytes]]) -> Socket:
    communicator = WebsocketCommunicator(application(), path, headers=[ORIGIN, *headers])
    connected, code = await communicator.connect()
    assert connected, code
    return Socket(communicator=communicator, direction=direction)


@dataclass
class FuzzCounsellor:
    """A counsellor of another staff member: not party to any chat; one fresh socket per example."""

    user: Any
    device: tuple[Any, str]
    cookie: bytes

    async def open(self) -> Socket:
        socket = await open_fuzzed("/ws/counsellor/", SERVER_TO_COUNSELLOR, [(b"cookie", self.cookie)])
        assert (await socket.receive())["type"] == "queue"
        return socket


@pytest.fixture
async def fuzz_counsellor(org_key: Any) -> FuzzCounsellor:
    user = await sync_to_async(make_staff)("fuzzed-counsellor", COUNSELLOR)
    device = await sync_to_async(certified_device)(user, org_key)
    return FuzzCounsellor(user, device, await sync_to_async(staff_cookie)(user))


async def send(socket: Socket, item: Input) -> None:
    # The ASGI message a server sends for one frame; not send_to(), which refuses empty frames (a peer can send them).
    if item.text is not None:
        await socket.communicator.send_input({"type": "websocket.receive", "text": item.text})
    else:
        await socket.communicator.send_input({"type": "websocket.receive", "bytes": item.data})


async def answer_to(socket: Socket, fence_type: str, fence_chat: str) -> list[dict[str, Any]]:
    """Every frame the socket got for the input just sent, up to the fence's own `bad_frame`.

    A socket handles its frames one at a time, so the fence's answer comes after the input's. Each frame
    is checked against the server schema on the way in (Socket.receive); a crashed application re-raises
    its exception here (asgiref), failing the example with the traceback.
    """
    name = f"{FENCE_PREFIX}{next(fence_numbers)}"
    await socket.send({"type": fence_type, "chat": fence_chat, "on": True, name: 1})
    frames = []
    while True:
        frame = await socket.receive()
        if frame["type"] == "error" and name in frame["message"]:
            assert frame["code"] == "bad_frame"
            return frames
        frames.append(frame)


async def close_cleanly(socket: Socket) -> None:
    """The application survived the input, and ends without an exception when the socket goes."""
    future = socket.communicator.future
    assert not future.done(), "the application stopped on its own after the input"
    await socket.communicator.disconnect()  # re-raises an exception the application ended with
    assert future.done()
    assert future.cancelled() or future.exception() is None


def check_answer(direction: str, item: Input, frames: list[dict[str, Any]], bystander_chat: str) -> None:
    errors = [frame for frame in frames if frame["type"] == "error"]
    for error in errors:
        assert error["code"] in ERROR_CODES, error  # also checked by the schema; stated here for the reader
    if schema_refuses(direction, item):
        assert [error["code"] for error in errors] == ["bad_frame"], frames
        # A refused frame changes nothing, so it gets nothing but its error (a counsellor may also be sent
        # the waiting list, which is broadcast to every counsellor socket whenever the queue changes).
        assert all(frame["type"] in ("error", "queue") for frame in frames), frames
        return
    assert item.text is not None
    fields = json.loads(item.text)
    if fields.get("chat") == bystander_chat and fields["type"] not in ("join", "resume", "available"):
        assert [error["code"] for error in errors] == ["unknown_chat"], frames
    if direction == VISITOR_TO_SERVER:
        # A socket with no chat answers every frame it accepts: queued, or an error.
        assert [frame["type"] for frame in frames] in (["queued"], ["error"]), frames


# --- the properties -------------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_fuzzed_visitor_frames_get_an_error_and_touch_no_other_chat(
        data: st.DataObject, bystanders: Bystanders, waiting_chat: str) -> None:
    context = Context(bystanders.chat, [waiting_chat])
    item = data.draw(inputs(context), label="input")  # before the socket opens (see the counsellor test)
    before = await sync_to_async(chat_rows)()
    socket = await open_fuzzed("/ws/visitor/", SERVER_TO_VISITOR, [])
    await send(socket, item)
    frames = await answer_to(socket, "typing", bystanders.chat)
    check_answer(VISITOR_TO_SERVER, item, frames, bystanders.chat)
    await close_cleanly(socket)
    after = await sync_to_async(chat_rows)()
    # Chats that existed before are untouched; a chat this socket made itself (a valid join) is its own.
    assert {chat: after.get(chat) for chat in before} == before
    await bystanders.still_talk()


@FUZZ
@given(data=st.data())
async def test_fuzzed_counsellor_frames_get_an_error_and_touch_no_other_chat(
        data: st.DataObject, bystanders: Bystanders, fuzz_counsellor: FuzzCounsellor) -> None:
    context = Context(bystanders.chat, [], device=fuzz_counsellor.device)
    # Drawn before the socket opens: Hypothesis may abandon an example inside a draw, and a socket opened
    # before it would never be closed.
    item = data.draw(inputs(context), label="input")
    before = await sync_to_async(chat_rows)()
    socket = await fuzz_counsellor.open()
    await send(socket, item)
    frames = await answer_to(socket, "typing", bystanders.chat)
    check_answer(COUNSELLOR_TO_SERVER, item, frames, bystanders.chat)
    await close_cleanly(socket)
    # Nobody is queued, so not even a valid `available` may change a chat: every row is as it was.
    assert await sync_to_async(chat_rows)() == before
    await bystanders.still_talk()


@settings(FUZZ, max_examples=40)
@given(data=st.data(), role=st.sampled_from([VISITOR_TO_SERVER, COUNSELLOR_TO_SERVER]))
async def test_a_socket_that_keeps_sending_wrong_frames_is_closed_with_1008(
        data: st.DataObject, role: str, bystanders: Bystanders, fuzz_counsellor: FuzzCounsellor,
        settings: Any) -> None:
    settings.CHAT_MAX_WRONG_FRAMES = 3
    context = Context(bystanders.chat, [])
    wrong = inputs(context).filter(lambda item: schema_refuses(role, item))
    items = data.draw(st.lists(wrong, min_size=3, max_size=3), label="wrong frames")
    before = await sync_to_async(chat_rows)()
    if role == VISITOR_TO_SERVER:
        socket = await open_fuzzed("/ws/visitor/", SERVER_TO_VISITOR, [])
    else:
        socket = await fuzz_counsellor.open()
    for item in items:
        await send(socket, item)
        frame = await socket.receive()
        while frame["type"] == "queue":
            frame = await socket.receive()
        assert (frame["type"], frame["code"]) == ("error", "bad_frame"), frame
    # The third wrong frame within the window closes the socket with 1008 (§8); the application ends cleanly.
    assert await socket.communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 1008}
    await socket.communicator.send_to(text_data=json.dumps({"type": "typing", "chat": bystanders.chat, "on": True}))
    assert await socket.communicator.receive_nothing(timeout=0.1), "a closing socket answers nothing more"
    await socket.communicator.disconnect()
    future = socket.communicator.future
    assert future.done() and (future.cancelled() or future.exception() is None)
    assert await sync_to_async(chat_rows)() == before
    await bystanders.still_talk()


async def test_the_fence_is_not_something_the_generators_make(bystanders: Bystanders) -> None:
    """The fence must be refused with its own message, or answer_to could stop too early or never."""
    socket = await open_fuzzed("/ws/visitor/", SERVER_TO_VISITOR, [])
    assert await answer_to(socket, "typing", bystanders.chat) == []
    await socket.send({"type": "typing", "chat": bystanders.chat, "on": True})
    assert (await socket.receive())["code"] == "unknown_chat"
    await close_cleanly(socket)
