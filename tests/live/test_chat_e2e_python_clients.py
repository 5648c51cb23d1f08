"""Against a real Daphne: a Python visitor and a Python counsellor chat end to end through the server.

The counsellor signs in through the real pages (password, then a TOTP code), registers a device key and
gets it certified (the embedded default certifies demo devices at once); the visitor checks that
certificate against the pinned organisation key. The server only ever relays ciphertext: every frame it
sent either side is checked for the plaintext canaries.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from chat.client import (
    ChatEnded,
    Connected,
    CounsellorClient,
    DeviceIdentity,
    HandedOver,
    MessageReceived,
    Queued,
    Rekeyed,
    StaffSession,
    Transferred,
    TypingChanged,
    VisitorClient,
)
from chat.client.counsellor import enrol_device
from chat.client.http import fetch_org_public_key, sign_in_staff
from tests.conftest import LiveServer

pytestmark = pytest.mark.live

CANARY_V = "visitor canary: purple-elephant-4471"
CANARY_C = "counsellor canary: silver-teapot-9032"


@dataclass
class Staff:
    session: StaffSession
    device: DeviceIdentity
    user_pk: int = 0


def signed_in(live_server: LiveServer, username: str) -> Staff:
    async def go() -> Staff:
        session = await sign_in_staff(live_server.base_url, username, live_server.demo_password(username),
                                      lambda: live_server.demo_code(username), code_attempts=1)
        with sqlite3.connect(live_server.database) as db:
            (user_pk,) = db.execute("SELECT id FROM auth_user WHERE username = ?", (username,)).fetchone()
        return Staff(session, await enrol_device(session), int(user_pk))

    return asyncio.run(go())


@pytest.fixture(scope="module")
def counsellor_staff(live_server: LiveServer) -> Staff:
    # Once per module: the server refuses a TOTP code for a time step it already accepted.
    return signed_in(live_server, "demo-counsellor")


@pytest.fixture(scope="module")
def supervisor_staff(live_server: LiveServer) -> Staff:
    return signed_in(live_server, "demo-supervisor")


def org_public_key(live_server: LiveServer) -> str:
    return (live_server.var_dir / "org_public_key.txt").read_text().strip()


@pytest.fixture
async def counsellor(counsellor_staff: Staff) -> AsyncIterator[CounsellorClient]:
    client = CounsellorClient(counsellor_staff.session, counsellor_staff.device)
    await client.open()
    await client.set_available(True)
    yield client
    await client.close()


def assert_only_ciphertext(*clients: Any) -> None:
    for client in clients:
        for frame in client.received_frames + client.sent_frames:
            text = json.dumps(frame, ensure_ascii=False)
            assert "canary" not in text, f"plaintext on the wire: {text[:200]}"


async def start_chat(live_server: LiveServer, counsellor: CounsellorClient) -> tuple[VisitorClient, Connected]:
    visitor = VisitorClient(live_server.base_url, org_public_key=org_public_key(live_server))
    await visitor.join("en")
    queued = await visitor.wait_for(Queued)
    assert queued.resume and queued.position >= 0
    connected = await visitor.wait_for(Connected, timeout=30)
    on_counsellor = await counsellor.wait_for(Connected, lambda event: event.chat == queued.chat, timeout=30)
    assert connected.chat == queued.chat and connected.epoch == 0 and not connected.restarted
    assert connected.pseudonym == counsellor.device.pseudonym
    assert connected.safety_code == on_counsellor.safety_code
    return visitor, connected


async def test_chat_end_to_end_with_resume_and_wrapup(live_server: LiveServer,
                                                      counsellor: CounsellorClient) -> None:
    visitor, connected = await start_chat(live_server, counsellor)
    chat = connected.chat

    await visitor.typing(True)
    assert (await counsellor.wait_for(TypingChanged)).on is True
    await visitor.send_text(CANARY_V)
    received = await counsellor.wait_for(MessageReceived)
    assert received.text == CANARY_V and received.seq == 0 and received.missing == 0
    await counsellor.send_text(chat, CANARY_C + " ✓")
    assert (await visitor.wait_for(MessageReceived)).text == CANARY_C + " ✓"

    # The visitor's connection dies; they come back with the resume token and a fresh key.
    old_token = visitor.resume_token
    await visitor.drop()
    await visitor.resume()
    rekeyed = await counsellor.wait_for(Rekeyed, timeout=30)
    again = await visitor.wait_for(Connected, timeout=30)
    assert again.restarted and again.epoch == rekeyed.epoch == 1
    assert again.safety_code == rekeyed.safety_code
    assert visitor.resume_token != old_token, "a resume token is good once"
    await visitor.send_text(CANARY_V + " after resume")
    after = await counsellor.wait_for(MessageReceived, lambda event: event.epoch == 1)
    assert after.text == CANARY_V + " after resume" and after.seq == 0

    await counsellor.end(chat, {"contact": "self", "concern": ["own_urges"], "action": ["self_help_suggested"]})
    ended = await visitor.wait_for(ChatEnded)
    assert ended.by == "counsellor" and ended.feedback
    assert await visitor.give_feedback(4, True) == 204
    assert visitor.session is None, "keys are dropped when the chat ends"
    assert_only_ciphertext(visitor, counsellor)
    await visitor.close()


async def test_org_key_read_from_the_page_matches_its_sri_hash_and_the_installation(live_server: LiveServer) -> None:
    assert await fetch_org_public_key(live_server.base_url, "nl") == org_public_key(live_server)


async def test_visitor_leaves_and_counsellor_is_told(live_server: LiveServer, counsellor: CounsellorClient) -> None:
    visitor, connected = await start_chat(live_server, counsellor)
    await visitor.leave()
    assert (await counsellor.wait_for(ChatEnded, lambda event: event.chat == connected.chat)).by == "visitor"
    assert (await visitor.wait_for(ChatEnded)).by == "visitor"
    await visitor.close()


async def test_transfer_to_the_queue_starts_a_new_epoch_with_a_colleague(
        live_server: LiveServer, counsellor: CounsellorClient, supervisor_staff: Staff) -> None:
    visitor, connected = await start_chat(live_server, counsellor)
    await counsellor.set_available(False)
    colleague = CounsellorClient(supervisor_staff.session, supervisor_staff.device)
    await colleague.open()
    await colleague.set_available(True)
    try:
        await counsellor.transfer(connected.chat, "queue")
        taken = await colleague.wait_for(Connected, lambda event: event.chat == connected.chat, timeout=30)
        again = await visitor.wait_for(Connected, timeout=30)
        assert again.restarted and again.epoch == taken.epoch == 1
        assert again.pseudonym == supervisor_staff.device.pseudonym
        await visitor.send_text(CANARY_V + " to the colleague")
        assert (await colleague.wait_for(MessageReceived)).text == CANARY_V + " to the colleague"
        await colleague.end(connected.chat, {"contact": "test"})
        assert (await visitor.wait_for(ChatEnded)).by == "counsellor"
        assert_only_ciphertext(visitor, counsellor, colleague)
    finally:
        await colleague.set_available(False)
        await colleague.close()
        await visitor.close()


async def test_warm_hand_over_carries_note_transcript_and_the_pinned_identity(
        live_server: LiveServer, counsellor: CounsellorClient, supervisor_staff: Staff) -> None:
    """docs/protocol.md §10 through a real Daphne: the bundle reaches only the colleague, opens only with their
    device's encryption key, and its identity pin decides whether they answer the visitor's rekey."""
    from chat.protocol import crypto

    visitor, connected = await start_chat(live_server, counsellor)
    await counsellor.set_available(False)
    ek = crypto.generate_private_key()
    colleague = CounsellorClient(supervisor_staff.session, supervisor_staff.device, encryption_key=ek,
                                 org_public_key=org_public_key(live_server))
    await colleague.open()
    try:
        await visitor.send_text(CANARY_V + " before the hand-over")
        await counsellor.wait_for(MessageReceived)
        bundle = counsellor.seal_handover(connected.chat, {supervisor_staff.device.device: crypto.public_key_bytes(ek)},
                                          note="Prefers short answers.",
                                          transcript=[{"from": "visitor", "at": "21:04", "text": CANARY_V}])
        await counsellor.transfer(connected.chat, supervisor_staff.user_pk, bundle)
        handed = await colleague.wait_for(HandedOver, timeout=30)
        assert handed.note == "Prefers short answers." and handed.sender == counsellor.device.pseudonym
        assert handed.transcript[0]["text"] == CANARY_V
        # The colleague was chosen: the offer comes though they never said they take new chats.
        taken = await colleague.wait_for(Connected, lambda event: event.chat == connected.chat, timeout=30)
        assert (await counsellor.wait_for(Transferred, timeout=30)).outcome == "taken"
        again = await visitor.wait_for(Connected, timeout=30)
        assert again.epoch == taken.epoch and again.pseudonym == supervisor_staff.device.pseudonym
        await visitor.send_text(CANARY_V + " to the colleague")
        assert (await colleague.wait_for(MessageReceived, lambda e: e.epoch == taken.epoch)).text.endswith("colleague")
        await colleague.end(connected.chat, {"contact": "test"})
        assert_only_ciphertext(visitor, counsellor, colleague)
    finally:
        await colleague.close()
        await visitor.close()
