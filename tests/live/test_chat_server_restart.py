"""Against a real Daphne that is restarted (or killed) mid-chat: chat state is in the database, so both
sides come back (visitor with `resume`, counsellor by reconnecting), start a new epoch and go on talking;
after the end nothing of the chat is left in the database."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from chat.client import ChatEnded, Connected, MessageReceived, QueueChanged, Queued, SocketClosed, VisitorClient
from tests.conftest import LiveServer, make_live_server

pytestmark = pytest.mark.live


def chat_rows(server: LiveServer) -> int:
    with sqlite3.connect(server.database) as db:
        return int(db.execute("SELECT COUNT(*) FROM chat_chat").fetchone()[0])


@pytest.mark.parametrize("how", ["restart", "kill"])
async def test_chat_survives_a_server_restart(private_live_server: LiveServer, how: str) -> None:
    server = private_live_server
    counsellor = await server.available_counsellor()
    visitor = VisitorClient(server.base_url, org_public_key=server.org_public_key)
    try:
        await visitor.join("en")
        chat = (await visitor.wait_for(Queued)).chat
        assert (await visitor.wait_for(Connected, timeout=30)).epoch == 0
        await counsellor.wait_for(Connected, lambda event: event.chat == chat, timeout=30)
        await visitor.send_text("before")
        assert (await counsellor.wait_for(MessageReceived)).text == "before"

        if how == "restart":
            server.restart()
        else:
            server.kill()
            server.start()
        await visitor.wait_for(SocketClosed, timeout=30)
        await counsellor.wait_for(SocketClosed, timeout=30)
        assert chat_rows(server) == 1, "the chat outlives the process"

        await counsellor.close()
        await counsellor.open()
        await visitor.resume()
        again = await visitor.wait_for(Connected, timeout=60)
        assert again.restarted and again.epoch >= 1
        on_counsellor = await counsellor.wait_for(Connected, lambda event: event.epoch == again.epoch, timeout=60)
        assert on_counsellor.safety_code == again.safety_code
        await visitor.send_text("after")
        assert (await counsellor.wait_for(MessageReceived, lambda event: event.epoch == again.epoch)).text == "after"
        await counsellor.send_text(chat, "welcome back")
        assert (await visitor.wait_for(MessageReceived, lambda event: event.epoch == again.epoch)).text == (
            "welcome back")

        await visitor.leave()
        assert (await counsellor.wait_for(ChatEnded, lambda event: event.chat == chat)).by == "visitor"
        assert chat_rows(server) == 0
    finally:
        await visitor.close()
        await counsellor.close()


async def test_no_ghost_chats_after_a_restart(tmp_path: Any) -> None:
    """Issue 13, repro 9: queued chats whose visitors vanished in a restart neither hold places nor show in the
    counsellors' list, and are gone after the resume grace; a visitor who does come back keeps their chat."""
    server = make_live_server(tmp_path, HELPLINE_QUICK_EXIT_URL="about:blank", HELPLINE_RESUME_GRACE_SECONDS="10")
    server.start()
    visitors = [VisitorClient(server.base_url, org_public_key=server.org_public_key) for _ in range(4)]
    try:
        for visitor in visitors:
            await visitor.join("en")
            await visitor.wait_for(Queued)
        server.restart()
        for visitor in visitors:
            await visitor.wait_for(SocketClosed, timeout=30)
        assert chat_rows(server) == 4
        # One of them comes back; three never do.
        returning = visitors[0]
        await returning.resume()
        assert (await returning.wait_for(Queued, timeout=30)).position == 1, "nobody ahead of them any more"
        newcomer = VisitorClient(server.base_url, org_public_key=server.org_public_key)
        visitors.append(newcomer)
        await newcomer.join("en")
        assert (await newcomer.wait_for(Queued, timeout=30)).position == 2
        counsellor = await server.available_counsellor()
        listing = await counsellor.wait_for(QueueChanged, timeout=30)
        assert sorted(entry["chat"] for entry in listing.chats) == sorted([returning.chat, newcomer.chat])
        await counsellor.set_available(False)
        # After the grace, the three are ended (counted as abandoned), the two here stay.
        for _ in range(400):  # the grace, then the next tick of the server's clock (5 s)
            if chat_rows(server) == 2:
                break
            await asyncio.sleep(0.1)
        assert chat_rows(server) == 2
        await counsellor.close()
    finally:
        for visitor in visitors:
            await visitor.close()
        server.stop()
