"""Every frame type: valid, malformed, oversized, wrong chat, wrong role, replayed resume token.

Each refused frame gets its §8 error code and changes nothing, for its own chat or any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import SessionBase

from chat.models import Chat
from chat.protocol.crypto import b64e, generate_private_key
from helpline.metrics.models import DailyCount

from .conftest import Counsellor, Visitor, join_frame, new_key, resume_frame

pytestmark = pytest.mark.django_db(transaction=True)

CT = b64e(bytes(272))
NOBODYS_CHAT = b64e(b"\x00" * 16)


def snapshot() -> tuple[list[dict[str, Any]], dict[tuple[str, str], int]]:
    chats = sorted(Chat.objects.values(), key=lambda row: row["id"])
    return chats, {(c.metric, c.dimension): c.count for c in DailyCount.objects.all()}


@dataclass
class Pair:
    visitor: Visitor
    counsellor: Counsellor


@pytest.fixture
async def two_chats(open_visitor: Any, open_counsellor: Any) -> tuple[Pair, Pair]:
    """Two active chats, each with its own visitor and counsellor."""
    pairs = []
    for name in ("counsellor-a", "counsellor-b"):
        visitor = await open_visitor()
        await visitor.join()
        counsellor = await open_counsellor(name)
        await counsellor.take(visitor)
        await counsellor.send({"type": "available", "on": False})
        pairs.append(Pair(visitor, counsellor))
    for pair in pairs:
        await pair.visitor.drain()
        await pair.counsellor.drain()
    return pairs[0], pairs[1]


async def refused(socket: Any, frame: dict[str, Any] | str, code: str) -> None:
    """Send a frame that must be refused with `code`, and check that nothing anywhere changed."""
    before = await sync_to_async(snapshot)()
    await socket.send(frame)
    await socket.error(code)
    assert await sync_to_async(snapshot)() == before


# --- visitor frames ---------------------------------------------------------------------------------------


def visitor_frames(chat: str) -> dict[str, dict[str, Any]]:
    return {
        "join": join_frame("en"),
        "resume": resume_frame(b64e(bytes(32))),
        "msg": {"type": "msg", "chat": chat, "epoch": 0, "seq": 0, "ct": CT},
        "typing": {"type": "typing", "chat": chat, "on": True},
        "leave": {"type": "leave", "chat": chat},
        "rent": {"type": "rent", "chat": chat, "pow": {"challenge": b64e(bytes(45)), "nonce": b64e(bytes(8))}},
    }


MALFORMATIONS = {
    "missing field": lambda f: {k: v for k, v in f.items() if k == "type" or k != sorted(set(f) - {"type"})[0]},
    "unknown field": lambda f: {**f, "extra": 1},
    "wrong type": lambda f: {**f, **{k: [v] for k, v in f.items() if k != "type"}},
}


@pytest.mark.parametrize("frame_type", ["join", "resume", "msg", "typing", "leave", "rent"])
@pytest.mark.parametrize("malformation", list(MALFORMATIONS))
async def test_malformed_visitor_frames(two_chats: tuple[Pair, Pair], frame_type: str, malformation: str) -> None:
    visitor = two_chats[0].visitor
    frame = MALFORMATIONS[malformation](visitor_frames(visitor.chat)[frame_type])
    await refused(visitor, frame, "bad_frame")


@pytest.mark.parametrize("frame_type", ["join", "resume", "msg", "typing", "leave", "rent"])
async def test_oversized_visitor_frames(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    visitor = two_chats[0].visitor
    frame = visitor_frames(visitor.chat)[frame_type]
    await refused(visitor, json.dumps(frame)[:-1] + ', "pad": "' + "x" * 65536 + '"}', "bad_frame")


async def test_not_json_and_binary_frames(two_chats: tuple[Pair, Pair]) -> None:
    visitor = two_chats[0].visitor
    await refused(visitor, "{not json", "bad_frame")
    await refused(visitor, "[1, 2]", "bad_frame")
    before = await sync_to_async(snapshot)()
    await visitor.communicator.send_to(bytes_data=b'{"type": "leave"}')
    await visitor.error("bad_frame")
    assert await sync_to_async(snapshot)() == before


@pytest.mark.parametrize("frame_type", ["msg", "typing", "leave", "rent"])
async def test_visitor_frames_for_another_chat_or_no_chat(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    mine, theirs = two_chats
    await refused(mine.visitor, visitor_frames(theirs.visitor.chat)[frame_type], "unknown_chat")
    await refused(mine.visitor, visitor_frames(NOBODYS_CHAT)[frame_type], "unknown_chat")
    await theirs.counsellor.nothing()
    await theirs.visitor.nothing()


@pytest.mark.parametrize("frame_type", ["available", "accept", "transfer", "end"])
async def test_counsellor_frames_on_the_visitor_socket(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    pair = two_chats[0]
    frame = counsellor_frames(pair.counsellor, pair.visitor)[frame_type]
    await refused(pair.visitor, frame, "bad_frame")


async def test_a_second_join_or_resume_on_one_socket(two_chats: tuple[Pair, Pair]) -> None:
    visitor = two_chats[0].visitor
    await refused(visitor, visitor_frames(visitor.chat)["join"], "bad_frame")
    await refused(visitor, resume_frame(visitor.resume), "bad_frame")


async def test_join_with_a_key_not_on_the_curve(open_visitor: Any) -> None:
    visitor = await open_visitor()
    await refused(visitor, {**join_frame("en"), "vk": b64e(b"\x04" + bytes(64))}, "bad_frame")


async def test_resume_with_an_unknown_token(open_visitor: Any) -> None:
    visitor = await open_visitor()
    await refused(visitor, resume_frame(b64e(bytes(32))), "resume_invalid")


async def test_replayed_resume_token(two_chats: tuple[Pair, Pair], open_visitor: Any) -> None:
    pair = two_chats[0]
    first_token = pair.visitor.resume
    await pair.visitor.close()
    again = await open_visitor()
    await again.send(resume_frame(first_token))
    queued = await again.expect("queued")
    assert queued["chat"] == pair.visitor.chat and queued["position"] == 0 and queued["resume"] != first_token
    await pair.counsellor.expect("rekey")
    # The same token a second time, from a third socket: refused, and the resumed chat is untouched.
    third = await open_visitor()
    await refused(third, resume_frame(first_token), "resume_invalid")


async def test_msg_while_queued_is_refused_by_name_and_typing_goes_nowhere(open_visitor: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    await visitor.send(visitor_frames(visitor.chat)["msg"])
    error = await visitor.error("undelivered")
    assert error["chat"] == visitor.chat and error["seq"] == 0
    await visitor.send(visitor_frames(visitor.chat)["typing"])
    await visitor.nothing()


# --- counsellor frames ------------------------------------------------------------------------------------


def counsellor_frames(counsellor: Counsellor, visitor: Visitor) -> dict[str, dict[str, Any]]:
    return {
        "available": {"type": "available", "on": True},
        "accept": counsellor.accept_frame(visitor.chat, 0, visitor.vk),
        "msg": {"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 0, "ct": CT},
        "typing": {"type": "typing", "chat": visitor.chat, "on": True},
        "transfer": {"type": "transfer", "chat": visitor.chat, "to": "queue"},
        "end": {"type": "end", "chat": visitor.chat},
    }


COUNSELLOR_TYPES = ["available", "accept", "msg", "typing", "transfer", "end"]


@pytest.mark.parametrize("frame_type", COUNSELLOR_TYPES)
@pytest.mark.parametrize("malformation", list(MALFORMATIONS))
async def test_malformed_counsellor_frames(two_chats: tuple[Pair, Pair], frame_type: str, malformation: str) -> None:
    pair = two_chats[0]
    frame = MALFORMATIONS[malformation](counsellor_frames(pair.counsellor, pair.visitor)[frame_type])
    await refused(pair.counsellor, frame, "bad_frame")


@pytest.mark.parametrize("frame_type", COUNSELLOR_TYPES)
async def test_oversized_counsellor_frames(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    pair = two_chats[0]
    frame = counsellor_frames(pair.counsellor, pair.visitor)[frame_type]
    await refused(pair.counsellor, json.dumps(frame)[:-1] + ', "pad": "' + "x" * 65536 + '"}', "bad_frame")


@pytest.mark.parametrize("frame_type", ["accept", "msg", "typing", "transfer", "end"])
async def test_counsellor_frames_for_a_colleagues_chat(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    mine, theirs = two_chats
    await refused(mine.counsellor, counsellor_frames(mine.counsellor, theirs.visitor)[frame_type], "unknown_chat")
    await theirs.visitor.nothing()
    await theirs.counsellor.nothing()


@pytest.mark.parametrize("frame_type", ["accept", "msg", "typing", "transfer", "end"])
async def test_counsellor_frames_for_no_chat(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    mine = two_chats[0]
    ghost = Visitor(communicator=mine.visitor.communicator, direction="", vk=new_key(), chat=NOBODYS_CHAT)
    await refused(mine.counsellor, counsellor_frames(mine.counsellor, ghost)[frame_type], "unknown_chat")


@pytest.mark.parametrize("frame_type", ["accept", "msg", "typing", "transfer", "end"])
async def test_another_tab_of_the_same_counsellor_hears_not_yours(two_chats: tuple[Pair, Pair], open_counsellor: Any,
                                                                 frame_type: str) -> None:
    mine = two_chats[0]
    other_tab = await open_counsellor(user=mine.counsellor.user, device=(mine.counsellor.device_key,
                                                                         mine.counsellor.device))
    await refused(other_tab, counsellor_frames(other_tab, mine.visitor)[frame_type], "not_yours")
    await mine.visitor.nothing()


@pytest.mark.parametrize("frame_type", ["join", "resume", "leave", "rent"])
async def test_visitor_frames_on_the_counsellor_socket(two_chats: tuple[Pair, Pair], frame_type: str) -> None:
    pair = two_chats[0]
    await refused(pair.counsellor, visitor_frames(pair.visitor.chat)[frame_type], "bad_frame")


async def test_unknown_wrapup_code_keeps_the_chat_open(two_chats: tuple[Pair, Pair]) -> None:
    pair = two_chats[0]
    await refused(pair.counsellor, {"type": "end", "chat": pair.visitor.chat, "wrapup": {"contact": "martian"}},
                  "bad_frame")


async def test_transfer_to_someone_who_is_not_a_counsellor(two_chats: tuple[Pair, Pair]) -> None:
    pair = two_chats[0]
    await refused(pair.counsellor, {"type": "transfer", "chat": pair.visitor.chat, "to": "999999"}, "bad_frame")


# --- the handshake ----------------------------------------------------------------------------------------


async def offered(open_visitor: Any, counsellor: Counsellor) -> tuple[Visitor, dict[str, Any]]:
    visitor = await open_visitor()
    await visitor.join()
    await counsellor.send({"type": "available", "on": True})
    return visitor, await counsellor.expect("rekey")


async def test_accept_signed_by_another_key_is_bad_signature(open_visitor: Any, open_counsellor: Any) -> None:
    counsellor = await open_counsellor()
    visitor, _rekey = await offered(open_visitor, counsellor)
    forged = counsellor.accept_frame(visitor.chat, 0, visitor.vk, key=generate_private_key())
    await refused(counsellor, forged, "bad_signature")
    await visitor.nothing()
    # The chat is still on offer to this socket, and a good answer still works.
    await counsellor.send(counsellor.accept_frame(visitor.chat, 0, visitor.vk))
    assert (await visitor.expect("connected"))["epoch"] == 0


async def test_accept_for_a_wrong_epoch_or_key(open_visitor: Any, open_counsellor: Any) -> None:
    counsellor = await open_counsellor()
    visitor, _rekey = await offered(open_visitor, counsellor)
    await refused(counsellor, counsellor.accept_frame(visitor.chat, 1, visitor.vk), "unknown_chat")
    await refused(counsellor, counsellor.accept_frame(visitor.chat, 0, new_key()), "bad_signature")


async def test_accept_with_an_uncertified_device(open_visitor: Any, open_counsellor: Any) -> None:
    counsellor = await open_counsellor(certified=False)
    visitor, _rekey = await offered(open_visitor, counsellor)
    await refused(counsellor, counsellor.accept_frame(visitor.chat, 0, visitor.vk), "bad_signature")


async def test_a_devices_certificate_is_verified_once_but_its_revocation_counts_at_the_next_accept(
        open_visitor: Any, open_counsellor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The certificate's signature is checked once a day per device (chat.actions.certificate_verifies), not
    at every accept; the device row is still read each time, so a revoked device is refused at once."""
    from chat import actions
    from chat.models import CounsellorDevice, ServiceSettings

    await sync_to_async(ServiceSettings.objects.create)(per_counsellor_cap=5)
    verified: list[str] = []
    original = actions.verify_certificate

    def counting(cert: Any, *args: Any) -> Any:
        verified.append(cert["device"])
        return original(cert, *args)

    monkeypatch.setattr(actions, "verify_certificate", counting)
    actions.certificate_verifies.cache_clear()
    counsellor = await open_counsellor()
    for _ in range(2):
        visitor, rekey = await offered(open_visitor, counsellor)
        await counsellor.send(counsellor.accept_frame(visitor.chat, rekey["epoch"], visitor.vk))
        assert (await visitor.expect("connected"))["cert"]["device"] == counsellor.device
        await counsellor.send({"type": "available", "on": False})
    assert verified == [counsellor.device]
    await sync_to_async(CounsellorDevice.objects.filter(pk=counsellor.device).update)(
        status=CounsellorDevice.REVOKED)
    visitor, rekey = await offered(open_visitor, counsellor)
    await refused(counsellor, counsellor.accept_frame(visitor.chat, rekey["epoch"], visitor.vk), "bad_signature")


