"""Protocol v2 through the real ASGI application: truthful presence, `undelivered`, the visitor's identity key,
warm hand-over, quick exit and ghost chats (docs/protocol.md §5, §7).

Each new frame also has its malformed, oversized and unauthorised variants here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat import actions, process
from chat.models import Chat
from chat.protocol.crypto import b64e, generate_private_key, public_key_bytes
from helpline.metrics.models import DailyCount

from .conftest import join_frame, new_key, resume_frame
from .test_chat_frames import refused
from .test_chat_lifecycle import active, sweep_and_deliver

pytestmark = pytest.mark.django_db(transaction=True)

CT = b64e(bytes(272))
CERT = {"v": 1, "device": b64e(bytes(16)), "pseudonym": "Sam", "key": new_key(), "not_after": "2030-01-01",
        "sig": b64e(bytes(64))}
BUNDLE = {"ct": b64e(bytes(512)), "wraps": [{"device": b64e(bytes(16)), "epk": new_key(), "wk": b64e(bytes(48))}],
          "device": b64e(bytes(16)), "cert": CERT, "sig": b64e(bytes(64))}


def msg(chat: str, seq: int, epoch: int = 0) -> dict[str, Any]:
    return {"type": "msg", "chat": chat, "epoch": epoch, "seq": seq, "ct": CT}


async def heartbeat_every_socket(moment: dt.datetime) -> None:
    """What this process's clock does for its open sockets, at a moment of the test's choosing."""
    work = process.work()
    await sync_to_async(actions.heartbeat_many)(sorted(work.visitors), sorted(work.counsellors), moment)


def chat_row(chat: str) -> Chat | None:
    return Chat.objects.filter(pk=chat).first()


# --- the visitor's identity key --------------------------------------------------------------------------------


async def test_join_and_resume_need_an_epoch_key_signed_by_the_identity_key(open_visitor: Any) -> None:
    visitor = await open_visitor()
    other_identity = generate_private_key()
    unsigned = {**join_frame("en"), "vsig": join_frame("en", other_identity)["vsig"]}
    await refused(visitor, unsigned, "bad_signature")
    await visitor.join()
    back = await open_visitor()
    foreign = {**resume_frame(visitor.resume, visitor.identity), "ik": b64e(public_key_bytes(other_identity))}
    await refused(back, foreign, "bad_signature")


async def test_an_offer_carries_the_keys_the_language_the_wait_and_its_deadline(open_visitor: Any,
                                                                                 open_counsellor: Any,
                                                                                 settings: Any) -> None:
    visitor = await open_visitor()
    await visitor.join("nl")
    counsellor = await open_counsellor()
    rekey, _connected = await counsellor.take(visitor)
    assert rekey["ik"] == b64e(public_key_bytes(visitor.identity))
    assert rekey["lang"] == "nl" and rekey["waiting"] == 0 and rekey["expires"] == settings.COUNSELLOR_GRACE_SECONDS


# --- presence and undelivered ------------------------------------------------------------------------------------


async def test_the_visitor_hears_at_once_that_the_counsellor_dropped_and_messages_are_refused_by_name(
        open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await visitor.drain()
    await counsellor.close()
    assert await visitor.expect("presence") == {"type": "presence", "chat": visitor.chat, "peer": "away"}
    await visitor.send(msg(visitor.chat, 0))
    error = await visitor.error("undelivered")
    assert error["chat"] == visitor.chat and error["seq"] == 0
    await visitor.send({"type": "typing", "chat": visitor.chat, "on": True})  # typing just goes
    await visitor.nothing()
    # Not the visitor's fault: many of them never close the socket.
    for seq in range(1, 8):
        await visitor.send(msg(visitor.chat, seq))
        assert (await visitor.error("undelivered"))["seq"] == seq


async def test_the_counsellor_hears_at_once_that_the_visitor_dropped_with_the_grace_and_when_they_are_back(
        open_visitor: Any, open_counsellor: Any, settings: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await counsellor.drain()
    await visitor.close()
    assert await counsellor.expect("presence") == {"type": "presence", "chat": visitor.chat, "peer": "away",
                                                  "grace": settings.RESUME_GRACE_SECONDS}
    await counsellor.send(msg(visitor.chat, 0))
    assert (await counsellor.error("undelivered"))["seq"] == 0
    back = await open_visitor()
    await back.send(resume_frame(visitor.resume, visitor.identity))
    assert (await counsellor.expect("presence"))["peer"] == "back"
    assert (await counsellor.expect("rekey"))["epoch"] == 1


async def test_messages_while_queued_or_handed_over_are_refused_by_name(open_visitor: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    await visitor.send(msg(visitor.chat, 0))
    assert (await visitor.error("undelivered"))["seq"] == 0


async def test_presence_and_undelivered_are_never_told_to_anyone_else(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    other_visitor, other_counsellor = await active(open_visitor, open_counsellor, "counsellor-other")
    await other_visitor.drain()
    await other_counsellor.drain()
    await counsellor.close()
    await visitor.expect("presence")
    await other_visitor.nothing_but_queue_listings()
    await other_counsellor.nothing_but_queue_listings()


# --- quick exit -----------------------------------------------------------------------------------------------------


async def test_quick_exit_ends_the_chat_and_the_counsellor_is_told_it_was_in_a_hurry(open_visitor: Any,
                                                                                    open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await visitor.send({"type": "leave", "chat": visitor.chat, "hurry": True})
    ended = await counsellor.expect("ended")
    assert ended["by"] == "visitor" and ended["hurry"] is True and isinstance(ended["wrapup_token"], str)
    assert await sync_to_async(chat_row)(visitor.chat) is None
    back = await open_visitor()
    await refused(back, resume_frame(visitor.resume, visitor.identity), "resume_invalid")


async def test_hurry_is_only_the_visitors_to_say(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    await refused(counsellor, {"type": "end", "chat": visitor.chat, "hurry": True}, "bad_frame")
    await refused(visitor, {"type": "leave", "chat": visitor.chat, "hurry": 1}, "bad_frame")


# --- warm hand-over ---------------------------------------------------------------------------------------------------


async def test_hand_over_to_a_colleague_with_a_sealed_bundle(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    colleague = await open_counsellor("colleague")
    first_joined = await sync_to_async(lambda: chat_row(visitor.chat).waiting_since)()  # type: ignore[union-attr]
    await counsellor.send({"type": "transfer", "chat": visitor.chat, "to": colleague.user.pk, "bundle": BUNDLE})
    queued = await visitor.expect("queued")
    assert queued["reason"] == "handover" and queued["position"] == 1
    handover = await colleague.expect("handover")
    assert handover["chat"] == visitor.chat and handover["bundle"] == BUNDLE and handover["from"] == "counsellor-1"
    await counsellor.nothing_but_queue_listings()  # the sender does not get its own bundle back
    # The visitor's wait still counts from the first join.
    assert await sync_to_async(lambda: chat_row(visitor.chat).waiting_since)() == first_joined  # type: ignore[union-attr]
    rekey = await colleague.expect("rekey")  # offered to them at once: they were chosen
    await colleague.send(colleague.accept_frame(visitor.chat, rekey["epoch"], rekey["vk"]))
    assert await counsellor.expect("transferred") == {"type": "transferred", "chat": visitor.chat, "outcome": "taken"}
    assert (await visitor.expect("connected"))["epoch"] == rekey["epoch"]


async def test_a_hand_over_nobody_takes_comes_back_to_the_sender(open_visitor: Any, open_counsellor: Any,
                                                                 settings: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    colleague = await open_counsellor("colleague")  # in the console, but never takes it
    await counsellor.send({"type": "transfer", "chat": visitor.chat, "to": colleague.user.pk})
    await visitor.expect("queued")
    # The colleague is offered it at once (someone chose them, whether or not they take new chats) ...
    assert (await colleague.expect("rekey"))["chat"] == visitor.chat
    later = timezone.now() + dt.timedelta(seconds=settings.COUNSELLOR_GRACE_SECONDS + 1)
    await heartbeat_every_socket(later)  # the sockets are alive: only the reservation is old
    await sweep_and_deliver(later)
    assert (await counsellor.expect("transferred"))["outcome"] == "returned"
    rekey = await counsellor.expect("rekey", timeout=30)  # offered to the sender, who is still available
    assert rekey["chat"] == visitor.chat
    await counsellor.send(counsellor.accept_frame(visitor.chat, rekey["epoch"], rekey["vk"]))
    assert (await visitor.expect("connected"))["epoch"] == rekey["epoch"]
    # ... and only once: the chat went back to the one who handed it over, not to anyone else.
    await colleague.drain()
    assert [frame["chat"] for frame in colleague.received if frame["type"] == "rekey"] == [visitor.chat]


async def test_hand_over_only_to_a_colleague_in_the_console_and_only_by_the_holder(
        open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    offline = await sync_to_async(__import__("tests.consumers.conftest", fromlist=["make_staff"]).make_staff)(
        "offline-colleague", "counsellor")
    await refused(counsellor, {"type": "transfer", "chat": visitor.chat, "to": offline.pk}, "bad_frame")
    colleague = await open_counsellor("colleague")
    # Not the holder: a colleague cannot hand someone else's chat over, with or without a bundle.
    await refused(colleague, {"type": "transfer", "chat": visitor.chat, "to": "queue", "bundle": BUNDLE},
                  "unknown_chat")


@pytest.mark.parametrize("malformation", ["oversized", "no wraps", "nine wraps", "extra field", "bad cert"])
async def test_malformed_and_oversized_bundles_are_refused(open_visitor: Any, open_counsellor: Any,
                                                           malformation: str) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    colleague = await open_counsellor("colleague")
    bundle = {
        "oversized": {**BUNDLE, "ct": b64e(bytes(32 * 1024 + 17))},
        "no wraps": {**BUNDLE, "wraps": []},
        "nine wraps": {**BUNDLE, "wraps": BUNDLE["wraps"] * 9},
        "extra field": {**BUNDLE, "note": "in clear"},
        "bad cert": {**BUNDLE, "cert": {**CERT, "v": 2, "extra": 1}},
    }[malformation]
    await refused(counsellor, {"type": "transfer", "chat": visitor.chat, "to": colleague.user.pk, "bundle": bundle},
                  "bad_frame")
    await colleague.nothing_but_queue_listings()


async def test_a_frame_over_64_kib_with_a_bundle_is_refused(open_visitor: Any, open_counsellor: Any) -> None:
    visitor, counsellor = await active(open_visitor, open_counsellor)
    frame = {"type": "transfer", "chat": visitor.chat, "to": "queue", "bundle": {**BUNDLE, "ct": "A" * 70_000}}
    await refused(counsellor, json.dumps(frame), "bad_frame")


# --- ghost chats after a restart ------------------------------------------------------------------------------------


async def test_visitors_who_vanished_in_a_restart_are_not_counted_listed_or_offered(open_visitor: Any,
                                                                                    open_counsellor: Any,
                                                                                    settings: Any) -> None:
    ghosts = []
    for _ in range(3):
        ghost = await open_visitor()
        await ghost.join()
        ghosts.append(ghost)
    # What the embedded default does when it starts: no socket of its last run survived.
    await sync_to_async(actions.forget_sockets_of_an_earlier_boot)(timezone.now())
    assert await sync_to_async(actions.waiting_count)() == 0
    newcomer = await open_visitor()
    assert (await newcomer.join())["position"] == 1
    counsellor = await open_counsellor()
    assert counsellor.received[0]["chats"] == [{"chat": newcomer.chat, "lang": "en", "waiting": 0}]
    # After the grace the ghosts are gone for good, counted as abandoned.
    await sweep_and_deliver(timezone.now() + dt.timedelta(seconds=settings.RESUME_GRACE_SECONDS + 1))
    assert await sync_to_async(lambda: sorted(Chat.objects.values_list("pk", flat=True)))() == [newcomer.chat]
    abandoned = await sync_to_async(lambda: sum(DailyCount.objects.filter(metric="chat.abandoned_queued")
                                                .values_list("count", flat=True)))()
    assert abandoned == 3
