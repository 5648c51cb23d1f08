"""The Python chat client reproduces vectors.json: handshake checks, keys, safety code, message frames, seq rules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from chat.client import (
    Connected,
    CounsellorClient,
    Delivered,
    DeviceIdentity,
    EpochSession,
    HandshakeRefused,
    KeyChangeRefused,
    MessageReceived,
    MessageRejected,
    Offered,
    Rekeyed,
    StaffSession,
    VisitorClient,
)
from chat.protocol import crypto
from tests.unit.conftest import load_protocol_vectors

VECTORS: dict[str, Any] = load_protocol_vectors()

TODAY = dt.date(2026, 1, 1)


def key(name: str) -> Any:
    return crypto.private_key_from_scalar_hex(name)


def hs() -> dict[str, Any]:
    return VECTORS["handshake"]


def visitor_with_vector_key() -> VisitorClient:
    visitor = VisitorClient("http://127.0.0.1:1", org_public_key=VECTORS["org"]["public"], today=lambda: TODAY,
                            key_factory=lambda: key(hs()["visitor_private_scalar_hex"]))
    assert visitor.new_epoch_key() == hs()["vk"]
    return visitor


IDENTITY = key(VECTORS["v2"]["identity"]["private_scalar_hex"])


def rekey(epoch: int, vk: str, identity: Any = IDENTITY) -> dict[str, Any]:
    """A rekey as the server sends it: the visitor's epoch key, signed by the chat's identity key."""
    return {"type": "rekey", "chat": hs()["chat"], "epoch": epoch, "vk": vk,
            "ik": crypto.b64e(crypto.public_key_bytes(identity)), "vsig": crypto.sign_visitor_key(identity, vk)}


def connected_frame(**changes: Any) -> dict[str, Any]:
    frame = {"type": "connected", "chat": hs()["chat"], "epoch": hs()["epoch"], "ck": hs()["ck"],
             "sig": hs()["sig"], "cert": dict(VECTORS["cert"])}
    frame.update(changes)
    return frame


def vector_session(side: str) -> EpochSession:
    own = hs()["visitor_private_scalar_hex"] if side == "visitor" else hs()["counsellor_private_scalar_hex"]
    return EpochSession.derive(side, hs()["chat"], hs()["epoch"], key(own), hs()["vk"], hs()["ck"])  # type: ignore[arg-type]


async def test_visitor_accepts_the_vector_handshake_and_derives_its_safety_code() -> None:
    visitor = visitor_with_vector_key()
    [event] = await visitor.handle_frame(connected_frame())
    assert event == Connected(chat=hs()["chat"], epoch=0, safety_code=hs()["safety_code"], pseudonym="Sam",
                              restarted=False)
    assert visitor.session is not None
    assert visitor.session.keys.k_v2c.hex() == hs()["k_v2c_hex"]
    assert visitor.session.keys.k_c2v.hex() == hs()["k_c2v_hex"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sig": VECTORS.get("cert", {}).get("sig", "")}, "handshake_signature"),
        ({"ck": VECTORS.get("handshake", {}).get("vk", "")}, "handshake_signature"),
        ({"cert": {**VECTORS.get("cert", {}), "pseudonym": "Sam2"}}, "certificate_bad_signature"),
        ({"cert": {**VECTORS.get("cert", {}), "not_after": "2025-12-31"}}, "certificate_expired"),
        ({"cert": {k: v for k, v in VECTORS.get("cert", {}).items() if k != "sig"}}, "certificate_bad_fields"),
        ({"epoch": 1}, "handshake_signature"),
        ({"cert": "not an object"}, "bad_frame"),
    ],
)
async def test_visitor_refuses_a_bad_certificate_or_signature_and_makes_no_keys(changes: dict[str, Any],
                                                                              reason: str) -> None:
    visitor = visitor_with_vector_key()
    [event] = await visitor.handle_frame(connected_frame(**changes))
    assert isinstance(event, HandshakeRefused)
    assert event.reason == reason
    assert visitor.session is None


async def test_visitor_refuses_a_certificate_signed_by_another_org_key() -> None:
    other_org = crypto.generate_private_key()
    device = key(VECTORS["device"]["private_scalar_hex"])
    cert = crypto.make_certificate(other_org, VECTORS["cert"]["device"], "Sam", crypto.public_key_bytes(device),
                                   dt.date(2030, 12, 31))
    visitor = visitor_with_vector_key()
    [event] = await visitor.handle_frame(connected_frame(cert=cert))
    assert isinstance(event, HandshakeRefused) and event.reason == "certificate_bad_signature"


def test_sealing_reproduces_the_vector_ciphertexts_in_order() -> None:
    sides = {"v2c": vector_session("visitor"), "c2v": vector_session("counsellor")}
    for message in VECTORS["messages"]:
        frame = sides[message["dir"]].seal(json.loads(message["plaintext_json"]))
        assert frame == {"type": "msg", "chat": hs()["chat"], "epoch": 0, "seq": message["seq"], "ct": message["ct"]}


def test_opening_the_vector_messages_and_refusing_replays() -> None:
    counsellor, visitor = vector_session("counsellor"), vector_session("visitor")
    for message in VECTORS["messages"]:
        receiver = counsellor if message["dir"] == "v2c" else visitor
        frame = {"type": "msg", "chat": hs()["chat"], "epoch": 0, "seq": message["seq"], "ct": message["ct"]}
        opened, missing = receiver.open(frame)
        assert opened == json.loads(message["plaintext_json"])
        assert missing == 0
        with pytest.raises(crypto.ReplayedSequenceError):
            receiver.open(frame)


async def test_client_reports_gaps_replays_and_forgeries_without_moving_the_window() -> None:
    visitor = visitor_with_vector_key()
    await visitor.handle_frame(connected_frame())
    counsellor = vector_session("counsellor")
    first, second, third = (counsellor.seal({"t": "text", "body": f"m{n}"}) for n in range(3))
    [event] = await visitor.handle_frame(third)
    assert isinstance(event, MessageReceived) and event.missing == 2 and event.text == "m2"
    [event] = await visitor.handle_frame(first)
    assert isinstance(event, MessageRejected) and event.reason == "replayed"
    forged = {**second, "seq": 99, "ct": second["ct"]}
    [event] = await visitor.handle_frame(forged)
    assert isinstance(event, MessageRejected) and event.reason == "does_not_authenticate"
    fourth = counsellor.seal({"t": "text", "body": "m3"})
    [event] = await visitor.handle_frame(fourth)
    assert isinstance(event, MessageReceived) and event.missing == 0, "a forged seq must not move the window"
    [event] = await visitor.handle_frame({**fourth, "epoch": 1})
    assert isinstance(event, MessageRejected) and event.reason == "no_key_for_epoch"


class RecordingCounsellor(CounsellorClient):
    """A counsellor client without a socket: frames it would send are kept."""

    async def send_frame(self, frame: dict[str, Any]) -> None:
        self.sent_frames.append(frame)


def vector_counsellor() -> RecordingCounsellor:
    device = DeviceIdentity(private_key=key(VECTORS["device"]["private_scalar_hex"]),
                            device=VECTORS["cert"]["device"], cert=dict(VECTORS["cert"]))
    return RecordingCounsellor(StaffSession(base_url="http://127.0.0.1:1"), device,
                               key_factory=lambda: key(hs()["counsellor_private_scalar_hex"]))


async def test_counsellor_accept_is_verified_by_the_visitor_and_both_sides_talk() -> None:
    counsellor = vector_counsellor()
    counsellor.auto_accept = False
    [offered] = await counsellor.handle_frame(rekey(0, hs()["vk"]))
    assert offered == Offered(chat=hs()["chat"], epoch=0)
    assert counsellor.sent_frames == []
    session = await counsellor.accept(hs()["chat"])
    accept = counsellor.sent_frames[-1]
    assert accept["type"] == "accept" and accept["ck"] == hs()["ck"] and accept["device"] == VECTORS["cert"]["device"]
    assert crypto.verify_handshake(VECTORS["cert"], hs()["chat"], 0, hs()["vk"], hs()["ck"], accept["sig"])
    assert session.safety_code == hs()["safety_code"]

    visitor = visitor_with_vector_key()
    [event] = await visitor.handle_frame({"type": "connected", "chat": hs()["chat"], "epoch": 0, "ck": accept["ck"],
                                          "sig": accept["sig"], "cert": VECTORS["cert"]})
    assert isinstance(event, Connected)
    frame = await counsellor.send_message(hs()["chat"], json.loads(VECTORS["messages"][1]["plaintext_json"]))
    assert frame["ct"] == VECTORS["messages"][1]["ct"]
    [received] = await visitor.handle_frame(frame)
    assert isinstance(received, MessageReceived) and received.text == "Hi, I'm here. Take your time."


async def test_counsellor_answers_a_rekey_with_a_fresh_signed_accept_for_the_new_epoch() -> None:
    counsellor = RecordingCounsellor(vector_counsellor().staff, vector_counsellor().device)
    events = await counsellor.handle_frame(rekey(0, hs()["vk"]))
    assert [type(event) for event in events] == [Connected], "an offer is accepted at once by default"
    new_visitor_key = crypto.generate_private_key()
    vk = crypto.b64e(crypto.public_key_bytes(new_visitor_key))
    events = await counsellor.handle_frame(rekey(1, vk))
    assert isinstance(events[0], Rekeyed) and events[0].epoch == 1
    accept = counsellor.sent_frames[-1]
    assert accept["type"] == "accept" and accept["epoch"] == 1
    assert crypto.verify_handshake(VECTORS["cert"], hs()["chat"], 1, vk, accept["ck"], accept["sig"])
    mine = EpochSession.derive("visitor", hs()["chat"], 1, new_visitor_key, vk, accept["ck"])
    assert mine.safety_code == events[0].safety_code


def test_console_wrapup_choices_are_the_codes_the_server_accepts() -> None:
    from chat.schema import WRAPUP_CODES
    from chat.views import wrapup_choices

    assert {category: tuple(code for code, _label in choices) for category, choices in wrapup_choices().items()} \
        == WRAPUP_CODES


# --- protocol v2: continuity of the visitor's identity key, receipts, sending again ------------------------


async def test_a_rekey_from_another_identity_or_unsigned_is_refused_and_not_answered() -> None:
    counsellor = RecordingCounsellor(vector_counsellor().staff, vector_counsellor().device)
    await counsellor.handle_frame(rekey(0, hs()["vk"]))
    answered = len(counsellor.sent_frames)
    vk = crypto.b64e(crypto.public_key_bytes(crypto.generate_private_key()))
    [refused] = await counsellor.handle_frame(rekey(1, vk, identity=crypto.generate_private_key()))
    assert refused == KeyChangeRefused(chat=hs()["chat"], epoch=1, reason="identity_changed")
    unsigned = {**rekey(1, vk), "vsig": rekey(1, hs()["vk"])["vsig"]}  # a signature over another key
    [refused] = await counsellor.handle_frame(unsigned)
    assert refused.reason == "not_signed"  # type: ignore[attr-defined]
    [refused] = await counsellor.handle_frame({"type": "rekey", "chat": hs()["chat"], "epoch": 1, "vk": vk})
    assert refused.reason == "not_signed"  # type: ignore[attr-defined]
    assert len(counsellor.sent_frames) == answered, "no accept for a key the visitor did not sign"
    assert counsellor.sessions[hs()["chat"]].epoch == 0  # the chat still runs on the verified epoch
    [rekeyed, _connected] = await counsellor.handle_frame(rekey(1, vk))
    assert isinstance(rekeyed, Rekeyed), "the visitor's own identity still works"


async def test_a_pin_from_a_hand_over_decides_the_first_offer_too() -> None:
    counsellor = RecordingCounsellor(vector_counsellor().staff, vector_counsellor().device)
    counsellor.pin(hs()["chat"], crypto.b64e(crypto.public_key_bytes(IDENTITY)))
    [refused] = await counsellor.handle_frame(rekey(0, hs()["vk"], identity=crypto.generate_private_key()))
    assert isinstance(refused, KeyChangeRefused)
    [connected] = await counsellor.handle_frame(rekey(0, hs()["vk"]))
    assert isinstance(connected, Connected)


async def test_texts_are_receipted_shown_once_and_sent_again_until_confirmed() -> None:
    counsellor = vector_counsellor()
    await counsellor.handle_frame(rekey(0, hs()["vk"]))
    accept = counsellor.sent_frames[-1]
    visitor = visitor_with_vector_key()
    visitor.chat = hs()["chat"]
    await visitor.handle_frame(connected_frame(ck=accept["ck"], sig=accept["sig"]))
    visitor.sent_frames.clear()
    visitor.send_frame = counsellor.send_frame.__func__.__get__(visitor)  # type: ignore[attr-defined,method-assign]

    first = await visitor.send_text("Ben je er nog?")
    [message_id] = visitor.pending
    [received] = await counsellor.handle_frame(first)
    assert isinstance(received, MessageReceived) and received.text == "Ben je er nog?"
    receipt = counsellor.sent_frames[-1]
    # The same text sent again (its receipt was lost) is receipted again but not shown twice.
    again = visitor.session.seal(crypto.text_message("Ben je er nog?", message_id))  # type: ignore[union-attr]
    assert await counsellor.handle_frame(again) == []
    [delivered] = await visitor.handle_frame(receipt)
    assert delivered == Delivered(chat=hs()["chat"], ids=(message_id,))
    assert visitor.pending == {}


async def test_pending_texts_go_again_after_the_next_connected() -> None:
    visitor = visitor_with_vector_key()
    visitor.chat = hs()["chat"]
    sent: list[dict[str, Any]] = []

    async def record(frame: dict[str, Any]) -> None:
        sent.append(frame)

    visitor.send_frame = record  # type: ignore[method-assign]
    visitor.new_epoch_key()
    await visitor.handle_frame(connected_frame())
    await visitor.send_text("one")
    await visitor.send_text("two")
    sent.clear()
    visitor.new_epoch_key()  # the counsellor came back: a new epoch with the same keys as the vector
    await visitor.handle_frame(connected_frame())
    counsellor_side = vector_session("counsellor")
    bodies = [counsellor_side.open(frame)[0] for frame in sent]
    assert [body["body"] for body in bodies] == ["one", "two"]
    assert [body["id"] for body in bodies] == list(visitor.pending)