async def test_accept_with_a_colleagues_device(open_visitor: Any, open_counsellor: Any) -> None:
    colleague = await open_counsellor("colleague")
    counsellor = await open_counsellor()
    visitor, _rekey = await offered(open_visitor, counsellor)
    borrowed = colleague.accept_frame(visitor.chat, 0, visitor.vk)
    await refused(counsellor, borrowed, "bad_signature")


# --- connecting -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "verified"), [("counsellor", False), ("programme_manager", True)])
async def test_counsellor_socket_needs_a_verified_counselling_role(role: str, verified: bool) -> None:
    from channels.testing import WebsocketCommunicator

    from .conftest import ORIGIN, application, make_staff, staff_cookie

    user = await sync_to_async(make_staff)(f"user-{role}", role)
    cookie = await sync_to_async(staff_cookie)(user, verified=verified)
    communicator = WebsocketCommunicator(application(), "/ws/counsellor/", headers=[ORIGIN, (b"cookie", cookie)])
    assert await communicator.connect() == (False, 4403)


async def test_counsellor_socket_without_a_session() -> None:
    from channels.testing import WebsocketCommunicator

    from .conftest import ORIGIN, application

    communicator = WebsocketCommunicator(application(), "/ws/counsellor/", headers=[ORIGIN])
    assert await communicator.connect() == (False, 4403)


