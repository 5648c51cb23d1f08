"""The Python chat client reproduces vectors.json: handshake checks, keys, safety code, message frames, seq rules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from chat.client import (
    Connected,
    CounsellorClient,
    DeviceIdentity,
    EpochSession,
    HandshakeRefused,
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
    [offered] = await counsellor.handle_frame({"type": "rekey", "chat": hs()["chat"], "epoch": 0, "vk": hs()["vk"]})
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
    frame = await counsellor.send_text(hs()["chat"], "Hi, I'm here. Take your time.")
    assert frame["ct"] == VECTORS["messages"][1]["ct"]
    [received] = await visitor.handle_frame(frame)
    assert isinstance(received, MessageReceived) and received.text == "Hi, I'm here. Take your time."


async def test_counsellor_answers_a_rekey_with_a_fresh_signed_accept_for_the_new_epoch() -> None:
    counsellor = RecordingCounsellor(vector_counsellor().staff, vector_counsellor().device)
    events = await counsellor.handle_frame({"type": "rekey", "chat": hs()["chat"], "epoch": 0, "vk": hs()["vk"]})
    assert [type(event) for event in events] == [Connected], "an offer is accepted at once by default"
    new_visitor_key = crypto.generate_private_key()
    vk = crypto.b64e(crypto.public_key_bytes(new_visitor_key))
    events = await counsellor.handle_frame({"type": "rekey", "chat": hs()["chat"], "epoch": 1, "vk": vk})
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
