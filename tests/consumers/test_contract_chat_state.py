"""Promises about chat state: the server never stores vk, ck or ct; nothing of a chat outlives it but counters."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from chat.models import Chat, CounsellorPresence
from chat.protocol.crypto import b64e

pytestmark = pytest.mark.django_db(transaction=True)


def every_stored_text() -> str:
    """Every row of every table, as one string."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def remaining_chat_state() -> dict[str, int]:
    return {"chats": Chat.objects.count()}


async def test_contract_server_never_stores_keys_or_ciphertext(open_visitor: Any, open_counsellor: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor()
    await counsellor.send({"type": "available", "on": True})
    rekey = await counsellor.expect("rekey")
    accept = counsellor.accept_frame(rekey["chat"], rekey["epoch"], rekey["vk"])
    await counsellor.send(accept)
    await visitor.expect("connected")
    ct = b64e(b"canary ciphertext " * 20)
    await visitor.send({"type": "msg", "chat": visitor.chat, "epoch": 0, "seq": 0, "ct": ct})
    await counsellor.expect("msg")
    during = await sync_to_async(every_stored_text)()
    for secret in (visitor.vk, accept["ck"], accept["sig"], ct, visitor.resume):
        assert secret not in during
    assert visitor.chat in during  # the chat itself exists while it lasts

    await visitor.send({"type": "leave", "chat": visitor.chat})
    await visitor.expect("ended")
    await counsellor.expect("ended")
    after = await sync_to_async(every_stored_text)()
    for secret in (visitor.vk, accept["ck"], accept["sig"], ct, visitor.resume, visitor.chat):
        assert secret not in after


async def test_contract_nothing_of_a_chat_remains_after_it_ends(open_visitor: Any, open_counsellor: Any) -> None:
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor()
    await counsellor.take(visitor)
    visitor_channel = await sync_to_async(lambda: Chat.objects.get().visitor_channel)()
    await counsellor.send({"type": "end", "chat": visitor.chat, "wrapup": {"contact": "test"}})
    await visitor.expect("ended")
    assert await sync_to_async(remaining_chat_state)() == {"chats": 0}
    after = await sync_to_async(every_stored_text)()
    assert visitor.chat not in after
    assert visitor_channel not in after
    # Counters remain, and they hold no time finer than a day.
    from helpline.metrics.models import DailyCount

    cells = await sync_to_async(lambda: sorted(DailyCount.objects.values_list("metric", flat=True)))()
    assert "chat.answered" in cells and "chat.duration_bin" in cells


async def test_contract_counsellor_presence_goes_with_the_socket(open_counsellor: Any) -> None:
    counsellor = await open_counsellor()
    assert await sync_to_async(CounsellorPresence.objects.count)() == 1
    await counsellor.close()
    assert await sync_to_async(CounsellorPresence.objects.count)() == 0