async def test_sockets_from_another_origin_are_refused() -> None:
    from channels.testing import WebsocketCommunicator

    from .conftest import application

    communicator = WebsocketCommunicator(application(), "/ws/visitor/", headers=[(b"origin", b"http://evil.example")])
    connected, _code = await communicator.connect()
    assert not connected


# --- abuse ------------------------------------------------------------------------------------------------


async def test_repeated_wrong_frames_close_the_socket_with_1008(open_visitor: Any) -> None:
    visitor = await open_visitor()
    for _ in range(5):
        await visitor.send("nope")
        await visitor.error("bad_frame")
    assert (await visitor.communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 1008}


async def test_rate_limit(open_visitor: Any, settings: Any) -> None:
    settings.CHAT_FRAME_BURST = 3
    settings.CHAT_FRAMES_PER_SECOND = 0.01
    visitor = await open_visitor()
    await visitor.join()
    for _ in range(2):
        await visitor.send({"type": "typing", "chat": visitor.chat, "on": True})
    await visitor.nothing()
    await visitor.send(join_frame("en"))  # over the limit: refused unnamed (a typing would just go, below)
    await visitor.error("rate_limited")


async def test_a_visitors_message_over_the_rate_limit_is_refused_by_name(open_visitor: Any, settings: Any) -> None:
    """Named, the visitor's page marks that message unsent and offers to send it again; unnamed, it took the
    refusal for the end of the chat (chat/static/chat/visitor.js)."""
    settings.CHAT_FRAME_BURST = 2
    settings.CHAT_FRAMES_PER_SECOND = 0.01
    visitor = await open_visitor()
    await visitor.join()
    message = {"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 0, "ct": CT}
    await visitor.send(message)
    await visitor.error("undelivered")  # within the limit: nobody to relay it to yet
    await visitor.send({**message, "seq": 1})
    refused = await visitor.error("rate_limited")
    assert (refused.get("chat"), refused.get("seq")) == (visitor.chat, 1), refused


async def test_typing_over_the_rate_limit_just_goes_but_still_counts_against_the_sender(
        open_visitor: Any, settings: Any) -> None:
    """A typing indicator is ephemeral: one over the limit is dropped without an answer, because both pages take an
    unnamed `rate_limited` for the end of the chat (visitor.js) or an error to show (console.js). It is still a
    strike, so a flood of them closes the socket like any other flood."""
    settings.CHAT_FRAME_BURST = 1
    settings.CHAT_FRAMES_PER_SECOND = 0.01
    visitor = await open_visitor()
    await visitor.join()
    typing = {"type": "typing", "chat": visitor.chat, "on": True}
    for _ in range(4):
        await visitor.send(typing)
        await visitor.nothing()
    await visitor.send(typing)  # the fifth over the limit within a minute
    closed = await visitor.communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 1008}, closed


