"""Through the real ASGI app: a counsellor whose visitor left gets a wrap-up token in `ended`, and only then
(docs/protocol.md §7, "wrap-up after the chat ended")."""

from __future__ import annotations

from typing import Any

import pytest

from chat import actions
from chat.tokens import token_expiry

pytestmark = pytest.mark.django_db(transaction=True)


async def active_pair(open_visitor: Any, open_counsellor: Any) -> tuple[Any, Any]:
    visitor = await open_visitor()
    await visitor.join()
    counsellor = await open_counsellor()
    await counsellor.take(visitor)
    await counsellor.send({"type": "available", "on": False})
    await counsellor.drain()
    return visitor, counsellor


async def test_the_visitor_leaving_gives_the_counsellor_a_wrapup_token(open_visitor: Any,
                                                                       open_counsellor: Any) -> None:
    visitor, counsellor = await active_pair(open_visitor, open_counsellor)
    await visitor.send({"type": "leave", "chat": visitor.chat})
    ended = await counsellor.expect("ended")
    assert ended["by"] == "visitor" and ended["chat"] == visitor.chat
    assert token_expiry(actions.WRAPUP_PURPOSE, ended["wrapup_token"]) is not None
    assert "wrapup_token" not in await visitor.expect("ended")


async def test_the_counsellors_own_end_with_a_wrapup_carries_no_token(open_visitor: Any,
                                                                      open_counsellor: Any) -> None:
    visitor, counsellor = await active_pair(open_visitor, open_counsellor)
    await counsellor.send({"type": "end", "chat": visitor.chat, "wrapup": {"contact": "self"}})
    assert await counsellor.expect("ended") == {"type": "ended", "chat": visitor.chat, "by": "counsellor"}
