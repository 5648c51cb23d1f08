"""A whole chat through the real ASGI app: join, offer, accept, messages both ways, typing, end, counters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from chat.models import Chat
from chat.protocol.crypto import b64e, verify_certificate
from helpline.metrics.models import DailyCount

pytestmark = pytest.mark.django_db(transaction=True)


def counts() -> dict[tuple[str, str], int]:
    return {(c.metric, c.dimension): c.count for c in DailyCount.objects.all()}


async def test_a_whole_chat(open_visitor: Any, open_counsellor: Any, settings: Any) -> None:
    visitor = await open_visitor()
    queued = await visitor.join("nl")
    assert queued == {"type": "queued", "chat": visitor.chat, "resume": visitor.resume, "position": 1}

    counsellor = await open_counsellor()
    assert counsellor.received[0]["chats"] == [{"chat": visitor.chat, "lang": "nl", "waiting": 0}]
    rekey, connected = await counsellor.take(visitor)
    assert rekey["epoch"] == 0
    assert connected["chat"] == visitor.chat and connected["epoch"] == 0
    from chat.protocol.crypto import b64d

    verify_certificate(connected["cert"], b64d(settings.ORG_PUBLIC_KEY), __import__("datetime").date.today())
    # The emptied queue is broadcast once routing has settled (chat.process), before anything else is said.
    assert (await counsellor.expect("queue"))["chats"] == []

    # Messages and typing are relayed as the exact text that was sent.
    sent = await visitor.send(json.dumps({"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 0,
                                          "ct": b64e(b"v" * 272)}, indent=1))
    assert await counsellor.receive_text() == sent
    sent = await counsellor.send({"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 0, "ct": b64e(b"c" * 272)})
    assert await visitor.receive_text() == sent
    sent = await visitor.send({"type": "typing", "chat": visitor.chat, "on": True})
    assert await counsellor.receive_text() == sent
    sent = await counsellor.send({"type": "typing", "chat": visitor.chat, "on": False})
    assert await visitor.receive_text() == sent

    await counsellor.send({"type": "end", "chat": visitor.chat,
                           "wrapup": {"contact": "self", "concern": ["online_images"], "action": "crisis_info"}})
    ended = await visitor.expect("ended")
    assert ended["by"] == "counsellor" and ended["chat"] == visitor.chat
    assert isinstance(ended["feedback"], str)
    assert (await counsellor.expect("ended")) == {"type": "ended", "chat": visitor.chat, "by": "counsellor"}

    assert not await sync_to_async(Chat.objects.exists)()
    cells = await sync_to_async(counts)()
    assert cells[("chat.offered", "nl")] == 1
    assert cells[("chat.answered", "nl")] == 1
    assert cells[("chat.wait_bin", "<1")] == 1
    assert cells[("chat.service_level", "within")] == 1  # by catalogue.service_level, the one rule
    assert cells[("chat.duration_bin", "<1")] == 1
    assert cells[("chat.ended_by", "counsellor")] == 1
    assert cells[("chat.wrapup", "contact.self")] == 1
    assert cells[("chat.wrapup", "concern.online_images")] == 1
    assert cells[("chat.wrapup", "action.crisis_info")] == 1


async def test_visitor_leaves_while_queued_counts_abandoned(open_visitor: Any, open_counsellor: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor()
    await visitor.send({"type": "leave", "chat": visitor.chat})
    ended = await visitor.expect("ended")
    assert ended == {"type": "ended", "chat": visitor.chat, "by": "visitor"}  # no feedback: never answered
    assert (await counsellor.expect("queue"))["chats"] == []
    cells = await sync_to_async(counts)()
    assert cells[("chat.abandoned_queued", "<1")] == 1
    assert ("chat.ended_by", "visitor") not in cells