async def test_rate_limited_join_is_counted_as_refused(open_visitor: Any, settings: Any) -> None:
    settings.CHAT_FRAME_BURST = 1
    settings.CHAT_FRAMES_PER_SECOND = 0.01
    visitor = await open_visitor()
    await visitor.send("nope")
    await visitor.error("bad_frame")
    await visitor.send(join_frame("en"))
    await visitor.error("rate_limited")
    cells = await sync_to_async(lambda: snapshot()[1])()
    assert cells == {("chat.refused", "rate_limited"): 1}


async def open_with_a_staff_cookie(monkeypatch: pytest.MonkeyPatch, consumer: type, path: str,
                                   username: str) -> tuple[Any, Any, Any]:
    """Open `path` with a verified counsellor's session cookie; (the consumer instance, the user, communicator)."""
    from channels.testing import WebsocketCommunicator

    from .conftest import ORIGIN, application, make_staff, staff_cookie

    sockets: list[Any] = []
    original = consumer.connect

    async def connect(self: Any) -> None:
        sockets.append(self)
        await original(self)

    monkeypatch.setattr(consumer, "connect", connect)
    user = await sync_to_async(make_staff)(username, "counsellor")
    cookie = await sync_to_async(staff_cookie)(user, verified=True)
    communicator = WebsocketCommunicator(application(), path, headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected and len(sockets) == 1
    return sockets[0], user, communicator


async def closed_and_settled(communicator: Any) -> None:
    """Close the socket and wait for what its leaving starts (a routing pass holds the database's table lock,
    and the test database is flushed once the test ends), as the `opened` fixture does for its sockets."""
    from .conftest import process_work_settled

    await communicator.disconnect()
    await process_work_settled()


async def test_a_visitor_socket_reads_no_cookie_even_a_staff_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the counsellor's gate reads the session cookie: a staff member trying the visitor chat in the same
    browser is an anonymous visitor there, and no session or user is looked up or kept for the socket."""
    from chat.consumers import VisitorConsumer

    socket, _, communicator = await open_with_a_staff_cookie(monkeypatch, VisitorConsumer, "/ws/visitor/",
                                                             "visitor-cookie")
    try:
        assert not {"session", "user", "cookies"} & set(socket.scope)
    finally:
        await closed_and_settled(communicator)


async def test_a_counsellor_socket_keeps_what_its_gate_decided_not_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate reads the session cookie once; the socket keeps the staff member's id, not the session or user."""
    from chat.consumers import CounsellorConsumer

    socket, user, communicator = await open_with_a_staff_cookie(monkeypatch, CounsellorConsumer, "/ws/counsellor/",
                                                                "gate-kept")
    try:
        assert socket.identity.user_id == user.pk
        assert not {"session", "user", "cookies"} & set(socket.scope)
        assert not any(isinstance(value, SessionBase) for value in vars(socket).values())
    finally:
        await closed_and_settled(communicator)


@pytest.mark.parametrize(("role", "verified", "decision", "supervises"), [
    ("counsellor", True, "allowed", False),
    ("supervisor", True, "allowed", True),
    ("supervisor", False, "second_factor", False),
])
def test_the_counsellor_gate_decides_in_one_reading_of_the_second_factor(role: str, verified: bool, decision: str,
                                                                        supervises: bool) -> None:
    """COUNSEL and SUPERVISE come from one gate decision: the session's second-factor device is read once per
    console that opens (it was read once per capability), and a session without it supervises nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat.consumers import counsellor_gate

    from .conftest import ORIGIN, make_staff, staff_cookie

    user = make_staff(f"gate-{role}-{verified}", role)
    scope = {"type": "websocket", "headers": [ORIGIN, (b"cookie", staff_cookie(user, verified=verified))]}
    with CaptureQueriesContext(connection) as queries:
        decided, user_id, may_supervise = counsellor_gate(scope)
    assert (decided.value, user_id, may_supervise) == (decision, user.pk, supervises)
    device_reads = [q["sql"] for q in queries.captured_queries if "accounts_sealedtotpdevice" in q["sql"]]
    assert len(device_reads) == (1 if verified else 0), device_reads
